"""Broken lookup files: each fault gives one clear warning naming file and line, and every
other row still applies. Wildcards in rows cannot make matching slow: counted in character
comparisons and steps (tests/wildcard_work.py, tools/step_count.py), never timed."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.allowlist import ACCOUNTS, ORG_DOMAINS_FILE
from app.wildcard import MAX_PATTERN_CHARS, Wildcard
from tests.conftest import without_unsigned
from tests.rule_events import all_cases, presentations
from tests.wildcard_work import PieceCalls, match_work, piece_regexes_cannot_backtrack
from tools.step_count import count_steps

ALLOW = ACCOUNTS.filename
HEADER = ",".join(ACCOUNTS.columns)


@pytest.fixture(scope="module")
def finding_case():
    """(rule id, record, actor) of a rule test event whose finding names an actor."""
    from app.engine import Engine
    from tests.conftest import REPO

    engine = Engine.load(REPO)
    for rule_id, polarity, case in all_cases():
        if polarity != "positive":
            continue
        for _, record in presentations(case):
            findings = engine.detect(record)  # shipped allowlists on: the case must not be allowlisted already
            if len(findings) != 1 or findings[0].suppressed_by:
                continue
            actor = findings[0].event.actor
            if findings[0].rule.id == rule_id and actor and "," not in actor and actor.strip() == actor:
                return rule_id, record, actor
    pytest.skip("no rule test event with an actor")


def _status(engine, record):
    annotated = dict(record)
    engine.annotate(annotated)
    return annotated["t1114_status"]


def _warnings(engine):
    return without_unsigned(engine.problems.messages())


def _rows(engine):
    """Rows loaded from the file under test (other allowlists may ship rows of their own)."""
    return [row for row in engine.allowlist_rows if row.filename == ALLOW]


def _one_warning_about(engine, *words):
    found = [m for m in _warnings(engine) if all(w in m for w in words)]
    assert len(found) == 1, "expected one warning with %s, got %s" % (words, _warnings(engine))
    return found[0]


def _row(actor, rule_id, valid_from="", valid_until="", reason="service account"):
    return "%s,%s,%s,%s,%s" % (actor, rule_id, valid_from, valid_until, reason)


def test_good_row_suppresses(engine_with_lookups, finding_case):
    rule_id, record, actor = finding_case
    engine = engine_with_lookups({ALLOW: HEADER + "\n" + _row(actor, rule_id) + "\n"})
    assert _status(engine, record) == "suppressed"
    assert not [m for m in _warnings(engine) if ALLOW in m]


def test_missing_site_allowlist_file_is_a_fresh_install(engine_with_lookups, finding_case):
    # The package ships no site lookup: until the first | outputlookup there is no file, and
    # that is not a fault to warn about on every search.
    rule_id, record, actor = finding_case
    engine = engine_with_lookups({})
    assert not [m for m in _warnings(engine) if ALLOW in m]
    assert _status(engine, record) == "finding"


def test_missing_shipped_allowlist_file_is_reported(engine_with_lookups, finding_case, tmp_path):
    rule_id, record, actor = finding_case
    engine_with_lookups({ALLOW: HEADER + "\n" + _row(actor, rule_id) + "\n"})
    import os
    from app.engine import Engine
    from app.problems import ProblemLog
    from tests.conftest import shipped_lookup_path
    shipped = os.path.basename(shipped_lookup_path(ACCOUNTS.shipped_definition))
    os.remove(str(tmp_path / "approot" / "lookups" / shipped))
    engine = Engine.load(str(tmp_path / "approot"), ProblemLog())
    _one_warning_about(engine, shipped, "is missing")
    assert _status(engine, record) == "suppressed"  # the site's rows still apply


def test_missing_org_domains_file(engine_with_lookups, finding_case):
    rule_id, record, actor = finding_case
    engine = engine_with_lookups({ALLOW: HEADER + "\n" + _row(actor, rule_id) + "\n"})
    _one_warning_about(engine, ORG_DOMAINS_FILE, "no domains yet")
    assert _status(engine, record) == "suppressed"  # the allowlist still applies


def test_wrong_header_names_the_missing_columns(engine_with_lookups, finding_case):
    rule_id, record, actor = finding_case
    engine = engine_with_lookups({
        ALLOW: "account,rules,valid_from,valid_until\n" + "%s,%s,," % (actor, rule_id) + "\n",
        ORG_DOMAINS_FILE: "domain,description\ncontoso.com,x\n"})
    message = _one_warning_about(engine, ALLOW, "reason")
    assert "lacks the column" in message and HEADER in message
    assert _status(engine, record) == "finding"
    assert engine.org_domains.contains("contoso.com")  # the other lookup still applies


def test_header_in_other_case_and_spacing_is_accepted(engine_with_lookups, finding_case):
    rule_id, record, actor = finding_case
    header = " Account , RULES,valid_from ,Valid_Until,reason"
    engine = engine_with_lookups({ALLOW: header + "\n" + _row(actor, rule_id) + "\n"})
    assert _status(engine, record) == "suppressed"


@pytest.mark.parametrize("valid_from,valid_until,column", [
    ("2026-02-30", "", "valid_from"),
    ("", "next tuesday", "valid_until"),
    ("", "2026-13-01", "valid_until"),
    ("20/11/2026", "", "valid_from"),
])
def test_bad_date_skips_only_its_row(engine_with_lookups, finding_case, valid_from, valid_until, column):
    rule_id, record, actor = finding_case
    engine = engine_with_lookups({ALLOW: "\n".join([
        HEADER,
        _row("someone.else@contoso.com", rule_id),
        _row(actor, rule_id, valid_from, valid_until),
        _row(actor, rule_id, reason="the good row"),
    ]) + "\n"})
    message = _one_warning_about(engine, ALLOW, "line 3")
    assert column in message and "not a date" in message
    assert _status(engine, record) == "suppressed"


def test_until_before_from(engine_with_lookups, finding_case):
    rule_id, record, actor = finding_case
    engine = engine_with_lookups({ALLOW: HEADER + "\n" + _row(actor, rule_id, "2026-12-01", "2026-01-01") + "\n"})
    assert "before" in _one_warning_about(engine, ALLOW, "line 2")
    assert _status(engine, record) == "finding"


@pytest.mark.parametrize("pattern,words", [
    ("*", "only wildcards"), ("**", "only wildcards"), ("?*", "only wildcards"), ("???", "only wildcards"),
    ("a" * (MAX_PATTERN_CHARS + 1), "longer than"),
])
def test_bad_wildcard_skips_only_its_row(engine_with_lookups, finding_case, pattern, words):
    rule_id, record, actor = finding_case
    engine = engine_with_lookups({ALLOW: "\n".join([HEADER, _row(pattern, rule_id), _row(actor, rule_id)]) + "\n"})
    _one_warning_about(engine, ALLOW, "line 2", words)
    assert len(_rows(engine)) == 1
    assert _status(engine, record) == "suppressed"


def test_wildcard_row_applies(engine_with_lookups, finding_case):
    rule_id, record, actor = finding_case
    pattern = "?" + actor[1:-1] + "*"
    engine = engine_with_lookups({ALLOW: HEADER + "\n" + _row(pattern, rule_id[:5] + "*") + "\n"})
    assert _status(engine, record) == "suppressed"


@pytest.mark.parametrize("encode,warns", [
    (lambda text: b"\xef\xbb\xbf" + text.encode("utf-8"), None),                       # BOM
    (lambda text: text.replace("\n", "\r\n").encode("utf-8"), None),                    # CRLF
    (lambda text: text.replace("\n", "\r").encode("utf-8"), None),                      # old Mac CR
    (lambda text: text.encode("utf-16"), "UTF-16"),                                     # Excel "Unicode text"
    (lambda text: text.replace("service", "servic\xe9").encode("latin-1"), "not UTF-8"),
    (lambda text: text.replace("\n", "\x00\n", 1).encode("utf-8"), "NUL"),
])
def test_encodings_and_line_ends(engine_with_lookups, finding_case, encode, warns):
    rule_id, record, actor = finding_case
    text = "\n".join([HEADER, _row("someone.else@contoso.com", rule_id), _row(actor, rule_id)]) + "\n"
    engine = engine_with_lookups({ALLOW: encode(text)})
    mine = [m for m in _warnings(engine) if ALLOW in m]
    if warns is None:
        assert mine == []
    else:
        assert len(mine) == 1 and warns in mine[0]
    assert len(_rows(engine)) == 2
    assert _status(engine, record) == "suppressed"


def test_duplicate_row_is_reported_and_harmless(engine_with_lookups, finding_case):
    rule_id, record, actor = finding_case
    engine = engine_with_lookups({ALLOW: "\n".join([HEADER, _row(actor, rule_id), _row(actor.upper(), rule_id)]) + "\n"})
    assert "repeats line 2" in _one_warning_about(engine, ALLOW, "line 3")
    assert _status(engine, record) == "suppressed"


def test_conflicting_rows_are_reported_and_either_applies(engine_with_lookups, finding_case):
    rule_id, record, actor = finding_case
    engine = engine_with_lookups({ALLOW: "\n".join([
        HEADER,
        _row(actor, rule_id, "2000-01-01", "2000-12-31", "migration, long over"),
        _row(actor, rule_id, "", "", "service account"),
    ]) + "\n"})
    assert "different dates or reasons" in _one_warning_about(engine, ALLOW, "lines 2 and 3")
    assert _status(engine, record) == "suppressed"  # the second row is in force


def test_row_without_reason_or_key_and_extra_cells(engine_with_lookups, finding_case):
    rule_id, record, actor = finding_case
    engine = engine_with_lookups({ALLOW: "\n".join([
        HEADER,
        _row(actor, rule_id, reason=""),
        _row("", rule_id),
        _row(actor, rule_id) + ",extra,cells",
    ]) + "\n"})
    assert "reason" in _one_warning_about(engine, ALLOW, "line 2")
    assert "no value" in _one_warning_about(engine, ALLOW, "line 3")
    assert "more cells" in _one_warning_about(engine, ALLOW, "line 4")
    assert _status(engine, record) == "suppressed"


def test_org_domains_bad_rows(engine_with_lookups):
    engine = engine_with_lookups({ORG_DOMAINS_FILE: "\r\n".join([
        "\ufeffdomain,description", "*,everything", "bad domain,space", "a@b.com,address",
        "x" * 300 + ".com,too long", "contoso.com,good", "@fabrikam.example,leading at", ""])})
    for line in (2, 3, 4, 5):
        _one_warning_about(engine, ORG_DOMAINS_FILE, "line %d" % line)
    assert engine.org_domains.contains("mail.contoso.com")
    assert engine.org_domains.contains("fabrikam.example")


def test_every_kind_of_fault_in_one_file(engine_with_lookups, finding_case):
    """All at once: one warning per faulty line, the good row still applies."""
    rule_id, record, actor = finding_case
    rows = [HEADER, _row("*", rule_id), _row(actor, rule_id, "bad"), _row(actor, rule_id, reason=""),
            _row(actor, rule_id), _row(actor, rule_id)]
    engine = engine_with_lookups({ALLOW: b"\xef\xbb\xbf" + "\r\n".join(rows).encode("utf-8")})
    assert len([m for m in _warnings(engine) if ALLOW in m]) == 4
    assert _status(engine, record) == "suppressed"


# -- wildcards ---------------------------------------------------------------------------

def _reference_match(pattern, text):
    """Plain dynamic programming over (pattern, text), for comparison only."""
    pattern, text = pattern.strip().lower(), text.strip().lower()
    row = [True] + [False] * len(text)
    for char in pattern:
        if char == "*":
            for index in range(1, len(row)):
                row[index] = row[index] or row[index - 1]
        else:
            row = [False] + [row[i] and (char == "?" or char == text[i]) for i in range(len(text))]
    return row[-1]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.text(alphabet="ab?*.", max_size=12), st.text(alphabet="ab.", max_size=14))
def test_wildcard_agrees_with_reference(pattern, text):
    assert Wildcard(pattern).matches(text) == _reference_match(pattern, text)


HOSTILE_PATTERNS = [
    "*" + "a" * 1000 + "b*",
    "*" + "a?" * 500 + "b*",
    "*a" * 500 + "*b",
    "?" * 1023 + "b",
    "*" + "?a" * 511 + "*",
]


@pytest.mark.parametrize("pattern", HOSTILE_PATTERNS, ids=["literal-run", "question-runs", "many-stars",
                                                           "all-questions", "alternating"])
def test_wildcard_work_is_bounded_whatever_the_pattern(pattern):
    """Each piece is placed once, left to right, never retried: at most len(text) x len(pattern)
    comparisons, and twice the text costs at most twice the comparisons."""
    assert piece_regexes_cannot_backtrack(pattern)
    pieces = pattern.count("*") + 1
    for text in ("a" * 65536, "ab" * 32768, "a" * 65535 + "c"):
        _, calls, comparisons = match_work(pattern, text)
        assert calls <= pieces, (pattern[:20], text[:10])
        assert comparisons <= len(text) * len(pattern), (pattern[:20], text[:10])
        _, _, doubled = match_work(pattern, text + text)
        assert doubled <= 2 * comparisons + len(pattern) * pieces, (pattern[:20], text[:10])


def test_hostile_allowlist_keeps_events_cheap(engine_with_lookups, finding_case):
    """Fifty worst-case rows against events whose actor is 30 KB: each row is matched a bounded
    number of times per event, each match within its comparison bound, and the Python work is
    about that of fifty harmless rows.

    (30 KB, not 64: the actor may appear twice in _raw, and a _raw past the engine's 64 KB
    value limit is cut, so no longer JSON.)"""
    rule_id, record, actor = finding_case
    rows = [HEADER] + [_row(HOSTILE_PATTERNS[i % len(HOSTILE_PATTERNS)], "", reason="row %d" % i) for i in range(50)]
    engine = engine_with_lookups({ALLOW: "\n".join(rows) + "\n"})
    assert len(_rows(engine)) == 50
    harmless = [HEADER] + [_row("svc-%d@example.invalid" % i, "", reason="row %d" % i) for i in range(50)]
    harmless_engine = engine_with_lookups({ALLOW: "\n".join(harmless) + "\n"})
    slow_actor = "a" * 30000
    mangled = {k: (v.replace(actor, slow_actor) if isinstance(v, str) else v) for k, v in record.items()}
    assert engine.detect(mangled), "the mangled event should still give a finding"
    _status(engine, mangled)  # first call may compile or cache; count the second
    with PieceCalls() as recorded:
        _, steps = count_steps(_status, engine, mangled)
    _status(harmless_engine, mangled)
    _, harmless_steps = count_steps(_status, harmless_engine, mangled)
    longest_value = max(len(v) for v in mangled.values() if isinstance(v, str))
    pieces = sum(pattern.count("*") + 1 for pattern in HOSTILE_PATTERNS) * 10  # 50 rows, 5 patterns
    assert len(recorded.calls) <= 4 * pieces  # a row is tried against a few fields, not once per character
    assert recorded.comparisons <= len(recorded.calls) * longest_value * MAX_PATTERN_CHARS
    assert steps <= 2 * harmless_steps + 10000, "hostile allowlist patterns: %d steps against %d with harmless rows" % (
        steps, harmless_steps)
