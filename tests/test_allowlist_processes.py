"""The processes allowlist (shipped rows in the lookup t1114_shipped_processes, site rows
in lookups/t1114_allowlist_processes.csv): every shipped row
suppresses its reader, a name alone never does, masquerades are raised, and service-account
rows need account, path and time window together."""

import csv
import os

import pytest

from app.allowlist import PROCESSES, ProcessIdentities, load_allowlist
from app.problems import ProblemLog
from tests.conftest import shipped_lookup_path, without_unsigned
from tests.helpers import mail_store_read as read_event

LOOKUP = shipped_lookup_path(PROCESSES.shipped_definition)
HEADER = "process_path,process_name,account,host,rules,valid_from,valid_until,reason,source\n"


def shipped_rows():
    with open(LOOKUP, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def concrete_path(pattern):
    """A real-looking path the row's pattern matches (a version folder for `*`, C for `?`)."""
    return pattern.replace("*", "4.18.25010.7-0").replace("?", "6")


def test_shipped_lookup_loads_without_problems_and_cites_a_source():
    problems = ProblemLog()
    rows = load_allowlist(os.path.dirname(LOOKUP), PROCESSES, problems, shipped=True, filename=os.path.basename(LOOKUP))
    assert problems.messages() == []
    assert len(rows) == len(shipped_rows()) >= 8
    for row in shipped_rows():
        assert row["process_path"] and row["process_name"] and row["reason"]
        assert row["source"].startswith("https://"), row
        assert row["process_path"].lower().endswith("\\" + row["process_name"].lower())


@pytest.mark.parametrize("row", shipped_rows(), ids=lambda r: r["row_id"])
def test_each_shipped_row_suppresses_its_reader(engine, row):
    if "t1114_001_mail_file_read" not in row["rules"]:
        pytest.skip("row does not cover PST/OST reads")
    path = concrete_path(row["process_path"])
    findings = engine.detect(read_event(path))
    assert [f.rule.id for f in findings] == ["t1114_001_mail_file_read"]
    assert findings[0].suppressed_by.startswith("%s line " % os.path.basename(LOOKUP))
    assert " row %s (" % row["row_id"] in findings[0].suppressed_by
    assert findings[0].severity == "medium"
    record = read_event(path)
    assert engine.annotate(record) is False
    assert record["t1114_status"] == "suppressed"


@pytest.mark.parametrize("row", shipped_rows(), ids=lambda r: r["process_name"] + "-masquerade")
def test_each_shipped_name_outside_its_folder_is_a_masquerade(engine, row):
    record = read_event("C:\\Users\\Public\\" + row["process_name"])
    assert engine.annotate(record) is True
    assert record["t1114_status"] == "finding"
    assert record["t1114_severity"] == "high"
    assert "masquerades" in record["t1114_reason"]
    assert record["t1114_suppressed_by"] == ""


def test_msmpeng_in_users_public_reading_a_pst(engine):
    record = read_event(r"C:\Users\Public\MsMpEng.exe", target=r"C:\Users\bob\Documents\Outlook Files\bob.pst")
    assert engine.annotate(record)
    assert (record["t1114_rule"], record["t1114_severity"], record["risk_score"]) == ("t1114_001_mail_file_read", "high", "85")
    assert "masquerades" in record["t1114_reason"] and r"C:\Users\Public\MsMpEng.exe" in record["t1114_reason"]


def test_masquerade_is_raised_even_with_allowlist_off(engine):
    findings = engine.detect(read_event(r"C:\Temp\SentinelAgent.exe"), use_allowlist=False)
    assert findings[0].severity == "high"


def test_a_row_scoped_to_other_rules_does_not_suppress(engine):
    # Defender's rows cover reads, not PST files created outside the Outlook folders.
    record = {"sourcetype": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational", "EventCode": "11",
              "Image": r"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.1-0\MsMpEng.exe",
              "TargetFilename": r"C:\Users\Public\bob.pst"}
    assert engine.annotate(record)
    assert record["t1114_rule"] == "t1114_001_mail_file_written_outside_outlook"
    assert record["t1114_severity"] == "medium"   # the right path: not a masquerade


def test_outlook_row_does_not_hide_outlook_started_by_a_script(engine):
    record = {"sourcetype": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational", "EventCode": "1",
              "Image": r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE",
              "ParentImage": r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"}
    assert engine.annotate(record)
    assert record["t1114_rule"] == "t1114_001_outlook_started_by_script_host"


MIGRATION = HEADER + (
    "C:\\Program Files\\PstMover\\pstmover.exe,pstmover.exe,svc_pstmig,,t1114_001_*,"
    "2025-11-20,2025-11-30,PST migration project CHG-1234,internal change record\n")


def test_service_account_row_needs_account_path_and_window(engine_with_lookups):
    engine = engine_with_lookups({PROCESSES.filename: MIGRATION})
    assert [m for m in without_unsigned(engine.problems.messages()) if PROCESSES.filename in m] == []
    inside = 1764216000  # 2025-11-27
    tool = r"C:\Program Files\PstMover\pstmover.exe"

    def status(**kwargs):
        record = read_event(kwargs.pop("path", tool), **kwargs)
        engine.annotate(record)
        return record["t1114_status"]

    assert status(user="svc_pstmig", domain="CONTOSO", time=str(inside)) == "suppressed"
    assert status(user="svc_pstmig@contoso.com", domain="", time=str(inside)) == "suppressed"
    assert status(user="bob", domain="CONTOSO", time=str(inside)) == "finding"          # other account
    assert status(user="svc_pstmig", domain="CONTOSO", time=str(inside + 10 * 86400)) == "finding"  # after window
    assert status(user="svc_pstmig", domain="CONTOSO", time=str(inside - 10 * 86400)) == "finding"  # before window
    assert status(user="svc_pstmig", domain="CONTOSO", time=str(inside),
                  path=r"C:\Users\svc_pstmig\pstmover.exe") == "finding"              # right name, wrong folder


def test_host_column_narrows_a_row(engine_with_lookups):
    engine = engine_with_lookups({PROCESSES.filename: HEADER + (
        "C:\\Tools\\pstscan.exe,pstscan.exe,,ediscovery01*,,,,e-discovery collector\n")})
    on_host = read_event(r"C:\Tools\pstscan.exe", computer="ediscovery01.contoso.com")
    elsewhere = read_event(r"C:\Tools\pstscan.exe", computer="ws-017.contoso.com")
    engine.annotate(on_host)
    engine.annotate(elsewhere)
    assert on_host["t1114_status"] == "suppressed"
    assert elsewhere["t1114_status"] == "finding"


@pytest.mark.parametrize("line, problem", [
    (",MsMpEng.exe,,,,,,name alone,x", "column `process_path` is empty"),
    ("C:\\Program Files\\Windows Defender\\MsMpEng.exe,,,,,,,path alone,x", "column `process_name` is empty"),
    ("*\\MsMpEng.exe,MsMpEng.exe,,,,,,any folder,x", "starts with a wildcard"),
    ("C:\\Tools\\x.exe,x.exe,,,,,,,x", "column `reason` is empty"),
])
def test_unsafe_rows_are_refused_with_a_sentence(engine_with_lookups, line, problem):
    good = "C:\\Tools\\ok.exe,ok.exe,,,,,,fine,x\n"
    engine = engine_with_lookups({PROCESSES.filename: HEADER + line + "\n" + good})
    messages = [m for m in without_unsigned(engine.problems.messages()) if PROCESSES.filename in m]
    assert len(messages) == 1 and "line 2" in messages[0] and problem in messages[0], messages
    ok = read_event(r"C:\Tools\ok.exe")
    engine.annotate(ok)
    assert ok["t1114_status"] == "suppressed"   # the other rows still apply


@pytest.mark.parametrize("path, problem", [
    ("?:\\Tools\\x.exe", "starts with the drive wildcard `?:`, which also matches removable and network drives any "
                         "user can write to (E:\\Tools\\x.exe); write the drive letter the program is installed on "
                         "(C:\\Tools\\x.exe), one row per drive"),
    ("\\\\?\\?:\\Tools\\x.exe", "starts with the drive wildcard `?:`"),
    ("\\Device\\HarddiskVolume*\\Tools\\x.exe", "has a wildcard in its volume"),
    ("\\\\*\\tools\\x.exe", "has a wildcard in its server or share"),
    ("C:\\Program Files\\..\\Tools\\x.exe", "names a `.` or `..` folder"),
    ("C:/Tools/./x.exe", "names a `.` or `..` folder"),
])
def test_drive_and_volume_wildcards_and_dot_folders_are_refused(engine_with_lookups, path, problem):
    engine = engine_with_lookups({PROCESSES.filename: HEADER + path + ",x.exe,,,,,,any drive,x\n"})
    messages = [m for m in without_unsigned(engine.problems.messages()) if PROCESSES.filename in m]
    assert len(messages) == 1 and "line 2: column `process_path` " in messages[0] and problem in messages[0], messages
    assert messages[0].endswith("the row was skipped.")
    record = read_event(r"E:\Tools\x.exe")
    assert engine.annotate(record) and record["t1114_status"] == "finding"


# Process paths spelled to reach an allowlisted folder, or past a `*` (issue 27), and the
# same programs spelled the ways Windows and its logs legitimately spell them.
DEFENDER = r"C:\Program Files\Windows Defender\MsMpEng.exe"
PLATFORM = r"C:\ProgramData\Microsoft\Windows Defender\Platform"
BYPASSES = [
    r"C:\Program Files\Windows Defender\..\..\Users\Public\MsMpEng.exe",
    r"C:\Program Files\Windows Defender/../../Users/Public/MsMpEng.exe",
    r"\\?\C:\Program Files\Windows Defender\..\..\Users\Public\MsMpEng.exe",
    PLATFORM + r"\4.18.25010.7-0\..\..\..\..\..\Users\Public\MsMpEng.exe",
    PLATFORM + r"\4.18.25010.7-0\x\MsMpEng.exe",     # `*` is one folder: not the version folder's subfolder
    r"C:\Program Files\Microsoft Office\root\Office16\Temp\OUTLOOK.EXE",
]
LEGITIMATE = [
    (DEFENDER, "defender_inbox"),
    (r"\\?\C:\Program Files\Windows Defender\MsMpEng.exe", "defender_inbox"),
    (r"C:/Program Files/Windows Defender/MsMpEng.exe", "defender_inbox"),
    (r"C:\Program Files\\Windows Defender\.\MsMpEng.exe", "defender_inbox"),
    (PLATFORM + r"\4.18.25010.7-0\MsMpEng.exe", "defender_platform"),
    (r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE", "outlook"),
    (r"C:\Program Files\Microsoft Office\Office16\OUTLOOK.EXE", "outlook_msi"),
]


def _shapes(record):
    """The 4663 in its XML shape (add-on fields) and the classic shapes the add-on gives it."""
    from tests.splunk_shapes import classic_security_shapes

    return [record] + [shape for _, shape in classic_security_shapes(record)]


@pytest.mark.parametrize("path", BYPASSES)
def test_a_path_reaching_past_an_allowlisted_folder_is_a_finding(engine, path):
    for record in _shapes(read_event(path, target=r"C:\Users\bob\Documents\Outlook Files\bob.pst")):
        assert engine.annotate(record) is True, record
        assert record["t1114_status"] == "finding" and record["t1114_suppressed_by"] == ""
        assert record["t1114_rule"] == "t1114_001_mail_file_read"


@pytest.mark.parametrize("path, row_id", LEGITIMATE)
def test_the_same_program_spelled_another_way_stays_suppressed(engine, path, row_id):
    for record in _shapes(read_event(path)):
        assert engine.annotate(record) is False, record
        assert record["t1114_status"] == "suppressed" and " row %s (" % row_id in record["t1114_suppressed_by"]


def test_a_masquerade_through_dot_dot_is_raised_as_one(engine):
    """The name is Defender's, the folder it really runs from is not: high, as a copy in Public is."""
    record = read_event(BYPASSES[0], target=r"C:\Users\bob\Documents\Outlook Files\bob.pst")
    assert engine.annotate(record)
    assert record["t1114_severity"] == "high" and "masquerades" in record["t1114_reason"]


def test_a_site_row_star_covers_one_folder(engine_with_lookups):
    engine = engine_with_lookups({PROCESSES.filename: HEADER + "C:\\Tools\\*\\pstscan.exe,pstscan.exe,,,,,,"
                                  "e-discovery collector versions,x\n"})
    assert engine.annotate(read_event(r"C:\Tools\v2\pstscan.exe")) is False
    assert engine.annotate(read_event(r"C:\Tools\uploads\bob\pstscan.exe")) is True


def test_process_identities_ignore_rows_without_both_keys():
    problems = ProblemLog()
    rows = load_allowlist(os.path.dirname(LOOKUP), PROCESSES, problems, shipped=True, filename=os.path.basename(LOOKUP))
    identities = ProcessIdentities(rows)
    assert identities.name_elsewhere("msmpeng.exe", r"C:\Windows\Temp\msmpeng.exe")
    assert not identities.name_elsewhere("MsMpEng.exe", r"C:\Program Files\Windows Defender\MsMpEng.exe")
    assert not identities.name_elsewhere("notepad.exe", r"C:\Windows\Temp\notepad.exe")
    assert not identities.name_elsewhere("MsMpEng.exe", "")


def test_rule_ids_named_by_shipped_rows_exist(engine):
    # A renamed rule would silently stop being allowlisted; catch it here.
    known = {rule.id for rule in engine.rules}
    for row in shipped_rows():
        for rule_id in filter(None, (item.strip() for item in row["rules"].split(";"))):
            assert "*" in rule_id or rule_id in known, (row["process_path"], rule_id)
