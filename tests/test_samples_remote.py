"""Replay of the shared public samples (../shared/datasets, see its SOURCES.md) through the
T1114.002 rules: every sample SOURCES.md calls a remote-collection positive must give the
listed finding, everything else must leave the T1114.002 rules silent (with the shipped
allowlists on, as a user runs the command).

Samples are read where they lie, never copied into the repository; the test skips when the
folder is absent. Formats other than Splunk's are converted here, as the brief allows:
SEKOIA tests wrap the raw record in input.message, Wazuh tests wrap the decoded event in an
INI line, OTRF and Defender rows use the Log Analytics schema (RawEventData holds the
Management API record).
"""

import csv
import gzip
import json
import os
import re

from tests.conftest import shared_datasets
from tests.shared_samples import sekoia_record, wazuh_ini_events, wazuh_windows_record
from tests.splunk_shapes import both_shapes

REMOTE = "t1114_002_"
AAD = "azure:monitor:aad"

SEKOIA = "SEKOIA-IO__intake-formats"
ELASTIC = "elastic__integrations/packages"
OTRF = "OTRF__Security-Datasets/datasets/compound/GoldenSAMLADFSMailAccess"
ESCU = "splunk__security_content/data_sources_example_logs"
WAZUH = "wazuh__wazuh/ruleset/testing/tests"

# (file, record selector or None for every record) -> rule that must fire. Anything not
# listed here is a negative for the T1114.002 rules. The Defender "Add delegated permission
# grant." row has no RawEventData (only a Permissions column, no old value), so it cannot be
# put in Splunk's shape; the same grant is the AADAuditEvents positive below.
POSITIVES = {
    (SEKOIA + "/Office 365/o365/tests/clientipadress.json", None): "t1114_002_mail_items_accessed_application",
    (SEKOIA + "/Azure/azure-ad/tests/empty_geolocalisation.json", None): "t1114_002_legacy_protocol_signin",
    (SEKOIA + "/Microsoft/microsoft-365-defender/tests/test_cloud_app3.json", None):
        "t1114_002_mail_items_accessed_application",
    (ELASTIC + "/o365/data_stream/audit/_dev/test/pipeline/test-exchange-access-event.json", "MailItemsAccessed"):
        "t1114_002_mail_items_accessed_ews",
    (OTRF + "/OfficeActivityEvents.json", "MailItemsAccessed"): "t1114_002_mail_items_accessed_graph",
    (OTRF + "/Microsoft365DefenderEvents.json", "MailItemsAccessed"): "t1114_002_mail_items_accessed_graph",
    (OTRF + "/AADAuditEvents.json", "Update application"): "t1114_002_app_mail_permission",
    (OTRF + "/AADAuditEvents.json", "Add delegated permission grant"): "t1114_002_app_mail_permission",
    (ESCU + "/o365_mailitemsaccessed.example_log", None): "t1114_002_mail_items_accessed_ews",
    (ESCU + "/o365_add_mailboxpermission.example_log", None): "t1114_002_mailbox_permission_grant",
    (ESCU + "/o365_update_application_.example_log", None): "t1114_002_app_mail_permission",
    (WAZUH + "/office365.ini", "SearchCreated"): "t1114_002_compliance_search_created",
    # Elastic's provisioning grant with UserId sanitised to wazuh@wazuh.com: as written, a person
    # granting FullAccess on the discovery mailbox, which the shipped row no longer covers.
    (WAZUH + "/office365.ini", "Add-MailboxPermission with Parameters"): "t1114_002_mailbox_permission_grant",
}


def _sekoia(path):
    record = sekoia_record(path)
    if "Operation" in record:
        return [("", shape) for shape in both_shapes(record)]
    if record.get("category", "").startswith("AdvancedHunting"):
        raw = record.get("properties", {}).get("RawEventData")
        return [("", shape) for shape in both_shapes(raw)] if isinstance(raw, dict) else []
    if "operationName" in record:
        return [("", {"sourcetype": AAD, "_raw": json.dumps(record)})]
    return [("", dict(record))]  # nxlog-style Windows JSON: its fields as they are


def _elastic(path):
    items = []
    with open(path, encoding="utf-8") as handle:
        if path.endswith(".log"):
            records = [json.loads(line) for line in handle if line.strip()]
        else:
            records = []
            for event in json.load(handle)["events"]:
                audit = event.get("o365audit")
                if audit is None:
                    try:
                        audit = json.loads(event["event"]["original"])
                    except (KeyError, ValueError):
                        continue
                records.append(audit)
    for record in records:
        if "Operation" in record:
            items.extend((record.get("Operation", ""), shape) for shape in both_shapes(record))
        else:
            items.append(("", {"_raw": json.dumps(record), "sourcetype": "azure:monitor:graph"}))
    return items


_POWERSHELL_PAIR = re.compile(r"@\{Value=(?P<value>[^;]*); Name=(?P<name>[^}]*)\}")
_SENTINEL_NAMES = {"Logon_Type": "LogonType", "Client_IPAddress": "ClientIPAddress", "OfficeWorkload": "Workload"}


def _management_api(row):
    """A Log Analytics OfficeActivity row or a Defender RawEventData -> Management API record."""
    record = {}
    for key, value in row.items():
        if value in ("", None):
            continue
        key = _SENTINEL_NAMES.get(key, key)
        if key in ("OperationProperties", "Folders", "Parameters") and isinstance(value, str) and value[:1] == "[":
            value = json.loads(value)
        if key == "OperationProperties" and isinstance(value, list):
            value = [_pair(item) for item in value]  # Defender writes "@{Value=Bind; Name=MailAccessType}"
        record[key] = value
    return record


def _pair(item):
    if isinstance(item, str):
        found = _POWERSHELL_PAIR.match(item)
        if found:
            return {"Name": found.group("name"), "Value": found.group("value")}
    return item


def _otrf(path):
    items = []
    with open(path, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    for row in rows:
        if row.get("Type") == "OfficeActivity":
            items.extend((row["Operation"], shape) for shape in both_shapes(_management_api(row)))
        elif "ActionType" in row:
            raw = row.get("RawEventData")
            if isinstance(raw, str) and raw[:1] == "{":
                raw = json.loads(raw)
            if isinstance(raw, dict) and raw.get("Operation"):
                items.extend((row["ActionType"], shape) for shape in both_shapes(_management_api(raw)))
            else:
                items.append((row["ActionType"], {k: v for k, v in row.items() if isinstance(v, str) and v}))
        elif "OperationName" in row:
            items.append((row["OperationName"].strip(), {k: v for k, v in row.items() if v is not None}))
    return items


def _escu(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read().strip()
    if text.startswith("{"):
        record = json.loads(text)
        if "Operation" in record:
            return [("", shape) for shape in both_shapes(record)]
        return [("", {"sourcetype": AAD, "_raw": text})]
    event_code = re.search(r"<EventID[^>]*>(\d+)<", text)
    return [("", {"sourcetype": "XmlWinEventLog", "_raw": text,
                  "EventCode": event_code.group(1) if event_code else ""})]


def _wazuh(path):
    items = []
    for _, event in wazuh_ini_events(path):
        if "office365" in event:
            audit = event["office365"]
            # Most records are stubs without Parameters; the selector tells the real ones apart.
            selector = audit.get("Operation", "") + (" with Parameters" if audit.get("Parameters") else "")
            items.extend((selector, shape) for shape in both_shapes(audit))
        elif "win" in event:
            items.append(("", wazuh_windows_record(event)))
    return items


def _panther(path):
    import yaml

    with open(path, encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    items = []
    for test in document.get("Tests", []):
        log = {key[:1].upper() + key[1:]: value for key, value in test["Log"].items()}
        items.extend((log.get("Operation", ""), shape) for shape in both_shapes(log))
    return items


def _sentinel(path):
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if path.endswith(".txt"):  # Exchange message tracking CSV
        return [("", dict(row, sourcetype="MSExchange:2019:MessageTracking")) for row in rows]
    items = []
    for row in rows:
        record = _management_api({k: v for k, v in row.items() if k})
        if isinstance(record.get("Parameters"), str):
            record["Parameters"] = json.loads(record["Parameters"])
        items.extend((row.get("Operation", ""), shape) for shape in both_shapes(record))
    return items


def _hayabusa(path):
    """The near-miss Windows events; the 23,371-event pool goes through the command in
    tests/test_samples_hayabusa.py instead (too many to read twice)."""
    if not path.endswith("near_miss_cases.jsonl.gz"):
        return []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [("", json.loads(line)["event"]) for line in handle if line.strip()]


READERS = (
    ("Yamato-Security__hayabusa-sample-evtx", _hayabusa), (SEKOIA, _sekoia), (ELASTIC, _elastic), (OTRF, _otrf), (ESCU, _escu), (WAZUH, _wazuh),
    ("panther-labs__panther-analysis", _panther), ("Azure__Azure-Sentinel", _sentinel),
)


def _sample_files(root):
    found = []
    for directory, _, names in os.walk(root):
        for name in names:
            if name.endswith((".md", ".Zip", ".zip")):
                continue
            found.append(os.path.relpath(os.path.join(directory, name), root))
    return sorted(found)


def _reader(relative):
    for prefix, reader in READERS:
        if relative.startswith(prefix):
            return reader
    return None


def _remote_findings(engine, record):
    return sorted({f.rule.id for f in engine.detect(dict(record)) if f.rule.id.startswith(REMOTE) and not f.suppressed_by})


def _expected(relative, selector):
    for (path, wanted), rule in POSITIVES.items():
        if path == relative and (wanted is None or wanted == selector):
            return rule
    return None


def test_shared_samples_remote_collection(engine):
    root = shared_datasets()
    missed, noisy, seen_positive = [], [], set()
    for relative in _sample_files(root):
        reader = _reader(relative)
        assert reader is not None, "no reader for shared sample %s; add one to this test" % relative
        for selector, record in reader(os.path.join(root, relative)):
            fired = _remote_findings(engine, record)
            rule = _expected(relative, selector)
            if rule is not None:
                seen_positive.add((relative, selector))
                if rule not in fired:
                    missed.append("%s [%s]: expected %s, got %s" % (relative, selector, rule, fired))
            elif fired:
                noisy.append("%s [%s]: %s fired" % (relative, selector, fired))
    assert not missed, "positives not found:\n  " + "\n  ".join(missed)
    assert not noisy, "negatives not silent:\n  " + "\n  ".join(noisy)
    expected_positives = {(path, wanted) for path, wanted in POSITIVES}
    unmatched = [p for p in expected_positives
                 if not any(s[0] == p[0] and (p[1] is None or s[1] == p[1]) for s in seen_positive)]
    assert not unmatched, "listed positives whose records were not found: %s" % unmatched


def test_discovery_management_grant_is_suppressed_not_missed(engine):
    """The provisioning FullAccess on DiscoverySearchMailbox is found, then suppressed by a shipped row."""
    root = shared_datasets()
    path = os.path.join(root, ELASTIC, "o365/data_stream/audit/_dev/test/pipeline/test-exchange-admin.log")
    with open(path, encoding="utf-8") as handle:
        grants = [json.loads(line) for line in handle if '"Add-MailboxPermission"' in line]
    assert grants
    for audit in grants:
        for record in both_shapes(audit):
            findings = [f for f in engine.detect(record) if f.rule.id == "t1114_002_mailbox_permission_grant"]
            assert findings and all(f.suppressed_by for f in findings), audit.get("Id")
