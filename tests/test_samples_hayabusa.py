"""Real Windows noise through the real command: 23,371 events of other techniques and benign
activity from Yamato-Security/hayabusa-sample-evtx, shaped as Splunk hands them over
(../shared/datasets/Yamato-Security__hayabusa-sample-evtx/SOURCES.md). None is T1114, so
every finding on them is a false positive. Also the 35 events picked because each sits next
to a T1114 condition, and the real MSExchange Management (CmdletLogs) records."""

import gzip
import json
import os


from tests.conftest import missing_shared_data, shared_datasets, whole_reading
from tools.chunked_client import run, script_path

FOLDER = "Yamato-Security__hayabusa-sample-evtx"


def _lines(name):
    path = os.path.join(shared_datasets(), FOLDER, name)
    if not os.path.exists(path):
        missing_shared_data("%s is not in ../shared/datasets" % name)
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _findings(built_app, records):
    for index, record in enumerate(records):
        record["replay_id"] = str(index)
    result = run(script_path(built_app), records)  # mode=findings: only events with a finding come back
    assert result["exit_code"] == 0, result["stderr"][-2000:]
    return result


def test_real_windows_noise_gives_no_finding(built_app, engine):
    pool = _lines("evtx_pool.jsonl.gz")
    records = [item["event"] for item in pool]
    assert len(records) > 20000
    # Not a vacuous silence: thousands of them are read as events the rules are tried on (the
    # endpoint gates answer most process and file events before an event is made, so they are
    # counted without them; tests/test_endpoint_gate.py holds the gates to this whole reading).
    from app.normalise import normalise
    context = whole_reading(engine.context)
    read = sum(1 for record in records if normalise(record, context))
    assert read > 8000, read
    result = _findings(built_app, records)
    shown = ["%s rec %s: %s %s" % (pool[int(r["replay_id"])]["path"], pool[int(r["replay_id"])]["rec"],
                                    r["t1114_rule"], r["t1114_reason"]) for r in result["records"][:10]]
    assert result["records"] == [], "%d false positives, first: %s" % (len(result["records"]), "\n".join(shown))
    # Reading them must not have cost a problem message per kind either (bad JSON, budgets, ...).
    assert not [text for level, text in result["messages"] if level == "ERROR"], result["messages"]


def test_near_miss_events_give_no_finding(built_app):
    cases = _lines("near_miss_cases.jsonl.gz")
    assert all(case["expect"] == "none" for case in cases)
    result = _findings(built_app, [case["event"] for case in cases])
    assert result["records"] == [], [(r["holdout_id"], r["t1114_rule"]) for r in result["records"]]


def test_real_exchange_cmdlet_logs_are_read_and_failed_ones_not_reported(engine):
    """The real CmdletLogs records (EventID 6, Install-/Enable-TransportAgent): the cmdlet name
    and parameters are read from the escaped <string> items, and a failure is never a finding."""
    from app.normalise.windows_text import cmdlet_log_strings

    events = [item["event"] for item in _lines("evtx_pool.jsonl.gz") if "MSExchange" in item["event"]["source"]]
    assert len(events) == 4
    for event in events:
        raw_only = {key: event[key] for key in ("sourcetype", "source", "host", "_time", "_raw")}
        for shape in (event, raw_only):
            strings = cmdlet_log_strings(shape)
            assert strings[0] in ("Install-TransportAgent", "Enable-TransportAgent")
            assert strings[1].startswith(("-Name ", "-Identity ")) and strings[2].endswith("/admmig")
            assert engine.detect(shape, use_allowlist=False) == []
