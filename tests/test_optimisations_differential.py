"""Each speed-up of issue 17 against the plain form it replaces, on every benchmark mix (real
public records shaped as splunkd sends them, tools/real_streams.py) and the rule test events:
the compiled conditions against a direct reading of the rule documents, the cmdlet name
pre-check against the regex alone, the allowlist index against a walk over every row. The
protocol-level comparison of the record paths on the same mixes is in tests/test_fastpath.py.
"""

import re

import pytest

from app.conditions import _items, _number
from app.normalise import cmdlet_text, normalise
from app.values import as_text, is_true
from tests.conftest import copy_app_root, whole_reading
from tools.bench import make_records
from tests.helpers import MIXES, mix_records, rule_test_records
from tests.test_powershell_commands import CASES as POWERSHELL_CASES, variants


def reference(spec, event, settings):
    """A rule condition read directly from its document, as app/conditions.py documents it."""
    if "field" not in spec:
        (combinator, body), = spec.items()
        if combinator == "not":
            return not reference(body, event, settings)
        results = [reference(item, event, settings) for item in body]
        return all(results) if combinator == "all" else any(results)
    path = spec["field"]
    (operator, operand), = ((k, v) for k, v in spec.items() if k != "field")
    value = event.value(path.lower() if path.split(".")[0] in ("param", "prop", "extra") else path)
    items = [as_text(item) for item in _items(value)]
    lowered = [item.lower() for item in items]
    wanted = [str(x).lower() for x in (operand if isinstance(operand, list) else [operand])] \
        if not isinstance(operand, (bool, dict)) else None
    if operator == "equals":
        return any(item == wanted[0] for item in lowered)
    if operator == "in":
        return any(item in wanted for item in lowered)
    if operator == "nonempty":
        return any(item.strip() for item in lowered) == bool(operand)
    if operator == "is_true":
        return is_true(value) == bool(operand)
    if operator == "contains_any":
        return any(needle in item for item in lowered for needle in wanted)
    if operator == "startswith_any":
        return any(item.startswith(tuple(wanted)) for item in lowered)
    if operator == "endswith_any":
        return any(item.endswith(tuple(wanted)) for item in lowered)
    if operator == "matches":
        return any(re.search(str(operand), item) for item in items)
    limit = float(settings[operand["setting"].lower()]) if isinstance(operand, dict) else float(operand)
    numbers = [_number(item) for item in lowered]
    if operator == "gte":
        return any((n if n is not None else float("-inf")) >= limit for n in numbers)
    return any((n if n is not None else float("inf")) <= limit for n in numbers)


@pytest.mark.parametrize("source", MIXES + ("light", "rule_tests"))
def test_compiled_conditions_decide_as_the_rule_documents_read(engine, source):
    from app.rules import read_rule_documents
    from app.settings import load_site_config
    from tests.conftest import REPO
    documents = {doc["id"]: doc for doc in read_rule_documents(REPO + "/app/rules")}
    settings = load_site_config(REPO, engine.problems).thresholds
    records = {"light": lambda: make_records(5, 1500, 0.05), "rule_tests": rule_test_records}.get(
        source, lambda: mix_records(source))()
    decided = matched = 0
    context = whole_reading(engine.context)   # every endpoint event too, not only those its gate lets by
    for record in records:
        for event in normalise(record, context):
            for rule in engine.rules:
                document = documents[rule.id]
                assert rule.matches(event) == reference(document["match"], event, settings), (rule.id, event)
                for escalation, spec in zip(rule.escalations, document.get("escalate", ()) or ()):
                    assert escalation.condition(event) == reference(spec["when"], event, settings)
                decided += 1
                matched += rule.matches(event)
    assert decided and (matched or source == "endpoint")


@pytest.mark.parametrize("source", ("endpoint", "rule_tests"))
def test_cmdlet_name_check_finds_every_call_the_regex_finds(engine, monkeypatch, source):
    records = rule_test_records() if source == "rule_tests" else mix_records(source)
    texts = [as_text(record.get(name)) for record in records
             for name in ("CommandLine", "ScriptBlockText", "Message", "_raw", "process")]
    texts += ["NEW-INBOXRULE -ForwardTo x@y", "new\u017fInboxRule", "Set-Mailbox\u212a"]
    # Every way the PowerShell reader finds a name not written whole (escapes, joined pieces,
    # aliases, Invoke-Expression, command lines), and variants of each.
    texts += [script for script, _ in POWERSHELL_CASES]
    texts += [variants(script, seed) for script, _ in POWERSHELL_CASES for seed in range(4)]
    pattern = engine.context.cmdlet_pattern
    checked = [cmdlet_text.find_invocations(text, pattern) for text in texts]
    monkeypatch.setattr(cmdlet_text, "_ASCII_NAMES", {})
    assert checked == [cmdlet_text.find_invocations(text, pattern) for text in texts]
    assert any(checked)


class _Walk:
    """The allowlist as it was matched before the index: every row, in file order."""

    def __init__(self, rows):
        self.rows = rows

    def first_applying(self, rule_id, event, when):
        for row in self.rows:
            if row.applies(rule_id, event, when):
                return row
        return None


def _suppressions(engine, records):
    return [(f.rule.id, f.suppressed_by, f.status) for record in records for f in engine.findings(record)]


@pytest.mark.parametrize("mix", ("tenant", "mail_items_accessed"))
def test_allowlist_index_suppresses_as_the_walk_does(tmp_path, mix):

    from app.engine import Engine
    from tools.bench import allowlist_rows
    records = mix_records(mix, 800)
    root = tmp_path / "app_root"
    copy_app_root(root, parts=(("app",),))   # as before: no default/t1114.conf
    users = sorted({r.get("UserId", "") for r in records if "@" in r.get("UserId", "")})
    rows = allowlist_rows(1000, wildcard_only=False).splitlines()
    rows[300:300] = ["%s,,,,bench exact user" % users[0], "%s*,t1114_002_*,,,bench pattern" % users[1][:5],
                     "*%s,,,,bench tail" % users[2][2:]]
    (root / "lookups" / "t1114_allowlist_accounts.csv").write_text("\n".join(rows) + "\n")
    indexed = Engine.load(str(root))
    walked = Engine.load(str(root))
    walked._allowlist_index = _Walk(walked.allowlist_rows)
    found = _suppressions(indexed, records)
    assert found == _suppressions(walked, records)
    suppressed = [rule for rule, by, status in found if status == "suppressed"]
    assert suppressed and len(suppressed) < len(found)


class _NoProbe:
    """The engine with the record path's pre-build probe answering "build it and see" always."""

    def __init__(self, engine):
        self._engine = engine
        self.findings = engine.findings

    @staticmethod
    def no_rule_wants(sourcetype, operation):
        return False


def _chunk_output(engine, records, keep_all):
    import io

    from t1114_protocol.chunk_csv import ChunkWriter, annotate_chunk
    from tools.chunked_client import encode_records
    writer = ChunkWriter()
    body = encode_records(records)
    annotate_chunk(io.StringIO(body.decode("utf-8") if isinstance(body, bytes) else body, newline="\n"),
                   engine, writer, keep_all)
    return bytes(writer.body())


@pytest.mark.parametrize("source", MIXES + ("light", "rule_tests", "edge"))
def test_probe_skips_only_rows_without_findings_and_changes_no_output(engine, source):
    """Engine.no_rule_wants (rows decided from their sourcetype and Operation cells, no record
    built): every row it skips has no finding with or without allowlists, and a chunk's output is
    byte-identical with the probe and without it, in mode=all and mode=findings."""
    edge = [
        {"sourcetype": "o365:management:activity", "Operation": "", "_raw": '{"Operation":"New-InboxRule"}'},
        {"sourcetype": "O365:Management:Activity", "Operation": "Set-Mailbox", "Parameters{}.Name": "ForwardingSmtpAddress",
         "Parameters{}.Value": "x@evil.example", "_raw": ""},
        {"sourcetype": ["o365:management:activity", "x"], "Operation": "UserLoggedIn"},
        {"sourcetype": "o365:management:activity", "Operation": ["UserLoggedIn", "New-InboxRule"]},
        {"sourcetype": "ms365:defender", "Operation": "FileAccessed"},
        {"sourcetype": "WinEventLog", "Operation": "UserLoggedIn", "EventCode": "4688",
         "CommandLine": "powershell New-InboxRule -ForwardTo x@evil.example"},
    ]
    records = {"light": lambda: make_records(5, 1500, 0.05), "rule_tests": rule_test_records,
               "edge": lambda: edge}.get(source, lambda: mix_records(source))()
    skipped = 0
    for record in records:
        sourcetype, operation = record.get("sourcetype", ""), record.get("Operation", "")
        if isinstance(sourcetype, str) and isinstance(operation, str) and engine.no_rule_wants(sourcetype, operation):
            skipped += 1
            assert engine.findings(record, True) == [] and engine.findings(record, False) == [], record
    if source in ("tenant", "light", "edge"):
        assert skipped
    for keep_all in (True, False):
        assert _chunk_output(engine, records, keep_all) == _chunk_output(_NoProbe(engine), records, keep_all)


def _rule_patterns():
    from app.rules import read_rule_documents
    from tests.conftest import REPO

    def walk(node):
        if isinstance(node, dict):
            if "matches" in node:
                yield node["matches"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)
    return sorted({pattern for document in read_rule_documents(REPO + "/app/rules") for pattern in walk(document)})


@pytest.mark.parametrize("source", MIXES + ("light", "rule_tests"))
def test_regex_literal_precheck_rules_out_only_texts_the_regex_does_not_match(engine, source):
    """app/regex_literals.py: where the pre-check says no, the pattern's search finds nothing,
    for every rule's `matches` pattern, on every text of the mix and its normalised events."""
    from app.regex_literals import prefilter
    records = {"light": lambda: make_records(5, 1500, 0.05), "rule_tests": rule_test_records}.get(
        source, lambda: mix_records(source, 600))()
    texts = {as_text(value) for record in records for value in record.values()}
    context = whole_reading(engine.context)
    for record in records:
        for event in normalise(record, context):
            texts.add(as_text(event.text))
            texts.update(as_text(value) for value in event.extra.values())
    texts.update(("C:\\x.PST", "C:\\x.p\u017ft", "rob\u00f6copy ROBOCOPY.exe", "\u212a7z", "7Z.EXE", "a.OST b",
                  "INVOKE-SELFSEARCH", "Invoke-SelfSearch -x", "\\\\server\\share", "GetNameSpace ( 'MAPI'"))
    patterns = [re.compile(pattern) for pattern in _rule_patterns()]
    checked = 0
    for pattern in patterns:
        may_match = prefilter(pattern)
        assert may_match is not None, pattern.pattern   # every shipped pattern names its words
        for text in texts:
            if not may_match(text):
                assert pattern.search(text) is None, (pattern.pattern, text)
                checked += 1
    assert checked


@pytest.mark.parametrize("pattern, text", [
    (r"a|.*", "zzz"), (r"(?i:pst)x", "PSTx"), (r"x?", ""), (r"(?s)a.b", "a\nb"), (r"[^a]bc", "xbc"),
    (r"(|pst)", "q"), (r"\d+", "42"),
])
def test_regex_literal_precheck_declines_or_agrees_on_awkward_patterns(pattern, text):
    from app.regex_literals import prefilter
    compiled = re.compile(pattern)
    may_match = prefilter(compiled)
    assert may_match is None or may_match(text) or compiled.search(text) is None
    assert prefilter(re.compile(r"(?i)\.(pst|ost)"))("C:\\x.p\u017ft")   # non-ASCII: always searched
    assert not prefilter(re.compile(r"(?i)\.(pst|ost)"))("C:\\x.txt")
