"""The T1114.002 detections through the real command script and the chunked protocol, on
each Python Splunk may run it with: findings come out for the new sources (Entra ID,
Windows logons, mailbox-audit reads), the shipped allowlist suppresses the system grant,
and a threshold set in the installed app's local/t1114.conf takes effect."""

import json
import os
import shutil

import pytest

from tests.helpers import python_for
from tools.chunked_client import run, script_path

O365 = "o365:management:activity"


def _mail_read(count):
    return {"_time": "1764216000", "sourcetype": O365, "_raw": json.dumps({
        "Operation": "MailItemsAccessed", "RecordType": 50, "Workload": "Exchange", "UserType": 0,
        "UserId": "pat@contoso.com", "MailboxOwnerUPN": "pat@contoso.com", "LogonType": 0,
        "ClientInfoString": "Client=REST;;", "OperationCount": count,
        "OperationProperties": [{"Name": "IsThrottled", "Value": "False"}]})}


RECORDS = [
    _mail_read(250),
    {"_time": "1764216001", "sourcetype": "azure:monitor:aad", "_raw": json.dumps({
        "operationName": "Sign-in activity", "category": "SignInLogs", "resultType": "0",
        "properties": {"userPrincipalName": "pat@contoso.com", "status": {"errorCode": 0},
                       "clientAppUsed": "IMAP4", "ipAddress": "198.51.100.7"}})},
    {"_time": "1764216002", "sourcetype": "XmlWinEventLog:Security", "EventCode": "4776",
     "_raw": "<Event><System><EventID>4776</EventID><Computer>dc01</Computer></System><EventData>"
             "<Data Name='TargetUserName'>jdoe</Data><Data Name='Workstation'>RULER</Data></EventData></Event>"},
    {"_time": "1764216003", "sourcetype": O365, "_raw": json.dumps({
        "Operation": "Add-MailboxPermission", "RecordType": 1, "Workload": "Exchange", "UserType": 3,
        "UserId": "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)",
        "Parameters": [{"Name": "Identity", "Value": "EURPR01A002.prod.outlook.com/Microsoft Exchange Hosted Organizations/"
                                                     "contoso.onmicrosoft.com/DiscoverySearchMailbox{D919BA05-46A6-415f-80AD-7E09334BB852}"},
                       {"Name": "User", "Value": "EURPR01A002.prod.outlook.com/Microsoft Exchange Hosted Organizations/"
                                                 "contoso.onmicrosoft.com/Discovery Management"},
                       {"Name": "AccessRights", "Value": "FullAccess"}]})},
    {"_time": "1764216004", "sourcetype": "XmlWinEventLog", "EventCode": "4104", "Computer": "exch01",
     "ScriptBlockText": "New-MailboxExportRequest -Mailbox ceo -FilePath \\\\fs01\\x\\ceo.pst"},
    {"_time": "1764216005", "sourcetype": O365, "_raw": json.dumps({"Operation": "UserLoggedIn", "RecordType": 15})},
]
EXPECTED = [
    ("finding", "t1114_002_mail_items_accessed_bulk"),
    ("finding", "t1114_002_legacy_protocol_signin"),
    ("finding", "t1114_002_ruler_logon"),
    ("suppressed", "t1114_002_mailbox_permission_grant"),  # a suppressed summary names its rule
    ("finding", "t1114_002_mailbox_export_request"),
    ("", ""),
]


@pytest.mark.parametrize("version", [None, "3.9", "3.13"], ids=["current", "py3.9", "py3.13"])
def test_remote_collection_through_the_protocol(built_app, version):
    result = run(script_path(built_app), RECORDS, args=["mode=all"], python=python_for(version))
    assert result["exit_code"] == 0, result["stderr"][-2000:]
    out = result["records"]
    assert [(r["t1114_status"], r["t1114_rule"]) for r in out] == EXPECTED
    assert out[3]["t1114_suppressed_rule"] == "t1114_002_mailbox_permission_grant"
    assert "Discovery Management" in out[3]["t1114_suppressed_by"]
    assert out[0]["mitre_technique_id"] == "T1114.002"
    assert out[2]["user"] == "jdoe" and out[2]["t1114_severity"] == "high"


def test_local_threshold_overrides_the_default(built_app, tmp_path):
    app_dir = str(tmp_path / os.path.basename(built_app))
    shutil.copytree(built_app, app_dir)
    os.makedirs(os.path.join(app_dir, "local"))
    with open(os.path.join(app_dir, "local", "t1114.conf"), "w") as handle:
        handle.write("[thresholds]\nmail_items_accessed_min_count = 500\n")
    result = run(script_path(app_dir), [_mail_read(250), _mail_read(600)], args=["mode=all"])
    assert [r["t1114_rule"] for r in result["records"]] == ["", "t1114_002_mail_items_accessed_bulk"]
