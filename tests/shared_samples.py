"""Loaders for the public sample logs in ../shared/datasets (read in place, never copied).

Each returns Office 365 audit records (dicts in Management-API shape) or Splunk records.
"""

import csv
import json

import yaml


def sekoia_record(path):
    """SEKOIA parser tests keep the raw vendor record in input.message (a string or an object)."""
    with open(path, encoding="utf-8") as handle:
        message = json.load(handle)["input"]["message"]
    return json.loads(message) if isinstance(message, str) else message


def json_lines(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def elastic_pipeline_events(path):
    """Elastic pipeline tests: {"events": [{"event": {"original": "<json>"}, "o365audit": {...}}]}."""
    with open(path, encoding="utf-8") as handle:
        events = json.load(handle)["events"]
    records = []
    for event in events:
        original = (event.get("event") or {}).get("original")
        try:
            records.append(json.loads(original))
        except (TypeError, ValueError):
            records.append(event.get("o365audit") or {})
    return records


def sentinel_office_activity_csv(path):
    """Sentinel OfficeActivity rows -> Management-API shape (the columns we read)."""
    records = []
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            parameters = row.get("Parameters") or "[]"
            try:
                parameters = json.loads(parameters)
            except ValueError:
                pass
            records.append({
                "Operation": row.get("Operation", ""), "Workload": "Exchange", "RecordType": 1,
                "UserId": row.get("UserId", ""), "ClientIP": row.get("ClientIP", ""),
                "OrganizationName": row.get("OrganizationName", ""), "Parameters": parameters,
            })
    return records


def message_tracking_rows(path):
    """Exchange message-tracking CSV rows, as extracted fields (hyphenated names) and as _raw."""
    with open(path, encoding="utf-8", newline="") as handle:
        lines = handle.read().splitlines()
    header = next(csv.reader([lines[0]]))
    extracted, raw = [], []
    for line in lines[1:]:
        if not line.strip():
            continue
        cells = next(csv.reader([line]))
        row = dict(zip(header, cells))
        row["source_id"] = row.pop("source", "")  # Splunk's own `source` field wins the name
        row["sourcetype"] = "MSExchange:2019:MessageTracking"
        extracted.append(row)
        raw.append({"sourcetype": "MSExchange:2019:MessageTracking", "_raw": line})
    return extracted, raw


def wazuh_ini_events(path):
    """[(section, decoded event)] from a Wazuh ruleset test file (`log N pass = <json>`)."""
    events = []
    section = None
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
            elif line.startswith("log ") and " = " in line:
                payload = line.split(" = ", 1)[1]
                try:
                    events.append((section, json.loads(payload)))
                except ValueError:
                    continue
    return events


def wazuh_windows_record(event):
    """The XmlWinEventLog record Splunk would hold for a Wazuh-decoded eventchannel event."""
    win = event["win"]
    data, system = win.get("eventdata", {}), win.get("system", {})
    record = {
        "sourcetype": "XmlWinEventLog",
        "source": "XmlWinEventLog:" + system.get("channel", ""),
        "EventCode": str(system.get("eventID", "")),
        "Computer": system.get("computer", ""),
    }
    names = {"scriptBlockText": "ScriptBlockText", "path": "Path", "scriptBlockId": "ScriptBlockId"}
    for key, value in data.items():
        record[names.get(key, key[:1].upper() + key[1:])] = value
    return record


_PANTHER_KEYS = {"operation": "Operation", "parameters": "Parameters", "organizationname": "OrganizationName",
                 "userid": "UserId", "clientip": "ClientIP", "objectid": "ObjectId", "recordtype": "RecordType",
                 "usertype": "UserType", "workload": "Workload", "resultstatus": "ResultStatus"}


def panther_tests(path):
    """[(name, expected, audit)] from a Panther rule's labelled tests (lower-case schema restored)."""
    with open(path, encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    tests = []
    for test in document.get("Tests", []):
        log = test.get("Log", {})
        audit = {_PANTHER_KEYS.get(key, key): value for key, value in log.items()}
        tests.append((test["Name"], bool(test["ExpectedResult"]), audit))
    return tests
