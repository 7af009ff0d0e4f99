"""Allowlist bypasses (issue 27) through the real command as splunkd runs it: a path reaching past
an allowlisted folder, a drive-wildcard row, an app id borrowed through the client string and a
Discovery Management grant by a person each come out as findings, and the legitimate events
beside them stay suppressed; on each Python Splunk may run the command with."""

import json
import os
import shutil

import pytest

from tests.helpers import mail_store_read as read_event
from tests.helpers import python_for as _python
from tools.chunked_client import run, script_path

O365 = "o365:management:activity"
ARCHIVER = "4a5d3c2b-0000-4000-8000-00000000b001"
ROGUE = "9e1f7a20-0000-4000-8000-00000000e666"
TENANT = "EURPR01A002.prod.outlook.com/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com/"
PST = r"C:\Users\bob\Documents\Outlook Files\bob.pst"


def _ews_read(app_id, client):
    return {"_time": "1764216000", "sourcetype": O365, "_raw": json.dumps({
        "Operation": "MailItemsAccessed", "RecordType": 50, "Workload": "Exchange", "UserType": 0,
        "UserId": "pat@contoso.com", "MailboxOwnerUPN": "pat@contoso.com", "AppId": app_id, "ClientAppId": app_id,
        "ClientInfoString": "Client=WebServices;python-requests/2.31.0" + client, "OperationCount": 3})}


def _discovery_grant(actor, user_type):
    return {"_time": "1764216000", "sourcetype": O365, "_raw": json.dumps({
        "Operation": "Add-MailboxPermission", "RecordType": 1, "Workload": "Exchange", "UserType": user_type,
        "UserId": actor, "AppId": "", "ClientAppId": "",
        "ObjectId": TENANT + "DiscoverySearchMailbox{D919BA05-46A6-415f-80AD-7E09334BB852}",
        "Parameters": [{"Name": "DomainController", "Value": ""},
                       {"Name": "Identity", "Value": TENANT + "DiscoverySearchMailbox{D919BA05-46A6-415f-80AD-7E09334BB852}"},
                       {"Name": "User", "Value": TENANT + "Discovery Management"},
                       {"Name": "AccessRights", "Value": "FullAccess"}]})}


# (event, status it must get)
CASES = [
    (read_event(r"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.25010.7-0\..\..\..\..\..\Users\Public"
                r"\MsMpEng.exe", target=PST), "finding"),
    (read_event(r"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.25010.7-0\x\MsMpEng.exe", target=PST),
     "finding"),
    (read_event(r"\\?\C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.25010.7-0\MsMpEng.exe"), "suppressed"),
    (read_event(r"E:\Tools\pstscan.exe"), "finding"),         # the site's `?:\Tools\...` row is refused
    (read_event(r"C:\Tools\pstscan.exe"), "suppressed"),      # its `C:\Tools\...` row applies
    (_ews_read(ROGUE, "[AppId=%s];" % ARCHIVER), "finding"),
    (_ews_read(ARCHIVER, "[AppId=%s];" % ARCHIVER), "suppressed"),
    (_discovery_grant("admin@contoso.com", 2), "finding"),
    (_discovery_grant("NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)", 3), "suppressed"),
]
SITE_LOOKUPS = {
    "t1114_allowlist_processes.csv": "process_path,process_name,rules,reason,added_by,added_at\n"
                                     "?:\\Tools\\pstscan.exe,pstscan.exe,,e-discovery collector,ann,2026-12-01\n"
                                     "C:\\Tools\\pstscan.exe,pstscan.exe,,e-discovery collector,ann,2026-12-01\n",
    "t1114_allowlist_applications.csv": "app_id,name,rules,reason,added_by,added_at\n"
                                        "%s,Archiver,,journaling archive over EWS,ann,2026-12-01\n" % ARCHIVER,
}


@pytest.fixture(scope="module")
def app_with_site_rows(built_app, tmp_path_factory):
    app_dir = str(tmp_path_factory.mktemp("bypass") / os.path.basename(built_app))
    shutil.copytree(built_app, app_dir)
    for name, text in SITE_LOOKUPS.items():
        with open(os.path.join(app_dir, "lookups", name), "w", encoding="utf-8") as handle:
            handle.write(text)
    return app_dir


@pytest.mark.parametrize("version", [None, "3.9", "3.13"], ids=["current", "py3.9", "py3.13"])
def test_bypass_attempts_are_findings_and_legitimate_events_stay_suppressed(app_with_site_rows, version):
    result = run(script_path(app_with_site_rows), [dict(record) for record, _ in CASES], args=["mode=all"],
                 python=_python(version))
    assert result["exit_code"] == 0, result["stderr"][-2000:]
    assert [r["t1114_status"] for r in result["records"]] == [status for _, status in CASES]
    warnings = [text for level, text in result["messages"] if "t1114_allowlist_processes.csv line 2" in text]
    assert len(warnings) == 1 and "drive wildcard `?:`" in warnings[0] and "(C:\\Tools\\pstscan.exe)" in warnings[0]
    assert "masquerades" in result["records"][0]["t1114_reason"]
    assert " row discovery_management_grant (" in result["records"][8]["t1114_suppressed_by"]
