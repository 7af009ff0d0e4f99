"""The built app's `| t1114` command over the chunked protocol, fed Windows endpoint events
with vendor field names, CIM names and `| tstats` prefixes, as splunkd would send them."""

import json
import os
import sys

import pytest

from tests.conftest import shipped_lookup_path
from tools.chunked_client import run, script_path

PYTHON = sys.executable

SYSMON_ROBOCOPY = {
    "_time": "1764216000", "sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational",
    "EventCode": "1", "Computer": "ws-017.contoso.com", "User": "CONTOSO\\bob",
    "Image": "C:\\Windows\\System32\\Robocopy.exe", "ParentImage": "C:\\Windows\\System32\\cmd.exe",
    "CommandLine": "robocopy C:\\Users\\bob\\AppData\\Local\\Microsoft\\Outlook \\\\files01\\drop$ bob.ost",
}
SECURITY_READ_MASQUERADE = {
    "_time": "1764216000", "sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Security", "EventCode": "4663",
    "Computer": "ws-017.contoso.com", "SubjectUserName": "bob", "SubjectDomainName": "CONTOSO",
    "ObjectName": "C:\\Users\\bob\\Documents\\Outlook Files\\bob.pst",
    "ProcessName": "C:\\Users\\Public\\MsMpEng.exe", "AccessList": "%%4416", "AccessMask": "0x1",
}
SECURITY_READ_DEFENDER = dict(SECURITY_READ_MASQUERADE, ProcessName=(
    "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.25010.7-0\\MsMpEng.exe"))
CIM_FILESYSTEM_TSTATS = {
    "Filesystem.file_path": "C:\\Windows\\Temp\\m.pst", "Filesystem.file_name": "m.pst",
    "Filesystem.process_path": "C:\\Windows\\System32\\cmd.exe", "Filesystem.action": "created",
    "Filesystem.dest": "ws-044", "count": "3",
}
CIM_PROCESSES = {
    "process": "7z.exe a C:\\Users\\Public\\x.7z C:\\Users\\dave\\Documents\\Outlook Files\\dave.pst",
    "process_name": "7z.exe", "process_path": "C:\\Program Files\\7-Zip\\7z.exe",
    "parent_process_name": "cmd.exe", "user": "CONTOSO\\dave", "dest": "ws-033",
}
SHARE_5145 = {
    "sourcetype": "XmlWinEventLog", "EventCode": "5145", "Computer": "files01", "SubjectUserName": "mallory",
    "IpAddress": "10.1.2.3", "ShareName": "\\\\*\\Users$", "RelativeTargetName": "bob\\Documents\\Outlook Files\\bob.pst",
    "AccessMask": "0x1",
}
SCRIPT_4104 = {
    "sourcetype": "XmlWinEventLog", "EventCode": "4104", "Computer": "ws-017",
    "ScriptBlockText": "$o = New-Object -ComObject Outlook.Application; $o.GetNamespace('MAPI').GetDefaultFolder(6).Items",
}
# An Office 365 record in the same chunk gives every endpoint record empty Operation/Workload columns.
O365_FORWARD = {
    "sourcetype": "o365:management:activity", "Operation": "Set-Mailbox", "Workload": "Exchange", "RecordType": "1",
    "UserId": "admin@contoso.com", "ObjectId": "ceo", "Parameters{}.Name": ["Identity", "ForwardingSmtpAddress"],
    "Parameters{}.Value": ["ceo", "smtp:drop@exfil.example"], "ForwardingSmtpAddress": "smtp:drop@exfil.example",
}
NOISE = {"sourcetype": "XmlWinEventLog", "EventCode": "1", "Image": "C:\\Windows\\System32\\notepad.exe",
         "CommandLine": "notepad.exe C:\\notes.txt", "Computer": "ws-1"}


@pytest.fixture(scope="module")
def results(built_app):
    records = [SYSMON_ROBOCOPY, SECURITY_READ_MASQUERADE, SECURITY_READ_DEFENDER, CIM_FILESYSTEM_TSTATS,
               CIM_PROCESSES, SHARE_5145, SCRIPT_4104, NOISE, O365_FORWARD]
    outcome = run(script_path(built_app), [dict(r) for r in records], args=["mode=all"], python=PYTHON)
    assert outcome["exit_code"] == 0, outcome["stderr"]
    assert len(outcome["records"]) == len(records)
    return outcome["records"]


def test_vendor_sysmon_process(results):
    out = results[0]
    assert (out["t1114_rule"], out["t1114_severity"], out["mitre_technique_id"]) == (
        "t1114_001_mail_file_command_line", "high", "T1114.001")
    assert out["user"] == "CONTOSO\\bob" and out["dest"] == "ws-017.contoso.com"


def test_masquerade_and_allowlisted_reader(results):
    masquerade, defender = results[1], results[2]
    assert masquerade["t1114_status"] == "finding" and masquerade["t1114_severity"] == "high"
    assert "masquerades" in masquerade["t1114_reason"]
    assert defender["t1114_status"] == "suppressed"
    shipped = os.path.basename(shipped_lookup_path("t1114_shipped_processes"))
    assert defender["t1114_suppressed_by"].startswith(shipped + " line ")
    assert " row defender_" in defender["t1114_suppressed_by"]


def test_cim_and_tstats_names(results):
    assert results[3]["t1114_rule"] == "t1114_001_mail_file_written_outside_outlook"
    assert results[3]["dest"] == "ws-044"
    assert results[4]["t1114_rule"] == "t1114_001_mail_file_command_line"
    assert results[4]["user"] == "CONTOSO\\dave"


def test_share_and_script_block(results):
    assert results[5]["t1114_rule"] == "t1114_001_mail_file_share_access" and results[5]["src"] == "10.1.2.3"
    assert results[6]["t1114_rule"] == "t1114_001_outlook_automation_script"


def test_noise_passes_unannotated(results):
    assert results[7]["t1114_status"] == ""


def test_o365_record_in_the_same_chunk(results):
    assert "t1114_003_mailbox_forwarding" in [f["rule"] for f in json.loads(results[8]["t1114_findings"])]


def test_findings_mode_keeps_only_unsuppressed(built_app):
    outcome = run(script_path(built_app), [dict(SECURITY_READ_DEFENDER), dict(SECURITY_READ_MASQUERADE), dict(NOISE)],
                  python=PYTHON)
    assert outcome["exit_code"] == 0, outcome["stderr"]
    assert [r["ProcessName"] for r in outcome["records"]] == [SECURITY_READ_MASQUERADE["ProcessName"]]


def test_allowlist_false_reports_suppressed_reads(built_app):
    outcome = run(script_path(built_app), [dict(SECURITY_READ_DEFENDER)], args=["allowlist=false"], python=PYTHON)
    assert outcome["exit_code"] == 0, outcome["stderr"]
    assert outcome["records"][0]["t1114_rule"] == "t1114_001_mail_file_read"
