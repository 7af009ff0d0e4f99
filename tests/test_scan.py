"""The offline scan (t1114_scan/, the file command t1114-scan): every format it reads gives the findings the real `| t1114`
gives for the same events (the built command run as splunkd runs it, chunked protocol), broken
files get one sentence and never a traceback, and the output, summary and exit status hold.
"""

import csv
import gzip
import io
import json
import os
import re
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, shared_datasets, shipped_lookup_path
from tests.rule_events import all_cases, presentations
from tests.shared_samples import sekoia_record
from tests.splunk_shapes import raw_only
from t1114_scan import cli as scan
from t1114_scan import formats as scan_formats
from t1114_scan.formats import (FileReport, Progress, flat_event, iso_epoch, read_file, rust_xml_record,
                                windows_xml_record)
from tools.chunked_client import encode_records, run, script_path

# The command as a checkout runs it (scripts/scan.sh does the same with its own .venv's Python).
SCAN = ["-m", "t1114_scan"]
EPOCH = "1764216000"
ISO = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(EPOCH)))


# ---------------------------------------------------------------- helpers

def scan_json(*args):
    """(exit status, finding rows, stderr text) of an in-process scan with --format json."""
    out, err = io.StringIO(), io.StringIO()
    code = scan.main(["--format", "json", "--no-progress"] + [str(a) for a in args], stdout=out, stderr=err)
    return code, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def scan_cli(*args, python=None):
    """The command as a user runs it: (exit status, stdout, stderr)."""
    done = subprocess.run([python or sys.executable] + SCAN + [str(a) for a in args], capture_output=True,
                          cwd=REPO, timeout=600)
    return done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8")


def _finding_key(status, rule, technique, severity, reason, mailbox, suppressed_by):
    return (status, rule, technique, severity, reason, mailbox or "", suppressed_by or "")


def per_event_from_scan(rows, count):
    """For each event (by number, 1-based), its findings, one sorted tuple each."""
    events = [[] for _ in range(count)]
    for row in rows:
        events[row["event"] - 1].append(_finding_key(row["status"], row["rule"], row["technique"], row["severity"],
                                                     row["reason"], row["mailbox"], row["suppressed_by"]))
    return [sorted(found) for found in events]


def per_event_from_command(records):
    """The same from the command's t1114_findings: every finding of the event, whole."""
    events = []
    for record in records:
        found = []
        for described in json.loads(record.get("t1114_findings") or "[]"):
            row = described.get("suppressed_by") or {}
            found.append(_finding_key(described["status"], described["rule"], described["mitre_technique_id"],
                                      described["severity"], described["reason"], described["mailbox"],
                                      row.get("description")))
        events.append(sorted(found))
    return events


def _values(value):
    if not value:
        return []
    return value if isinstance(value, list) else [value]


def command_events(built_app, records, allowlist="true"):
    result = run(script_path(built_app), records, args=["mode=all", "allowlist=%s" % allowlist], chunk_size=500)
    assert result["exit_code"] == 0, result["stderr"][-2000:]
    assert len(result["records"]) == len(records)
    return per_event_from_command(result["records"])


def assert_same_findings(built_app, path, records, *scan_args, allowlist="true"):
    """The file scanned gives, event by event, what the command gives for `records`."""
    code, rows, err = scan_json("--allowlist", allowlist, *(list(scan_args) + [path]))
    assert "Traceback" not in err
    from_scan = per_event_from_scan(rows, len(records))
    from_command = command_events(built_app, records, allowlist)
    for index, (mine, theirs) in enumerate(zip(from_scan, from_command)):
        assert mine == theirs, "event %d of %s: scan %r, command %r" % (index + 1, path, mine, theirs)
    assert sum(len(found) for found in from_command) == len(rows)
    return code, rows, err


def write_jsonl(path, values):
    with open(path, "w", encoding="utf-8") as handle:
        for value in values:
            handle.write(json.dumps(value) + "\n")
    return path


def rule_records():
    """Every rule's test events as the command receives them, values as Splunk gives them (text)."""
    return [flat_event(record) for _, _, case in all_cases() for _, record in presentations(case)]


def rule_o365_audits():
    audits = []
    for _, _, case in all_cases():
        if "o365" in case:
            audit = json.loads(json.dumps(case["o365"]))
            audit.setdefault("CreationTime", ISO)
            audits.append(audit)
    return audits


def rule_entra_documents():
    documents = []
    for _, _, case in all_cases():
        record = case.get("record") or {}
        if str(record.get("sourcetype", "")).startswith("azure:monitor:aad") and record.get("_raw"):
            documents.append(json.loads(record["_raw"]))
    return documents


def entra_record(document):
    return {"_time": "", "sourcetype": "azure:monitor:aad", "_raw": json.dumps(document)}


# ---------------------------------------------------------------- same findings as the command

def test_rule_events_as_flat_json_lines_match_the_command(built_app, tmp_path):
    records = rule_records()
    path = write_jsonl(tmp_path / "events.jsonl", records)
    code, rows, _ = assert_same_findings(built_app, path, records)
    assert code == scan.EXIT_FINDINGS
    assert {row["technique"] for row in rows} == {"T1114.001", "T1114.002", "T1114.003"}


def test_rule_events_without_allowlists_match_the_command(built_app, tmp_path):
    records = rule_records()
    path = write_jsonl(tmp_path / "events.jsonl", records)
    _, rows, _ = assert_same_findings(built_app, path, records, allowlist="false")
    assert all(row["status"] == "finding" for row in rows)


def test_bundled_samples_match_the_command(built_app):
    path = os.path.join(REPO, "samples", "sample_events.jsonl")
    with open(path, encoding="utf-8") as handle:
        records = [flat_event(json.loads(line)) for line in handle if line.strip()]
    _, rows, _ = assert_same_findings(built_app, path, records)
    assert {row["status"] for row in rows} == {"finding", "suppressed"}


def test_splunk_json_export_matches_the_command(built_app, tmp_path):
    records = rule_records()
    lines = [{"preview": False, "offset": index, "result": record} for index, record in enumerate(records)]
    lines[-1]["lastrow"] = True
    path = write_jsonl(tmp_path / "export.json", lines)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"preview":false,"messages":[{"type":"INFO","text":"done"}]}\n')
    assert_same_findings(built_app, path, records)


def test_splunk_csv_export_with_mv_columns_matches_the_command(built_app, tmp_path):
    records = rule_records()
    path = tmp_path / "results.csv"
    path.write_bytes(encode_records(records))  # outputcsv / results.csv keep __mv_ columns
    as_cells = [{name: record.get(name, "") for name in _union(records)} for record in records]
    assert_same_findings(built_app, path, as_cells)


def test_splunk_csv_export_from_the_web_ui_matches_the_command(built_app, tmp_path):
    """The UI export joins a multivalue field's values with newlines and has no __mv_ columns."""
    records = rule_records()
    names = _union(records)
    path = tmp_path / "export.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for record in records:
            writer.writerow(["\n".join(v) if isinstance(v, list) else v for v in (record.get(n, "") for n in names)])
    expected = []
    for record in records:
        cells = {}
        for name in names:
            value = record.get(name, "")
            if isinstance(value, list) and "{}" not in name:
                value = "\n".join(value)  # what the export keeps of a multivalue field without {}
            cells[name] = value
        expected.append(cells)
    assert_same_findings(built_app, path, expected)


def _union(records):
    names = []
    for record in records:
        for name in record:
            if name not in names:
                names.append(name)
    return names


def test_o365_records_as_json_array_lines_and_purview_csv_match_the_command(built_app, tmp_path):
    audits = rule_o365_audits()
    expected = [dict(raw_only(audit, time=EPOCH)) for audit in audits]
    array = tmp_path / "ual.json"
    array.write_text(json.dumps(audits, indent=2), encoding="utf-8")
    lines = write_jsonl(tmp_path / "ual.jsonl", audits)
    purview = tmp_path / "purview.csv"
    with open(purview, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["RecordId", "CreationDate", "RecordType", "Operation", "UserId", "AuditData"])
        for index, audit in enumerate(audits):
            writer.writerow([index, ISO + ".0000000Z", audit.get("RecordType", ""), audit.get("Operation", ""),
                             audit.get("UserId", ""), json.dumps(audit)])
    for path in (array, lines, purview):
        code, rows, _ = assert_same_findings(built_app, path, expected)
        assert code == scan.EXIT_FINDINGS and rows
    _, forced, _ = scan_json("--format-in", "o365-json", lines)
    assert len(forced) == len(scan_json(lines)[1])


def test_entra_exports_in_every_shape_match_the_command(built_app, tmp_path):
    documents = rule_entra_documents()
    assert documents
    expected = [entra_record(document) for document in documents]
    monitor = tmp_path / "azure_monitor.json"
    monitor.write_text(json.dumps({"records": documents}), encoding="utf-8")  # Azure storage export
    assert_same_findings(built_app, monitor, expected)
    # The portal's Download JSON / Graph: the bare properties object of each sign-in.
    sign_ins = [d for d in documents if d.get("category") == "SignInLogs" and isinstance(d.get("properties"), dict)]
    graph = tmp_path / "signins.json"
    graph.write_text(json.dumps([d["properties"] for d in sign_ins]), encoding="utf-8")
    _, rows, _ = assert_same_findings(built_app, graph, [entra_record(d) for d in sign_ins], "--format-in",
                                      "entra-json")
    assert any(row["rule"] == "t1114_002_legacy_protocol_signin" for row in rows)


def test_graph_shaped_entra_exports_are_recognised(tmp_path):
    sign_in = {"id": "1", "createdDateTime": "2026-11-20T09:00:00Z", "userPrincipalName": "pat@contoso.com",
               "appDisplayName": "Office 365 Exchange Online", "ipAddress": "198.51.100.77",
               "clientAppUsed": "IMAP4", "status": {"errorCode": 0}}
    audit = {"id": "2", "category": "ApplicationManagement", "activityDisplayName": "Add delegated permission grant",
             "activityDateTime": "2026-11-20T10:00:00Z", "result": "success",
             "initiatedBy": {"user": {"userPrincipalName": "eve@contoso.com", "ipAddress": "203.0.113.9"}},
             "targetResources": [{"displayName": "Microsoft Graph", "modifiedProperties": [
                 {"displayName": "DelegatedPermissionGrant.Scope", "oldValue": "\"User.Read\"",
                  "newValue": "\"User.Read Mail.Read\""}]}]}
    path = tmp_path / "entra.json"
    path.write_text(json.dumps({"@odata.context": "https://graph", "value": [sign_in, audit]}), encoding="utf-8")
    code, rows, err = scan_json(path)
    assert code == scan.EXIT_FINDINGS, err
    by_rule = {row["rule"]: row for row in rows}
    assert by_rule["t1114_002_legacy_protocol_signin"]["actor"] == "pat@contoso.com"
    assert by_rule["t1114_002_legacy_protocol_signin"]["time"] == "2026-11-20T09:00:00Z"
    assert by_rule["t1114_002_app_mail_permission"]["actor"] == "eve@contoso.com"


# ---------------------------------------------------------------- real public samples

def _shared(*parts):
    path = os.path.join(shared_datasets(), *parts)
    if not os.path.exists(path):
        pytest.skip("%s is not in the shared datasets" % os.path.join(*parts))
    return path


ELASTIC = ("elastic__integrations", "packages", "o365", "data_stream", "audit", "_dev", "test", "pipeline")
GOLDEN_SAML = ("OTRF__Security-Datasets", "datasets", "compound", "GoldenSAMLADFSMailAccess")
EVTX_POOL = ("Yamato-Security__hayabusa-sample-evtx", "evtx_pool.jsonl.gz")


def _o365_lines(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_elastic_exchange_admin_log_is_system_noise_with_two_suppressed_grants(built_app):
    path = _shared(*ELASTIC, "test-exchange-admin.log")
    expected = [raw_only(audit, time="") for audit in _o365_lines(path)]
    for record, audit in zip(expected, _o365_lines(path)):
        record["_time"] = iso_epoch(audit["CreationTime"])
    code, rows, _ = assert_same_findings(built_app, path, expected)
    assert code == scan.EXIT_CLEAN
    assert [row["rule"] for row in rows] == ["t1114_002_mailbox_permission_grant"] * 2
    assert all("DiscoverySearchMailbox" in row["mailbox"] and row["suppressed_by"] for row in rows)


def test_sekoia_office_365_records_as_ir_json_and_purview_csv(built_app, tmp_path):
    folder = _shared("SEKOIA-IO__intake-formats", "Office 365", "o365", "tests")
    audits = [sekoia_record(os.path.join(folder, name)) for name in sorted(os.listdir(folder))]
    array = tmp_path / "collected.json"
    array.write_text(json.dumps(audits), encoding="utf-8")
    purview = tmp_path / "purview.csv"
    with open(purview, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["CreationDate", "UserIds", "Operations", "AuditData"])
        for audit in audits:
            writer.writerow([audit.get("CreationTime", ""), audit.get("UserId", ""), audit.get("Operation", ""),
                             json.dumps(audit)])
    expected = []
    for audit in audits:
        record = raw_only(audit, time="")
        record["_time"] = iso_epoch(audit.get("CreationTime", ""))
        expected.append(record)
    for path in (array, purview):
        _, rows, _ = assert_same_findings(built_app, path, expected)
        rules = {row["rule"] for row in rows if row["status"] == "finding"}
        assert {"t1114_003_inbox_rule_forward_cmdlet", "t1114_003_inbox_rule_forward_client"} <= rules


def test_sekoia_entra_records_as_an_export_match_the_command(built_app, tmp_path):
    folder = _shared("SEKOIA-IO__intake-formats", "Azure", "azure-ad", "tests")
    documents = [sekoia_record(os.path.join(folder, name)) for name in sorted(os.listdir(folder))]
    path = tmp_path / "entra.json"
    path.write_text(json.dumps(documents, indent=2), encoding="utf-8")
    expected = []
    for document in documents:
        record = entra_record(document)
        record["_time"] = iso_epoch(document.get("time", ""))
        expected.append(record)
    _, rows, _ = assert_same_findings(built_app, path, expected)
    # The EWS sign-in (empty_geolocalisation.json) is the one legacy-protocol finding.
    assert [row["rule"] for row in rows if row["status"] == "finding"] == ["t1114_002_legacy_protocol_signin"]


def test_splunk_example_logs_match_the_command(built_app):
    """Splunk's own one-event samples of its data sources, each a JSON file as the add-ons index it."""
    folder = _shared("splunk__security_content", "data_sources_example_logs")
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        if not text.lstrip().startswith("{"):
            code, rows, err = scan_json(path)  # the XML ones: one sentence, no traceback
            assert code == scan.EXIT_INCOMPLETE and len(_sentences(err)) == 1 and "Traceback" not in err
            continue
        document = json.loads(text)
        if "operationName" in document:
            record = entra_record(document)
            record["_raw"] = text.strip()
            record["_time"] = iso_epoch(document["time"])
        else:
            record = raw_only(document, time=iso_epoch(document["CreationTime"]))
            record["source"], record["_raw"] = "scan", text.strip()
        assert_same_findings(built_app, path, [record])


def test_golden_saml_sentinel_exports_read_as_they_are():
    code, rows, err = scan_json(_shared(*GOLDEN_SAML, "AADAuditEvents.json"),
                                _shared(*GOLDEN_SAML, "OfficeActivityEvents.json"),
                                _shared(*GOLDEN_SAML, "Microsoft365DefenderEvents.json"))
    assert code == scan.EXIT_FINDINGS, err
    rules = sorted(row["rule"] for row in rows)
    assert rules.count("t1114_002_app_mail_permission") == 2
    assert "t1114_002_mail_items_accessed_graph" in rules
    assert all(row["time"].startswith("2021-08-02T") for row in rows)  # Defender's row by its Timestamp column
    assert "shape" not in err  # Defender XDR rows no rule reads are table rows, not an unknown shape


def test_exchange_message_tracking_csv_reads_as_a_splunk_csv():
    path = _shared("Azure__Azure-Sentinel", "Sample Data", "Custom", "ESI-MessageTrackingLogs-CSV.txt")
    code, rows, _ = scan_json(path)
    assert code == scan.EXIT_FINDINGS
    # The Transport Rule Agent's RECEIVE row and its AGENTINFO row each say a rule added a recipient.
    assert sorted(row["rule"] for row in rows) == ["t1114_003_transport_rule_agent_action",
                                                   "t1114_003_transport_rule_agent_recipient"]
    assert all(row["time"].startswith("2023-08-27T02:40") for row in rows)  # from its date-time column


def _pool(limit=None):
    with gzip.open(_shared(*EVTX_POOL), "rt", encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            if limit is not None and index >= limit:
                return
            yield json.loads(line)


def test_evtx_pool_as_a_splunk_export_matches_the_command(built_app, tmp_path):
    """Real Windows events (decoded from public .evtx files) in the T1114.001/.002 event types."""
    wanted = {"4663", "4688", "1", "11", "5145", "4104", "4624", "4625", "4776"}
    records = [entry["event"] for entry in _pool() if entry["event"].get("EventCode") in wanted][:4000]
    records = [flat_event(record) for record in records]
    path = write_jsonl(tmp_path / "windows.jsonl", records)
    assert_same_findings(built_app, path, records)


def test_evtx_xml_is_shaped_as_the_splunk_add_on_extracts_it(engine):
    """windows_xml_record() on the XML python-evtx rendered for 593 public .evtx files gives the
    pool's Splunk-shaped event, field for field, and so the same findings."""
    compared = 0
    for entry in _pool():
        event = entry["event"]
        shaped = windows_xml_record(event["_raw"])
        assert abs(float(shaped.pop("_time")) - float(event["_time"])) < 0.0015, (entry["path"], entry["rec"])
        # The pool's fields were read before its _raw lost python-evtx's line breaks, so a value
        # that was only a line break is in its fields but no longer in its _raw.
        expected = {name: value for name, value in event.items() if name != "_time" and (
            not isinstance(value, str) or value.strip() or name in shaped)}
        assert shaped == expected, (entry["path"], entry["rec"])
        compared += 1
        if compared % 50 == 0:  # the engine on a sample of them too
            shaped["_time"] = event["_time"]
            assert [(f.rule.id, f.reason) for f in engine.findings(shaped)] == \
                [(f.rule.id, f.reason) for f in engine.findings(event)]
    assert compared > 20000


# ---------------------------------------------------------------- .evtx files

def _has_module(name):
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def _evtx_files():
    """Real .evtx files: any under ../shared/datasets, or in the folder T1114_EVTX_SAMPLES names
    (for instance files of Yamato-Security/hayabusa-sample-evtx, the pool's source)."""
    roots = [os.path.join(os.path.dirname(REPO), "shared", "datasets"), os.environ.get("T1114_EVTX_SAMPLES", "")]
    found = []
    for root in filter(None, roots):
        for folder, _, names in os.walk(root):
            found.extend(os.path.join(folder, name) for name in names if name.lower().endswith(".evtx"))
    return sorted(found)


EVTX_READERS = [
    pytest.param("evtx", marks=pytest.mark.skipif(not _has_module("evtx"), reason="evtx (requirements-scan.txt, "
                                                  "Python 3.10 and later) is not installed")),
    pytest.param("python-evtx", marks=pytest.mark.skipif(not _has_module("Evtx.Evtx"),
                                                         reason="python-evtx (requirements-scan.txt) is not installed")),
]


@pytest.fixture(params=EVTX_READERS)
def evtx_reader(request, monkeypatch):
    """Each .evtx parser the scan can use, named by T1114_EVTX_READER (the scan's own choice is evtx)."""
    monkeypatch.setenv("T1114_EVTX_READER", request.param)
    return request.param


def _real_evtx_files_or_skip():
    files = _evtx_files()
    if not files:
        if os.environ.get("CI") == "true" and os.environ.get("T1114_EVTX_SAMPLES"):
            pytest.fail("T1114_EVTX_SAMPLES names a folder with no .evtx file")
        pytest.skip("no .evtx file in ../shared/datasets or $T1114_EVTX_SAMPLES")
    return files


def _pool_by_file():
    pool = {}
    if os.path.exists(os.path.join(shared_datasets(), *EVTX_POOL)):
        for entry in _pool():
            event = entry["event"]  # a log merged from several channels repeats record numbers
            pool.setdefault(os.path.basename(entry["path"]), {})[(event["EventRecordID"], event["Channel"])] = event
    return pool


def test_real_evtx_files_read_as_splunk_would_index_them(tmp_path, evtx_reader):
    files = _real_evtx_files_or_skip()
    pool = _pool_by_file()
    for path in files[:20]:
        report = FileReport(path)
        records = [record for _, record in read_file(path, "auto", report, Progress(os.path.getsize(path)))]
        assert records and all(r["_raw"].startswith("<Event") and r["EventCode"] for r in records), path
        assert all("\n" not in r["_raw"][:200] for r in records), "_raw is one line, as Splunk holds it"
        assert report.sentences() == []
        expected = pool.get(os.path.basename(path), {})
        if evtx_reader == "python-evtx" and len(expected) == len(records):  # the same file decoded for the pool
            for mine, theirs in zip(records, expected.values()):
                assert {k: v for k, v in mine.items() if k != "_time"} == \
                    {k: v for k, v in theirs.items() if k != "_time"}
    # Cut short in its second chunk: the first chunk's records, and one sentence for the rest.
    longer = [path for path in files if os.path.getsize(path) > 0x1000 + 0x10000]
    if longer:
        cut = tmp_path / "cut.evtx"
        with open(longer[0], "rb") as handle:
            cut.write_bytes(handle.read(0x1000 + 0x10000 + 0x8000))
        code, rows, err = scan_json(cut)
        assert code in (scan.EXIT_INCOMPLETE, scan.EXIT_FINDINGS) and "Traceback" not in err
        (sentence,) = _sentences(err)
        assert "cut.evtx" in sentence and "truncated" in sentence


def _findings_of(engine, record):
    return sorted((found.rule.id, found.reason, found.status) for found in engine.findings(record))


@pytest.mark.skipif(not _has_module("evtx"), reason="evtx (Python 3.10 and later) is not installed")
def test_the_rust_parser_gives_the_findings_and_fields_python_evtx_gave(engine, monkeypatch):
    """Every record of every real file, read by the Rust parser, against the pool python-evtx
    decoded from the same files (matched by file, EventRecordID and Channel): the same field names, the
    same values where both render alike, and the same findings. Values rendered differently by
    the two parsers are listed; none is one a rule reads."""
    monkeypatch.setenv("T1114_EVTX_READER", "evtx")
    files = _real_evtx_files_or_skip()
    pool = _pool_by_file()
    if not pool:
        pytest.skip("the python-evtx pool is not in the shared datasets")
    # Rendering only: hex numbers unpadded, GUIDs without braces, times in ISO form, booleans lower-case,
    # binary as hex, and python-evtx's own mistakes (Keywords of some providers).
    rendered_apart = re.compile(r"^(0x[0-9a-fA-F]+|\{?[0-9A-Fa-f-]{36}\}?|\d{4}-\d\d-\d\d[T ][\d:.]+(Z|\+00:00)|"
                                r"[Tt]rue|[Ff]alse|[0-9A-Fa-f]+|[A-Za-z0-9+/=]+)$")
    compared = findings = 0
    for path in files:
        expected = pool.get(os.path.basename(path))
        if not expected:
            continue
        report = FileReport(path)
        for _, mine in read_file(path, "auto", report, Progress(os.path.getsize(path))):
            theirs = expected.get((mine["EventRecordID"], mine["Channel"]))
            if theirs is None:
                continue  # a record python-evtx did not read (the Rust parser reads about 5 % more)
            compared += 1
            # Every field python-evtx gave (it misreads a few records' templates, which the Rust parser reads).
            assert set(theirs) - {"Data"} <= set(mine), (path, mine["EventRecordID"])
            # A classic event's insertion strings: the same text (the two parsers split and order a few apart).
            assert _text_of(_insertion_strings(mine.get("Data"))) == _text_of(_insertion_strings(theirs.get("Data")))
            for name, value in mine.items():
                if name in ("_raw", "_time", "Data") or name not in theirs or value == theirs[name]:
                    continue
                assert name in ("Keywords", "SystemTime") or (
                    isinstance(value, str) and rendered_apart.match(value)) or _no_control(theirs[name]) == \
                    _no_control(value) or (  # a string array: python-evtx's <string> items, Rust's <Data> each
                    "<string>" in str(theirs[name]) and set(_insertion_strings(value)) <= set(
                        _insertion_strings(theirs[name]))), (path, mine["EventRecordID"], name, value, theirs[name])
            assert abs(float(mine["_time"]) - float(theirs["_time"])) < 0.0015
            found = _findings_of(engine, mine)
            assert found == _findings_of(engine, theirs), (path, mine["EventRecordID"])
            findings += len(found)
    assert compared > 23000


def _insertion_strings(data):
    if not data:
        return []
    if isinstance(data, list):
        return sorted(data)
    if "<string>" in data:
        return sorted(item for item in re.findall(r"<string>(.*?)</string>", data, re.S) if item)
    return [data]


def _text_of(strings):
    """Letters and digits of the strings, in order of value: what a cmdlet reader reads from them."""
    return sorted(re.findall(r"[A-Za-z0-9]", "".join(strings)))


def _no_control(value):
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", value) if isinstance(value, str) else value


@pytest.mark.skipif(not _has_module("evtx"), reason="evtx (Python 3.10 and later) is not installed")
def test_the_rust_xml_read_by_patterns_equals_it_parsed():
    """rust_xml_record() reads the usual event with patterns and parses the rest: on every record of
    the real files both ways give the same record (bar control characters, which parsing drops)."""
    import evtx

    files = _real_evtx_files_or_skip()
    compared = 0
    for path in files:
        for entry in evtx.PyEvtxParser(path, **scan_formats.EVTX_PARSER_OPTIONS).records():
            raw = scan_formats._one_line(entry["data"])
            fast, parsed = rust_xml_record(entry["data"]), scan_formats._parsed_rust_record(raw)
            assert {k: _no_control(v) for k, v in fast.items() if k != "_raw"} == \
                {k: v for k, v in parsed.items() if k != "_raw"}, (path, entry["event_record_id"])
            compared += 1
    assert compared > 24000


def test_rust_xml_of_each_shape_is_read_as_the_add_on_extracts_it():
    """The Rust parser's unindented XML, written here from its documented layout: named Data,
    classic insertion strings (one <Data> each, read as python-evtx's <string> items, which the
    MSExchange Management reader takes), escapes, UserData (parsed), and indented XML."""
    system = ('<System><Provider Name="MSExchange CmdletLogs"></Provider><EventID Qualifiers="16384">1</EventID>'
              '<Level>4</Level><Task>1</Task><Keywords>0x80000000000000</Keywords>'
              '<TimeCreated SystemTime="2026-11-20T09:12:44.123456Z"></TimeCreated><EventRecordID>7</EventRecordID>'
              '<Channel>MSExchange Management</Channel><Computer>EX01.contoso.com</Computer><Security></Security>'
              '</System>')
    head = '<?xml version="1.0" encoding="utf-8"?>\n<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">'
    classic = rust_xml_record(head + system + '<EventData><Data>New-InboxRule</Data><Data>-Name "x" -ForwardTo '
                              '"a@evil.example"</Data><Data>CONTOSO\\pat</Data><Binary>00</Binary></EventData></Event>')
    assert classic["Data"] == ('<string>New-InboxRule</string>\n<string>-Name "x" -ForwardTo "a@evil.example"</string>\n'
                               '<string>CONTOSO\\pat</string>\n')
    assert classic["Keywords"] == "0x0080000000000000" and classic["_time"] == "1795165964.123"
    assert classic["EventCode"] == "1" and classic["source"] == "XmlWinEventLog:MSExchange Management"
    assert not classic["_raw"].startswith("<?xml")
    named = rust_xml_record(head + system.replace("MSExchange Management", "Security") + '<EventData>'
                            '<Data Name="ObjectName">C:\\Users\\pat\\a &amp; b.pst</Data><Data Name="Empty"></Data>'
                            '<Data Name="ProcessID">42</Data></EventData></Event>')
    assert named["ObjectName"] == "C:\\Users\\pat\\a & b.pst" and "Empty" not in named
    user = rust_xml_record(head + system + '<UserData><LogFileCleared xmlns="http://manifests.microsoft.com/win/2004/'
                           '08/windows/eventlog"><SubjectUserName>pat</SubjectUserName></LogFileCleared></UserData>'
                           '</Event>')
    assert user["SubjectUserName"] == "pat" and user["Keywords"] == "0x0080000000000000"
    indented = head + system.replace("><", ">\n    <") + "\n  <EventData>\n    <Data Name=\"A\">1</Data>\n  </EventData>\n</Event>\n"
    assert rust_xml_record(indented)["A"] == "1" and "\n" not in rust_xml_record(indented)["_raw"]


def test_evtx_damaged_or_truncated_gets_one_sentence(tmp_path, evtx_reader):
    garbage = tmp_path / "garbage.evtx"
    garbage.write_bytes(b"ElfFile\x00" + bytes(range(256)) * 40)
    header_only = tmp_path / "header_only.evtx"
    header_only.write_bytes(b"ElfFile\x00")
    good = write_jsonl(tmp_path / "good.jsonl", [{"sourcetype": "x", "_raw": "nothing"}])
    code, rows, err = scan_json(garbage, header_only, good)
    assert "Traceback" not in err and rows == []
    assert code == scan.EXIT_INCOMPLETE
    assert "1 events in 3 files" in err
    assert any("garbage.evtx" in line for line in _sentences(err))
    assert any("header_only.evtx" in line for line in _sentences(err))


def test_evtx_without_a_parser_says_how_to_install_one(tmp_path):
    path = tmp_path / "log.evtx"
    path.write_bytes(b"ElfFile\x00" + b"\x00" * 4096)
    code = ("import sys; sys.modules['Evtx'] = None; sys.modules['evtx'] = None; sys.argv = ['scan', %r]; "
            "sys.path.insert(0, %r); from t1114_scan import cli; sys.exit(cli.main())" % (str(path), REPO))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=REPO, timeout=300)
    err = done.stderr.decode("utf-8")
    assert done.returncode == scan.EXIT_INCOMPLETE
    assert "Traceback" not in err
    assert "needs the optional evtx package (or python-evtx before Python 3.10): pip install -r " \
           "requirements-scan.txt" in err


# ---------------------------------------------------------------- broken files

OUTLOOK_FORWARD = {"CreationTime": ISO, "Operation": "Set-Mailbox", "RecordType": 1, "Workload": "Exchange",
                   "UserId": "a@contoso.com", "ObjectId": "a@contoso.com",
                   "Parameters": [{"Name": "ForwardingSmtpAddress", "Value": "smtp:x@evil.example"}]}


def _sentences(err):
    return [line for line in err.splitlines() if line.startswith("scan: ")]


@pytest.mark.parametrize("name,content", [
    ("truncated.jsonl", (json.dumps(OUTLOOK_FORWARD) + "\n") * 3 + json.dumps(OUTLOOK_FORWARD)[:40]),
    ("truncated_array.json", json.dumps([OUTLOOK_FORWARD] * 4, indent=1)[:-60]),
    ("unclosed_array.json", json.dumps([OUTLOOK_FORWARD] * 3)[:-1]),
    ("truncated_export.json", "\n".join(json.dumps({"preview": False, "result": raw_only(OUTLOOK_FORWARD)})
                                        for _ in range(3)) + '\n{"preview":false,"result":{"_raw":"{\\"Oper'),
    ("truncated_entra.json", json.dumps([{"time": ISO, "operationName": "Sign-in activity", "category": "SignInLogs",
                                          "properties": {"userPrincipalName": "pat@contoso.com", "clientAppUsed": "IMAP4",
                                                         "status": {"errorCode": 0}}}] * 4)[:-30]),
    ("truncated_purview.csv", "CreationDate,UserIds,Operations,AuditData\n" + "".join(
        '%s,a,Set-Mailbox,"%s"\n' % (ISO, json.dumps(OUTLOOK_FORWARD).replace('"', '""')) for _ in range(3))
     + '%s,a,Set-Mailbox,"{""Operation' % ISO),
    ("truncated_splunk.csv", "_time,sourcetype,_raw\n" + "".join(
        '%s,o365:management:activity,"%s"\n' % (EPOCH, json.dumps(OUTLOOK_FORWARD).replace('"', '""'))
        for _ in range(3)) + '%s,o365:management:activity,"{""Operation' % EPOCH),
])
def test_truncated_files_keep_what_was_read_and_say_what_was_not(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    code, rows, err = scan_json(path)
    assert "Traceback" not in err
    assert code == scan.EXIT_FINDINGS
    expected_rule = "t1114_002_legacy_protocol_signin" if "entra" in name else "t1114_003_mailbox_forwarding"
    assert len(rows) == 3 and {row["rule"] for row in rows} == {expected_rule}
    sentences = _sentences(err)
    assert len(sentences) == 1 and name in sentences[0], err
    assert "truncated" in sentences[0]


def test_files_that_cannot_be_read_get_one_sentence_each_and_the_rest_go_on(tmp_path):
    (tmp_path / "empty.json").write_text("", encoding="utf-8")
    (tmp_path / "binary.dat").write_bytes(b"\x00\x01\x02garbage\x00" * 100)
    (tmp_path / "prose.txt").write_text("This is a note, not a log.\n", encoding="utf-8")
    (tmp_path / "folder").mkdir()
    good = write_jsonl(tmp_path / "good.jsonl", [OUTLOOK_FORWARD])
    names = ["empty.json", "binary.dat", "prose.txt", "folder", "missing.jsonl"]
    code, out, err = scan_cli(*[tmp_path / n for n in names] + [good])
    assert "Traceback" not in err
    assert code == scan.EXIT_FINDINGS
    assert "t1114_003_mailbox_forwarding" in out
    sentences = _sentences(err)
    assert len(sentences) == len(names)
    for name, sentence in zip(names, sentences):
        assert name in sentence and sentence.endswith(".")
    assert "5 files with problems" in out


def test_bad_lines_in_the_middle_are_counted_once(tmp_path):
    lines = [json.dumps(OUTLOOK_FORWARD), "{not json", "[1, 2]", json.dumps(OUTLOOK_FORWARD), "{also not"]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, rows, err = scan_json(path)
    assert code == scan.EXIT_FINDINGS and len(rows) == 2
    sentences = _sentences(err)
    assert any("2 records skipped" in s and "line 2" in s for s in sentences), err
    assert any("line 3" in s and "not an object" in s for s in sentences), err


def test_an_office_365_line_broken_in_its_middle_is_said_and_the_exit_status_shows_it(tmp_path):
    good = json.dumps({"CreationTime": ISO, "Operation": "Set-Mailbox", "RecordType": 1, "Workload": "Exchange"})
    broken = json.dumps(OUTLOOK_FORWARD).replace('"Parameters": [', '"Parameters" [')
    path = tmp_path / "ual.jsonl"
    path.write_text("\n".join([good, broken, good]) + "\n", encoding="utf-8")
    code, rows, err = scan_json(path)
    assert rows == [] and code == scan.EXIT_INCOMPLETE
    (sentence,) = _sentences(err)
    assert "ual.jsonl" in sentence and "not valid JSON" in sentence


def test_deeply_nested_json_is_a_sentence_not_a_crash(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" + "[" * 100000 + "]" * 100000 + "]", encoding="utf-8")
    code, rows, err = scan_json(path)
    assert "Traceback" not in err and code == scan.EXIT_INCOMPLETE and _sentences(err)


# ---------------------------------------------------------------- output and exit status

def test_table_output_summary_and_exit_status(tmp_path):
    clean = write_jsonl(tmp_path / "clean.jsonl", [{"sourcetype": "o365:management:activity",
                                                    "_raw": json.dumps({"Operation": "UserLoggedIn"})}])
    code, out, err = scan_cli(clean)
    assert code == scan.EXIT_CLEAN and "No findings." in out and "1 events in 1 file: 0 findings" in out
    samples = os.path.join(REPO, "samples", "sample_events.jsonl")
    code, out, err = scan_cli(samples)
    assert code == scan.EXIT_FINDINGS
    header = out.splitlines()[0].split()
    assert header[:4] == ["sub-technique", "severity", "time", "(UTC)"] and "actor" in header and "mailbox" in header
    shipped = os.path.basename(shipped_lookup_path("t1114_shipped_accounts"))
    assert "suppressed by %s line" % shipped in out  # the shipped rows (issue 13)
    summary = out[out.rindex("events in 1 file"):]
    for technique in ("T1114.001", "T1114.002", "T1114.003"):
        assert technique in summary
    code, rows, _ = scan_json(samples)
    found = sum(1 for r in rows if r["status"] == "finding")
    suppressed = len(rows) - found
    assert "%d findings, %d suppressed" % (found, suppressed) in out


def test_only_suppressed_findings_exit_clean(tmp_path):
    audit = {"CreationTime": ISO, "Operation": "Add-MailboxPermission", "RecordType": 1, "Workload": "Exchange",
             "UserId": "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)", "UserType": 3,
             "ObjectId": "DiscoverySearchMailbox{D919BA05-46A6-415f-80AD-7E09334BB852}",
             "Parameters": [{"Name": "Identity", "Value": "DiscoverySearchMailbox{D919BA05-46A6-415f-80AD-7E09334BB852}"},
                            {"Name": "User", "Value": "Discovery Management"},
                            {"Name": "AccessRights", "Value": "FullAccess"}]}
    path = write_jsonl(tmp_path / "system.jsonl", [audit])
    code, rows, _ = scan_json(path)
    assert code == scan.EXIT_CLEAN and [row["status"] for row in rows] == ["suppressed"]
    code, rows, _ = scan_json("--hide-suppressed", path)
    assert code == scan.EXIT_CLEAN and rows == []
    code, rows, _ = scan_json("--allowlist", "false", path)
    assert code == scan.EXIT_FINDINGS and [row["status"] for row in rows] == ["finding"]


def test_csv_and_json_output_carry_every_column(tmp_path):
    samples = os.path.join(REPO, "samples", "sample_events.jsonl")
    code, out, err = scan_cli("--format", "csv", samples)
    table = list(csv.reader(io.StringIO(out)))
    assert tuple(table[0]) == scan.ROW_FIELDS
    _, rows, _ = scan_json(samples)
    assert len(table) - 1 == len(rows)
    assert [row[table[0].index("reason")] for row in table[1:]] == [row["reason"] for row in rows]
    assert "events in 1 file" in err and "events in 1 file" not in out  # the summary is not data
    assert all(set(row) == set(scan.ROW_FIELDS) for row in rows)


def test_stats_print_events_per_second(tmp_path):
    path = write_jsonl(tmp_path / "events.jsonl", [OUTLOOK_FORWARD] * 50)
    _, _, err = scan_json("--stats", path)
    assert "stats: %s: 50 events (json; 50 read by a source reader, 0 of a shape no reader knows)" % path in err
    assert "stats: all files: 50 events in" in err and "events/s" in err


def test_help_explains_every_option():
    code, out, _ = scan_cli("--help")
    assert code == 0
    actions = scan.build_parser()._actions
    assert len(actions) >= 9
    for action in actions:
        assert action.help and len(action.help) > 15, action.dest
        for name in action.option_strings or [action.metavar]:
            assert name in out
    for name in scan_formats.FORMATS:
        assert name in out
    assert "Exit status" in out


def test_progress_bar_only_on_a_terminal(tmp_path):
    path = write_jsonl(tmp_path / "many.jsonl", [{"sourcetype": "x", "_raw": "y"}] * 5000)
    code, out, err = scan_cli(path)
    assert "\r" not in err and "%" not in err
    import pty

    leader, follower = pty.openpty()
    done = subprocess.run([sys.executable] + SCAN + [str(path)], stdout=subprocess.PIPE, stderr=follower, cwd=REPO,
                          timeout=300)
    os.close(follower)
    shown = b""
    try:
        while True:
            data = os.read(leader, 65536)
            if not data:
                break
            shown += data
    except OSError:
        pass
    os.close(leader)
    assert done.returncode == scan.EXIT_CLEAN
    assert b"many.jsonl [" in shown and b"events" in shown
    assert b"\r" not in done.stdout


def test_the_app_option_reads_a_built_app_and_refuses_other_folders(built_app, tmp_path):
    samples = os.path.join(REPO, "samples", "sample_events.jsonl")
    assert scan_json("--app", built_app, samples)[1] == scan_json(samples)[1]
    code, out, err = scan_cli("--app", tmp_path, samples)
    assert code == scan.EXIT_INCOMPLETE and "is not the T1114 app" in err and "Traceback" not in err


# ---------------------------------------------------------------- streaming

@pytest.mark.parametrize("kind", ["jsonl", "array", "csv", "purview"])
def test_files_are_read_as_a_stream(tmp_path, kind):
    """The first record comes out after reading a small part of a large file."""
    count = 20000
    path = tmp_path / ("big." + kind)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        if kind == "jsonl":
            for _ in range(count):
                handle.write(json.dumps(OUTLOOK_FORWARD) + "\n")
        elif kind == "array":
            handle.write("[" + ",\n".join(json.dumps(OUTLOOK_FORWARD) for _ in range(count)) + "]")
        else:
            writer = csv.writer(handle)
            writer.writerow(["CreationDate", "AuditData"] if kind == "purview" else ["_time", "sourcetype", "_raw"])
            for _ in range(count):
                writer.writerow([ISO, json.dumps(OUTLOOK_FORWARD)] if kind == "purview" else
                                [EPOCH, "o365:management:activity", json.dumps(OUTLOOK_FORWARD)])
    size = os.path.getsize(path)
    progress = Progress(size)
    records = read_file(str(path), "auto", FileReport(str(path)), progress)
    next(records)
    assert progress.done < size / 4, (progress.done, size)
    assert sum(1 for _ in records) == count - 1
    assert progress.done == size


def test_standard_input_and_a_closed_pipe(tmp_path):
    samples = os.path.join(REPO, "samples", "sample_events.jsonl")
    with open(samples, "rb") as handle:
        done = subprocess.run([sys.executable] + SCAN + ["--format", "csv", "-"], stdin=handle, capture_output=True,
                              cwd=REPO, timeout=300)
    assert done.returncode == scan.EXIT_FINDINGS
    assert done.stdout.decode("utf-8").count("<stdin>,") == len(scan_json(samples)[1])
    many = write_jsonl(tmp_path / "many.jsonl", [OUTLOOK_FORWARD] * 20000)
    process = subprocess.Popen([sys.executable] + SCAN + [str(many)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=REPO)
    process.stdout.readline()
    process.stdout.close()  # as `| head -1` does
    err = process.stderr.read().decode("utf-8")
    assert process.wait(timeout=300) == scan.EXIT_FINDINGS
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_the_demo_check_agrees_with_the_command(built_app):
    """What tools/demo.py prints as its last line: the scan and the built command find the same."""
    from tools import demo

    samples = os.path.join(REPO, "samples", "sample_events.jsonl")
    events, found, suppressed = demo.command_findings(built_app, [samples], "true")
    assert events == 24 and found and suppressed
    assert demo.scan_findings(built_app, [samples], "true") == (found, suppressed)
    assert not demo._has_files(["--allowlist", "false", "--format", "json"])
    assert demo._has_files(["--allowlist", "false", "events.jsonl"])


def test_a_format_named_wrongly_gets_one_sentence(tmp_path):
    path = write_jsonl(tmp_path / "ual.jsonl", [OUTLOOK_FORWARD])
    for wrong in ("evtx", "purview-csv"):
        code, rows, err = scan_json("--format-in", wrong, path)
        assert code == scan.EXIT_INCOMPLETE and rows == [] and "Traceback" not in err
        (sentence,) = _sentences(err)
        assert "ual.jsonl" in sentence and ("not a Windows .evtx log" in sentence or "no AuditData" in sentence)


def test_splunk_rest_results_document_is_unwrapped(tmp_path):
    document = {"preview": False, "init_offset": 0, "messages": [], "fields": [{"name": "_raw"}],
                "results": [raw_only(OUTLOOK_FORWARD, time=EPOCH)] * 2, "highlighted": {}}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    code, rows, _ = scan_json(path)
    assert code == scan.EXIT_FINDINGS and [row["event"] for row in rows] == [1, 2]


def test_gzip_files_are_read_and_a_truncated_one_is_said(tmp_path):
    whole = tmp_path / "ual.jsonl.gz"
    with gzip.open(whole, "wt", encoding="utf-8") as handle:
        for index in range(3000):
            handle.write(json.dumps(dict(OUTLOOK_FORWARD, Id=str(index) * 40)) + "\n")
    code, rows, err = scan_json(whole)
    assert code == scan.EXIT_FINDINGS and len(rows) == 3000 and not _sentences(err)
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole.read_bytes()[: os.path.getsize(whole) // 2])
    code, rows, err = scan_json(cut)
    assert "Traceback" not in err and 0 < len(rows) < 3000
    (sentence,) = _sentences(err)
    assert "cut.jsonl.gz" in sentence and "truncated" in sentence and "%d events" % len(rows) in sentence


# ---------------------------------------------------------------- Sentinel / Log Analytics OfficeActivity

_TO_OFFICE_ACTIVITY = {"Workload": "OfficeWorkload", "LogonType": "Logon_Type", "ClientIPAddress": "Client_IPAddress",
                       "ObjectId": "OfficeObjectId", "Id": "OfficeId", "CreationTime": "TimeGenerated"}
_RECORD_TYPE_NAMES = {1: "ExchangeAdmin", 2: "ExchangeItem", 3: "ExchangeItemGroup", 50: "ExchangeItemAggregated"}
_USER_TYPE_NAMES = {0: "Regular", 2: "Admin", 4: "System", 5: "Application"}


def office_activity_row(audit):
    """A Management Activity record as the OfficeActivity table holds it (Microsoft's table
    reference): its renamed columns, nested properties as JSON text, RecordType and UserType by
    name, the Log Analytics bookkeeping columns, and TimeGenerated with fractions of a second."""
    row = {"TenantId": "00000000-0000-0000-0000-000000000000", "SourceSystem": "OfficeActivityManager",
           "Type": "OfficeActivity"}
    for key, value in audit.items():
        key = _TO_OFFICE_ACTIVITY.get(key, key)
        if key == "RecordType":
            value = _RECORD_TYPE_NAMES.get(value, value)
        elif key == "UserType":
            value = _USER_TYPE_NAMES.get(value, value)
        elif key == "TimeGenerated":
            value = value + ".000Z"
        if isinstance(value, (list, dict)):
            value = json.dumps(value)
        row[key] = value if isinstance(value, str) else json.dumps(value)
    return row


def _finding_keys(rows):
    return sorted((row["event"], row["rule"], row["reason"], row["mailbox"], row["status"], row["time"]) for row in rows)


def test_sentinel_office_activity_exports_give_the_management_api_findings(tmp_path):
    audits = rule_o365_audits()
    api = tmp_path / "api.json"
    api.write_text(json.dumps(audits), encoding="utf-8")
    rows = [office_activity_row(audit) for audit in audits]
    as_json = write_jsonl(tmp_path / "office_activity.json", rows)
    as_csv = tmp_path / "office_activity.csv"
    columns = sorted({key for row in rows for key in row})
    with open(as_csv, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    _, expected, _ = scan_json(api)
    assert any(row["rule"].startswith("t1114_003_inbox_rule_forward") for row in expected)
    assert all(row["time"] for row in expected)
    for path in (as_json, as_csv):
        code, found, err = scan_json(path)
        assert "Traceback" not in err and "shape" not in err, err
        assert _finding_keys(found) == _finding_keys(expected), path


def test_a_sentinel_inbox_rule_forwarding_outside_is_found_with_parameters_as_json_text(tmp_path):
    """The issue's case: New-InboxRule in an OfficeActivity export, Parameters a JSON string."""
    audit = {"CreationTime": ISO, "Operation": "New-InboxRule", "RecordType": 1, "UserType": 0, "Workload": "Exchange",
             "UserId": "pat@contoso.com", "ObjectId": "pat@contoso.com", "ResultStatus": "True",
             "Parameters": [{"Name": "Name", "Value": "x"}, {"Name": "ForwardTo", "Value": "drop@evil.example"}]}
    row = office_activity_row(audit)
    assert isinstance(row["Parameters"], str)
    path = write_jsonl(tmp_path / "sentinel.json", [row])
    code, rows, err = scan_json(path)
    assert code == scan.EXIT_FINDINGS, err
    assert [row["rule"] for row in rows] == ["t1114_003_inbox_rule_forward_cmdlet"]
    assert rows[0]["time"] == ISO + "Z"


def test_the_training_lab_office_activity_csv_is_read_with_no_forwarding_finding():
    path = _shared("Azure__Azure-Sentinel", "Solutions", "Training", "Azure-Sentinel-Training-Lab", "Artifacts",
                   "Telemetry", "office_activity_inbox_rule.csv")
    code, rows, err = scan_json("--stats", path)
    assert "2 read by a source reader, 0 of a shape no reader knows" in err
    assert not [row for row in rows if "forward" in row["rule"]]


# ---------------------------------------------------------------- Exchange message tracking

MSGTRK_HEADER = ("#Software: Microsoft Exchange Server\r\n#Version: 15.02.1118.007\r\n#Log-type: Message Tracking Log\r\n"
                 "#Date: 2026-11-27T04:00:00.000Z\r\n#Fields: ")


def message_tracking_cases():
    """The rules' own message-tracking test events (Splunk field names, underscored) as rows of
    the log's columns (app/normalise/message_tracking.py COLUMNS, the #Fields order)."""
    from app.normalise.message_tracking import COLUMNS

    rows, records = [], []
    for _, _, case in all_cases():
        record = case.get("record") or {}
        if "MessageTracking" not in str(record.get("sourcetype", "")):
            continue
        if record.get("_raw") and not record.get("event_id"):
            row = next(csv.reader([record["_raw"]]))  # a row as the log holds it already
        else:
            row = []
            for column in COLUMNS:
                name = "source_id" if column == "source" else column.replace("-", "_")
                row.append(str(record.get(name, record.get(column, ""))))
        row[0] = ISO + ".123Z"
        rows.append(row)
        records.append(record)
    return rows, records


def _csv_text(rows):
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def test_native_message_tracking_logs_give_the_findings_of_their_events_with_their_time(tmp_path):
    from app.normalise.message_tracking import COLUMNS

    rows, records = message_tracking_cases()
    assert len(rows) > 4
    native = tmp_path / "MSGTRK2026112704-1.LOG"
    native.write_bytes(b"\xef\xbb\xbf" + (MSGTRK_HEADER + ",".join(COLUMNS) + "\r\n" + _csv_text(rows)).encode("utf-8"))
    plain = tmp_path / "tracking.csv"
    plain.write_text(_csv_text([list(COLUMNS)] + rows), encoding="utf-8")
    flat = write_jsonl(tmp_path / "fields.jsonl", [flat_event(dict(record)) for record in records])
    _, expected, _ = scan_json(flat)
    assert {row["rule"] for row in expected} >= {"t1114_003_transport_rule_agent_action",
                                                 "t1114_003_transport_rule_agent_recipient"}
    for path in (native, plain):
        code, found, err = scan_json("--stats", path)
        assert "Traceback" not in err and "message-tracking; %d read by a source reader, 0 of" % len(rows) in err, err
        assert sorted((row["event"], row["rule"], row["reason"]) for row in found) == \
            sorted((row["event"], row["rule"], row["reason"]) for row in expected)
        assert found and all(row["time"] == ISO + "Z" for row in found)


def test_help_names_message_tracking_and_sentinel_exports():
    code, out, _ = scan_cli("--help")
    assert code == 0 and "message-tracking" in out and "MSGTRK" in out and "OfficeActivity" in out


# ---------------------------------------------------------------- records past the engine's 8 MB _raw limit

def test_an_audit_record_over_8_mb_keeps_its_finding_in_every_form(tmp_path):
    """The engine parses no _raw past 8 MB and reads the fields Splunk extracted instead; the
    scan gives those fields, so a huge record (a MailItemsAccessed-sized folder list) is still read."""
    audit = dict(OUTLOOK_FORWARD, Padding="x" * (9 * 1024 * 1024))
    line = json.dumps(audit)
    lines = tmp_path / "huge.jsonl"
    lines.write_text(line + "\n", encoding="utf-8")
    array = tmp_path / "huge.json"
    array.write_text("[" + line + "]", encoding="utf-8")
    purview = tmp_path / "huge.csv"
    with open(purview, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["CreationDate", "UserIds", "Operations", "AuditData"])
        writer.writerow([ISO, audit["UserId"], audit["Operation"], line])
    for path in (lines, array, purview):
        code, rows, err = scan_json(path)
        assert code == scan.EXIT_FINDINGS and "Traceback" not in err, err[-500:]
        assert [row["rule"] for row in rows] == ["t1114_003_mailbox_forwarding"], (path, rows)
        assert rows[0]["time"] == ISO + "Z"


def test_the_app_option_reports_the_sites_configuration_mistakes_as_the_command_does(built_app, tmp_path):
    import shutil

    site = tmp_path / "t1114_email_collection"
    shutil.copytree(built_app, site)
    os.makedirs(site / "local", exist_ok=True)
    (site / "local" / "t1114.conf").write_text(
        "[tresholds]\nx = 1\n\n[allowlist]\ndisabled_shiped_rows = row1\n", encoding="utf-8")
    samples = os.path.join(REPO, "samples", "sample_events.jsonl")
    code, rows, err = scan_json("--app", site, samples)
    records = [record for _, record in read_file(samples, "auto", FileReport(samples), Progress(0))]
    result = run(script_path(str(site)), records, args=["mode=all"])
    said = [text for _, text in result["messages"] if "t1114.conf" in text]
    assert len(said) == 2 and any("did you mean disabled_shipped_rows" in text for text in said), said
    for text in said:
        assert text.split("t1114: ", 1)[-1] in err, (text, err)
    assert rows and code == scan.EXIT_FINDINGS


# ---------------------------------------------------------------- nothing unread passes silently

def test_sample_events_wrapped_one_level_down_are_said_not_passed_as_no_findings(tmp_path):
    samples = os.path.join(REPO, "samples", "sample_events.jsonl")
    code, rows, _ = scan_json(samples)
    assert code == scan.EXIT_FINDINGS and len([row for row in rows if row["status"] == "finding"]) == 16
    with open(samples, encoding="utf-8") as handle:
        events = [json.loads(line) for line in handle if line.strip()]
    wrapped = write_jsonl(tmp_path / "wrapped.jsonl", [{"event": event, "agent": "collector"} for event in events])
    code, rows, err = scan_json("--stats", wrapped)
    assert code == scan.EXIT_INCOMPLETE and rows == []
    (sentence,) = _sentences(err)
    assert "wrapped.jsonl: none of its 24 records is of a shape scan reads" in sentence
    assert "top-level keys event, agent" in sentence and "Sentinel OfficeActivity" in sentence
    assert "0 read by a source reader, 24 of a shape no reader knows" in err


def test_test_wrappers_and_a_wrong_format_in_are_said(tmp_path):
    elastic = tmp_path / "elastic-events.json"
    elastic.write_text(json.dumps({"events": [{"event": {"original": json.dumps(OUTLOOK_FORWARD)}}]}), encoding="utf-8")
    sekoia = tmp_path / "sekoia.json"
    sekoia.write_text(json.dumps({"input": {"message": OUTLOOK_FORWARD}, "expected": {}}), encoding="utf-8")
    export = write_jsonl(tmp_path / "export.json", [{"preview": False, "result": raw_only(OUTLOOK_FORWARD)}])
    for path, keys in ((elastic, "key events"), (sekoia, "keys input, expected")):
        code, rows, err = scan_json(path)
        assert code == scan.EXIT_INCOMPLETE and rows == []
        (sentence,) = _sentences(err)
        assert "none of its 1 record is of a shape" in sentence and keys in sentence, sentence
    code, rows, err = scan_json("--format-in", "o365-json", export)
    assert code == scan.EXIT_INCOMPLETE and rows == []
    (sentence,) = _sentences(err)
    assert "export.json" in sentence and "keys preview, result" in sentence
    code, rows, err = scan_json(export)  # read as what it is, it is found
    assert code == scan.EXIT_FINDINGS and rows


def test_a_file_with_some_records_of_an_unknown_shape_counts_them(tmp_path):
    mixed = write_jsonl(tmp_path / "mixed.jsonl", [OUTLOOK_FORWARD, {"wrapper": OUTLOOK_FORWARD}, OUTLOOK_FORWARD])
    code, rows, err = scan_json(mixed)
    assert code == scan.EXIT_FINDINGS and len(rows) == 2
    (sentence,) = _sentences(err)
    assert "1 of its 3 records are of a shape no reader knows" in sentence and "line 2" in sentence
    assert "1 record of a shape no reader knows" in err


def test_an_evtx_file_damaged_in_its_middle_keeps_the_records_around_the_damage(tmp_path, evtx_reader):
    files = [path for path in _real_evtx_files_or_skip() if os.path.getsize(path) > 0x1000 + 3 * 0x10000]
    if not files:
        pytest.skip("no real .evtx file of three chunks or more")
    with open(files[0], "rb") as handle:
        data = bytearray(handle.read())
    whole = len([1 for _ in read_file(files[0], "auto", FileReport(files[0]), Progress(len(data)))])
    for offset in range(0x1000 + 0x10000 + 0x300, 0x1000 + 0x10000 + 0x8000, 97):
        data[offset] = (data[offset] * 7 + 13) % 256
    damaged = tmp_path / "damaged.evtx"
    damaged.write_bytes(bytes(data))
    code, rows, err = scan_json("--stats", damaged)
    assert "Traceback" not in err and code in (scan.EXIT_INCOMPLETE, scan.EXIT_FINDINGS)
    assert any("damaged.evtx" in line and ("could not be decoded" in line or "damaged" in line)
               for line in _sentences(err)), err
    read = int(re.search(r"damaged.evtx: (\d+) events", err).group(1))
    assert whole // 3 < read < whole  # the chunks before and after the damage were read


@pytest.mark.parametrize("name,content,code,said,agreed", [
    ("missing.jsonl", None, scan.EXIT_INCOMPLETE, "does not exist.", None),
    ("truncated.jsonl", (json.dumps(OUTLOOK_FORWARD) + "\n" + json.dumps(OUTLOOK_FORWARD)[:50]).encode(), 0,
     "not complete JSON", "found the same 1 findings"),
    ("bom.jsonl", b"\xef\xbb\xbf" + json.dumps(OUTLOOK_FORWARD).encode() + b"\n", 0, None, "found the same 1 findings"),
    ("array.json", json.dumps([OUTLOOK_FORWARD, OUTLOOK_FORWARD], indent=2).encode(), 0, None,
     "found the same 2 findings"),
])
def test_the_demo_on_a_bad_file_says_one_sentence(built_app, tmp_path, monkeypatch, capsys, name, content, code, said,
                                                  agreed):
    from tools import demo

    monkeypatch.setattr(demo, "build", lambda: (built_app, os.path.join(REPO, "build", "t1114.tgz")))
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert demo.main([str(path)]) == code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if said:
        (sentence,) = _sentences(err)
        assert name in sentence and said in sentence
    if agreed:
        assert agreed in out
