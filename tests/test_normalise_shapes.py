"""The issue-12 readers one by one, on the engine: classic WinEventLog text (including the
Sysmon channel and logons), the CmdletLogs `<string>` items, Graph request paths and Defender
XDR rows. The command-level proof is tests/test_protocol_sources.py."""

from app.normalise import normalise
from app.normalise.graph_activity import mail_request
from app.normalise.message_tracking import COLUMNS, _row_from_raw, transport_rule_entries
from app.normalise.windows_classic import classic_fields, looks_like_classic


CLASSIC_SYSMON = "\r\n".join([
    "12/01/2026 04:00:00 AM", "LogName=Microsoft-Windows-Sysmon/Operational", "EventCode=1", "EventType=4",
    "ComputerName=ws-017.contoso.com", "User=NOT_TRANSLATED", "Sid=S-1-5-18", "SidType=0",
    "SourceName=Microsoft-Windows-Sysmon", "Type=Information", "RecordNumber=1", "Keywords=None",
    "TaskCategory=Process Create (rule: ProcessCreate)", "OpCode=Info", "Message=Process Create:",
    "RuleName: -", "UtcTime: 2026-12-01 04:00:00.000", "ProcessGuid: {1}", "ProcessId: 4242",
    r"Image: C:\Windows\System32\Robocopy.exe",
    r'CommandLine: robocopy "C:\Users\bob\AppData\Local\Microsoft\Outlook" \\files01\drop$ bob.ost',
    r"CurrentDirectory: C:\Users\bob\\", r"User: CONTOSO\bob", r"ParentImage: C:\Windows\System32\cmd.exe"])

CLASSIC_4624 = "\r\n".join([
    "12/01/2026 04:00:00 AM", "LogName=Security", "EventCode=4624", "EventType=0", "ComputerName=exch01",
    "SourceName=Microsoft Windows security auditing.", "Type=Information", "Message=An account was successfully logged on.",
    "", "Subject:", "\tSecurity ID:\t\tNULL SID", "\tAccount Name:\t\t-", "\tAccount Domain:\t\t-", "",
    "New Logon:", "\tSecurity ID:\t\tS-1-5-21-1", "\tAccount Name:\t\tjdoe", "\tAccount Domain:\t\tCONTOSO", "",
    "Network Information:", "\tWorkstation Name:\tRULER", "\tSource Network Address:\t198.51.100.66", "",
    "Detailed Authentication Information:", "\tLogon Process:\t\tNtLmSsp"])


def test_classic_text_keys_are_the_add_on_names():
    fields = classic_fields(CLASSIC_4624)
    assert fields["EventCode"] == "4624" and fields["ComputerName"] == "exch01"
    assert fields["Account_Name"] == ["-", "jdoe"] and fields["Workstation_Name"] == "RULER"
    assert fields["Source_Network_Address"] == "198.51.100.66"
    assert "Subject" not in fields and "New_Logon" not in fields   # section titles are not keys


def test_classic_sysmon_with_only_raw_is_read(engine):
    record = {"sourcetype": "WinEventLog", "source": "WinEventLog:Microsoft-Windows-Sysmon/Operational",
              "_raw": CLASSIC_SYSMON}
    findings = engine.detect(record, use_allowlist=False)
    assert [f.rule.id for f in findings] == ["t1114_001_mail_file_command_line"]
    assert findings[0].event.actor == "CONTOSO\\bob" and findings[0].event.dest == "ws-017.contoso.com"


def test_classic_sysmon_fields_with_the_header_user_beside_the_real_one(engine):
    """The add-on extracts both `User=NOT_TRANSLATED` (header) and `User: CONTOSO\\bob` (message)."""
    record = dict(classic_fields(CLASSIC_SYSMON), sourcetype="WinEventLog",
                  source="WinEventLog:Microsoft-Windows-Sysmon/Operational", User=["NOT_TRANSLATED", "CONTOSO\\bob"])
    (finding,) = engine.detect(record, use_allowlist=False)
    assert finding.event.actor == "CONTOSO\\bob"


def test_classic_logon_with_only_raw_names_the_account_logged_on(engine):
    record = {"sourcetype": "WinEventLog", "source": "WinEventLog:Security", "_raw": CLASSIC_4624}
    (finding,) = engine.detect(record, use_allowlist=False)
    assert finding.rule.id == "t1114_002_ruler_logon" and finding.event.actor == "jdoe"
    assert finding.event.src == "198.51.100.66"


def test_classic_is_recognised_by_its_header_without_a_sourcetype():
    assert looks_like_classic({"_raw": CLASSIC_4624}, "", "")
    assert not looks_like_classic({"_raw": "<Event><System><EventID>4624</EventID></System></Event>"}, "", "")
    assert not looks_like_classic({"_raw": CLASSIC_4624, "EventCode": "4624"}, "", "")


def test_a_huge_classic_message_is_read_only_at_its_head():
    record = {"sourcetype": "WinEventLog", "_raw": CLASSIC_4624 + "\r\n\tNote:\t" + "x: " * 500000}
    fields = classic_fields(record["_raw"])
    assert fields["Workstation_Name"] == "RULER" and len(str(fields)) < 20000


def test_graph_request_paths():
    assert mail_request("https://graph.microsoft.com/v1.0/users/ceo@contoso.com/mailFolders/inbox/messages?$top=5") == (
        "ceo@contoso.com", "messages")
    assert mail_request("https://graph.microsoft.com/beta/users/x/messages/AAMk=/$value") == ("x", "message_content")
    assert mail_request("https://graph.microsoft.com/v1.0/me/messages/AAMk/attachments/1") == ("me", "attachments")
    assert mail_request("https://graph.microsoft.com/v1.0/users/x/mailFolders") is None
    assert mail_request("https://graph.microsoft.com/v1.0/users/x/sendMail") is None
    assert mail_request("https://graph.microsoft.com/v1.0/groups/g/conversations/c/threads/t/posts") is None
    assert mail_request("https://graph.microsoft.com/v1.0/users/x/messagesX") is None


def test_transport_rule_entries_keep_only_enforced_actions():
    custom = ("S:AMA=SUM|action=|atch=0;S:TRA=ETR|ruleId=r1|action=BlindCopyTo|mode=Enforce;"
              "S:TRA=ETR|ruleId=r2|action=RedirectMessage|mode=Audit;S:TRA=ETRP|ruleId=r1|ExecW=5")
    assert transport_rule_entries(custom) == (("r1",), ("blindcopyto",))


def test_defender_rows_without_a_category_are_read_by_their_columns(engine):
    row = {"ActionType": "FileCreated", "DeviceName": "ws-017", "FolderPath": r"C:\Users\Public\bob.pst",
           "FileName": "bob.pst", "InitiatingProcessFolderPath": r"C:\Windows\System32", "InitiatingProcessFileName":
           "robocopy.exe", "InitiatingProcessAccountDomain": "CONTOSO", "InitiatingProcessAccountName": "bob"}
    (event,) = normalise(row, engine.context)
    # FolderPath already ends with the file; InitiatingProcessFolderPath is a folder here and is joined.
    assert event.extra["file_path"] == r"C:\Users\Public\bob.pst"
    assert event.extra["process_path"] == r"C:\Windows\System32\robocopy.exe" and event.actor == "CONTOSO\\bob"
    assert normalise(dict(row, ActionType="FileDeleted"), engine.context) == []


def test_a_message_tracking_line_holding_nul_is_still_split_into_its_columns():
    """Python 3.9's csv module refuses NUL; the line is read as 3.11 and later read it."""
    cells = ["cell%d" % index for index in range(len(COLUMNS))]
    cells[COLUMNS.index("event-id")] = "RECEIVE"
    cells[COLUMNS.index("message-subject")] = "quarterly\x00report"
    row = _row_from_raw(",".join(cells))
    assert row["event-id"] == "RECEIVE" and row["message-subject"] == "quarterly\x00report"
    assert list(row) == list(COLUMNS)
