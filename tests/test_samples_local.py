"""Public sample logs replayed through the T1114.001 rules (read from the shared datasets
folder, never copied here; skipped when it is absent).

Wazuh's ruleset tests hold Wazuh-decoded JSON ({"win": {"eventdata": ..., "system": ...}}),
SEKOIA's hold NXLog JSON; both are turned into the records Splunk's Windows add-on would give.
"""

import json
import os

import pytest

from tests.conftest import missing_shared_data, shared_datasets
from tests.shared_samples import wazuh_ini_events, wazuh_windows_record

WAZUH_POWERSHELL = os.path.join("wazuh__wazuh", "ruleset", "testing", "tests", "powershell.ini")
SEKOIA_WINDOWS = os.path.join("SEKOIA-IO__intake-formats", "Windows", "windows", "tests")
LOCAL_RULES_PREFIX = "t1114_001_"
# Sections of powershell.ini that are local email collection, and the rule that must find each.
EXPECTED = {
    "Outlook add-in was loaded by powershell": "t1114_001_outlook_automation_script",
    # Sweeps the profile for *.pst,*.ost (among documents) and Compress-Archives them.
    "Powershell script created a compressed file": "t1114_001_mail_file_archive_script",
}


def splunk_record_from_nxlog(message):
    event = json.loads(message)
    record = {key: str(value) for key, value in event.items() if not isinstance(value, (dict, list))}
    record["sourcetype"] = "XmlWinEventLog"
    record["EventCode"] = str(event.get("EventID", ""))
    record["Computer"] = event.get("Hostname", "")
    return record


def local_rules(findings):
    return sorted({f.rule.id for f in findings if f.rule.id.startswith(LOCAL_RULES_PREFIX)})


def test_wazuh_powershell_4104_replay(engine):
    path = os.path.join(shared_datasets(), WAZUH_POWERSHELL)
    if not os.path.exists(path):
        missing_shared_data("%s is not in the shared datasets" % WAZUH_POWERSHELL)
    sections = wazuh_ini_events(path)
    assert len(sections) >= 30
    seen = {}
    for title, event in sections:
        record = wazuh_windows_record(event)
        assert record["EventCode"] == "4104"
        seen[title] = local_rules(engine.detect(record))
    for title, rule_id in EXPECTED.items():
        assert seen.get(title) == [rule_id], (title, seen.get(title))
    silent = {title: rules for title, rules in seen.items() if title not in EXPECTED and rules}
    assert silent == {}, "unrelated 4104 events gave T1114.001 findings: %s" % silent


def test_wazuh_outlook_com_script_is_high_with_a_reason(engine):
    path = os.path.join(shared_datasets(), WAZUH_POWERSHELL)
    if not os.path.exists(path):
        missing_shared_data("%s is not in the shared datasets" % WAZUH_POWERSHELL)
    event = dict(wazuh_ini_events(path))["Outlook add-in was loaded by powershell"]
    record = wazuh_windows_record(event)
    assert engine.annotate(record)
    assert record["t1114_rule"] == "t1114_001_outlook_automation_script"
    assert record["mitre_technique_id"] == "T1114.001"
    assert record["t1114_severity"] == "high"
    assert "automates Outlook" in record["t1114_reason"]


@pytest.mark.parametrize("name", ["process_4663.json", "powershell.json"])
def test_sekoia_windows_events_are_silent(engine, name):
    path = os.path.join(shared_datasets(), SEKOIA_WINDOWS, name)
    if not os.path.exists(path):
        missing_shared_data("%s is not in the shared datasets" % name)
    with open(path, encoding="utf-8") as handle:
        record = splunk_record_from_nxlog(json.load(handle)["input"]["message"])
    assert local_rules(engine.detect(record)) == []
    annotated = dict(record)
    engine.annotate(annotated)
    assert "t1114_status" in annotated
