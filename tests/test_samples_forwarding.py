"""Replay of the public samples in ../shared/datasets for the forwarding (T1114.003) rules.

Counted as positives (each must give a T1114.003 finding):
  SEKOIA inbox_rule.json (New-InboxRule ForwardTo + RedirectTo), operation_properties_01.json and
  _02.json (UpdateInboxRules RuleActions Forward); the Azure Sentinel message-tracking CSV (exactly
  its one Transport Rule Agent RECEIVE row); Panther's labelled external-forwarding tests that
  expect true (each with an external destination).
Counted as negatives (no T1114.003 finding): SEKOIA operation_properties_03.json (DeferAction) and
  every other SEKOIA Office 365 file; Elastic test-exchange-admin.log (100 system records),
  test-exchange-item.log, test-parameter-string.json; security_content o365_set_mailbox (empty
  ForwardingAddress); the Sentinel OfficeActivity New-InboxRule CSV (move/delete, no forward);
  all 32 Wazuh PowerShell 4104 events; the other message-tracking rows.
Panther's internal and subdomain cases must have no external destination; its `.org` case and
its label logic are Panther's own (see SOURCES.md), so only the external/internal split is compared.
"""

import glob
import os

import pytest

from tests.conftest import shared_datasets
from tests.shared_samples import (elastic_pipeline_events, json_lines, message_tracking_rows, panther_tests,
                                  sekoia_record, sentinel_office_activity_csv, wazuh_ini_events,
                                  wazuh_windows_record)
from tests.splunk_shapes import both_shapes

O365 = os.path.join("SEKOIA-IO__intake-formats", "Office 365", "o365", "tests")
ELASTIC = os.path.join("elastic__integrations", "packages", "o365", "data_stream", "audit", "_dev", "test", "pipeline")


def forwarding_findings(engine, record):
    return [f for f in engine.detect(record, use_allowlist=False) if f.rule.technique == "T1114.003"]



@pytest.fixture(scope="module")
def datasets():
    return shared_datasets()


@pytest.mark.parametrize("name,rule_id", [
    ("inbox_rule.json", "t1114_003_inbox_rule_forward_cmdlet"),
    ("operation_properties_01.json", "t1114_003_inbox_rule_forward_client"),
    ("operation_properties_02.json", "t1114_003_inbox_rule_forward_client"),
])
def test_sekoia_forwarding_positives(engine, datasets, name, rule_id):
    audit = sekoia_record(os.path.join(datasets, O365, name))
    for record in both_shapes(audit):
        assert [f.rule.id for f in forwarding_findings(engine, record)] == [rule_id]


def test_sekoia_other_office365_files_are_silent(engine, datasets):
    positives = {"inbox_rule.json", "operation_properties_01.json", "operation_properties_02.json"}
    files = [p for p in glob.glob(os.path.join(datasets, O365, "*.json")) if os.path.basename(p) not in positives]
    assert len(files) >= 15
    for path in files:
        for record in both_shapes(sekoia_record(path)):
            assert forwarding_findings(engine, record) == [], path


def test_message_tracking_finds_exactly_the_transport_rule_recipient_and_action(engine, datasets):
    """The RECEIVE row with the added Bcc recipient, and the AGENTINFO row whose Transport Rule
    Agent entry says BlindCopyTo (the second AGENTINFO row only has an ETRI inspection entry)."""
    path = os.path.join(datasets, "Azure__Azure-Sentinel", "Sample Data", "Custom", "ESI-MessageTrackingLogs-CSV.txt")
    fields, raws = message_tracking_rows(path)
    for rows in (fields, raws):
        hits = [(row, forwarding_findings(engine, row)) for row in rows]
        found = [findings for _, findings in hits if findings]
        assert len(rows) == 9 and len(found) == 2
        by_rule = {findings[0].rule.id: findings for findings in found}
        (recipient,) = by_rule["t1114_003_transport_rule_agent_recipient"]
        assert recipient.destinations == ("5jxp9m4hOc6q@7UGApwbvQ.com",) and recipient.external
        (action,) = by_rule["t1114_003_transport_rule_agent_action"]
        assert action.event.extra["transport_rule_actions"] == ("blindcopyto",)
        assert "f124891a-6a94-466a-95d6-82b59a9f5b06" in action.reason


def test_elastic_system_and_edge_records_are_silent(engine, datasets):
    records = json_lines(os.path.join(datasets, ELASTIC, "test-exchange-admin.log"))
    records += json_lines(os.path.join(datasets, ELASTIC, "test-exchange-item.log"))
    records += elastic_pipeline_events(os.path.join(datasets, ELASTIC, "test-parameter-string.json"))
    assert len(records) == 111
    for audit in records:
        for record in both_shapes(audit):
            assert forwarding_findings(engine, record) == [], audit.get("Operation")


def test_security_content_cleared_forwarding_is_silent(engine, datasets):
    path = os.path.join(datasets, "splunk__security_content", "data_sources_example_logs", "o365_set_mailbox.example_log")
    with open(path, encoding="utf-8") as handle:
        record = {"sourcetype": "o365:management:activity", "_raw": handle.read().strip()}
    assert forwarding_findings(engine, record) == []


def test_sentinel_inbox_rules_without_forwarding_are_silent(engine, datasets):
    path = os.path.join(datasets, "Azure__Azure-Sentinel", "Solutions", "Training", "Azure-Sentinel-Training-Lab",
                        "Artifacts", "Telemetry", "office_activity_inbox_rule.csv")
    audits = sentinel_office_activity_csv(path)
    assert [a["Operation"] for a in audits] == ["New-InboxRule", "New-InboxRule"]
    for audit in audits:
        for record in both_shapes(audit):
            assert forwarding_findings(engine, record) == []


def test_wazuh_script_blocks_are_silent_for_forwarding(engine, datasets):
    events = wazuh_ini_events(os.path.join(datasets, "wazuh__wazuh", "ruleset", "testing", "tests", "powershell.ini"))
    assert len(events) == 32
    for section, event in events:
        assert forwarding_findings(engine, wazuh_windows_record(event)) == [], section


def test_panther_external_forwarding_cases(engine, datasets):
    path = os.path.join(datasets, "panther-labs__panther-analysis", "rules", "microsoft_rules",
                        "microsoft_exchange_external_forwarding.yml")
    cases = panther_tests(path)
    assert len(cases) == 10
    for name, expected, audit in cases:
        for record in both_shapes(audit):
            findings = forwarding_findings(engine, record)
            external = [d for f in findings for d in f.external]
            if expected:
                assert findings and external, name
            elif "Internal" in name:
                assert external == [], name
