"""Hostile events through the real command, as splunkd runs it (SCP v2 over a subprocess).

What a user sees must hold whatever the data: the search does not end, `mode=all` returns
exactly the events it was given in their order with their fields intact, `mode=findings`
returns a subset in order, and problems arrive as one warning per kind, not one per event.
"""

import csv
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine import Engine
from app.finding import OUTPUT_FIELDS
from tests.conftest import REPO
from tools.chunked_client import ChunkedCommand, encode_records, run, script_path
from tools.fuzz import CaseMaker, seed_records

# Values of a megabyte come back through the client's csv reader too.
csv.field_size_limit(2 ** 31 - 1)
SERIAL = "fuzz_serial"
PROTOCOL = settings(max_examples=3, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


def splunkish(value):
    """A value as splunkd can send it: text, or a list of non-empty texts (never nested, never bytes)."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        items = [splunkish(item) for item in value]
        items = [item if isinstance(item, str) else ";".join(item) for item in items]
        return [item for item in items if item] or ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    elif isinstance(value, dict):
        value = json.dumps(value)
    elif not isinstance(value, str):
        value = str(value)
    return value.encode("utf-8", "replace").decode("utf-8")   # NUL stays: splunkd sends it as it is


def as_sent(record, serial):
    out = {str(name).replace("\x00", ""): splunkish(value) for name, value in record.items()
           if str(name) and not str(name).startswith("__mv_") and name not in OUTPUT_FIELDS}
    out[SERIAL] = str(serial)
    return out


def comparable(value):
    """How a value compares after a round trip: a one-item list comes back as its item."""
    if isinstance(value, list):
        return value[0] if len(value) == 1 else value
    return value


@pytest.fixture(scope="module")
def case_maker():
    return lambda rng: CaseMaker(Engine.load(REPO), rng)


def _assert_conserved(sent, result):
    assert result["exit_code"] == 0, result["stderr"][-3000:]
    assert not [m for m in result["messages"] if m[0] in ("ERROR", "FATAL")], result["messages"]
    returned = result["records"]
    assert [r.get(SERIAL) for r in returned] == [r[SERIAL] for r in sent]
    for before, after in zip(sent, returned):
        for name, value in before.items():
            if name in OUTPUT_FIELDS:
                continue
            assert comparable(after.get(name, "")) == comparable(value), (before[SERIAL], name)
        assert set(OUTPUT_FIELDS) <= set(after)


def _warnings(result):
    return [text for level, text in result["messages"] if level == "WARN" and text.startswith("t1114:")]


def test_mode_all_returns_every_mangled_event_in_order(built_app, case_maker):
    @PROTOCOL
    @given(st.integers(min_value=0, max_value=2 ** 32))  # a seed: the cases draw thousands of numbers
    def check(seed):
        rng = random.Random(seed)
        maker = case_maker(rng)
        sent = [as_sent(maker.case(), index) for index in range(30)]
        result = run(script_path(built_app), sent, args=["mode=all"], chunk_size=rng.choice((1, 7, 50)))
        _assert_conserved(sent, result)
        assert len(_warnings(result)) <= 20
    check()


def test_mode_findings_returns_an_ordered_subset(built_app):
    maker = CaseMaker(Engine.load(REPO), random.Random(5))
    seeds = [as_sent(record, index) for index, record in enumerate(seed_records())]
    mangled = [as_sent(maker.case(), len(seeds) + index) for index in range(60)]
    sent = seeds + mangled
    result = run(script_path(built_app), sent, chunk_size=13)
    assert result["exit_code"] == 0, result["stderr"][-3000:]
    serials = [int(r[SERIAL]) for r in result["records"]]
    assert serials == sorted(serials) and set(serials) <= set(range(len(sent)))
    assert result["records"], "the rules' positive events should give findings"
    assert all(r["t1114_status"] == "finding" for r in result["records"])


def test_one_warning_per_kind_across_chunks(built_app):
    """The same fault in every event of every chunk: one warning for the whole search."""
    bad = {"sourcetype": "o365:management:activity", "_raw": '{"Operation": "Set-Mailbox", broken',
           "Operation": "Set-Mailbox", "Workload": "Exchange",
           "Parameters{}.Name": ["Identity", "ForwardingSmtpAddress"], "Parameters{}.Value": ["x"]}
    sent = [as_sent(bad, index) for index in range(500)]
    result = run(script_path(built_app), sent, args=["mode=all"], chunk_size=50)
    _assert_conserved(sent, result)
    warnings = _warnings(result)
    assert len(warnings) == len(set(warnings)) <= 3, warnings
    assert any("JSON" in w for w in warnings)


def test_empty_chunks_anywhere(built_app):
    seeds = [as_sent(record, index) for index, record in enumerate(seed_records()[:5])]
    with ChunkedCommand(script_path(built_app), ["mode=all"]) as command:
        command.getinfo()
        out = []
        for chunk in ([], [], seeds[:2], [], seeds[2:], []):
            _, records = command.execute(chunk)
            out.extend(records)
        _, records = command.execute([], finished=True)
        out.extend(records)
        code = command.close()
    assert code == 0, command.stderr()[-2000:]
    assert [r[SERIAL] for r in out] == [r[SERIAL] for r in seeds]


def test_no_records_at_all(built_app):
    result = run(script_path(built_app), [], args=["mode=all"])
    assert result["exit_code"] == 0 and result["records"] == []


def test_non_utf8_bytes_in_the_body(built_app):
    """splunkd sends UTF-8; if a byte is not, the event still comes back (with U+FFFD)."""
    seeds = seed_records()
    sent = [as_sent(dict(seeds[index % len(seeds)], note="MARK%d" % index), index) for index in range(20)]
    body = encode_records(sent)
    for index in range(20):
        body = body.replace(b"MARK%d" % index, b"\xff\xfe\xc3(\xed\xa0\x80-%d" % index)
    with ChunkedCommand(script_path(built_app), ["mode=all"]) as command:
        command.getinfo()
        command._send({"action": "execute", "finished": True}, body)
        _, out_body = command._receive()
        code = command.close()
    assert code == 0, command.stderr()[-2000:]
    text = out_body.decode("utf-8")  # what the command writes is UTF-8 whatever it read
    assert text.count("\ufffd") >= 20
    from tools.chunked_client import decode_records
    assert [r[SERIAL] for r in decode_records(out_body)] == [str(i) for i in range(20)]


def test_megabyte_values_and_thousands_of_multivalues(built_app):
    seeds = seed_records()
    sent = []
    for index, seed in enumerate(seeds[:6]):
        record = as_sent(seed, index)
        record["_raw"] = record.get("_raw", "") + "x" * (1 << 20)
        record["many"] = ["v%d" % i for i in range(5000)]
        sent.append(record)
    result = run(script_path(built_app), sent, args=["mode=all"])
    _assert_conserved(sent, result)


def test_braces_in_a_warning_do_not_end_the_search(built_app):
    """Warning texts name fields such as Parameters{}.Name; splunklib formats messages."""
    bad = {"sourcetype": "o365:management:activity", "Operation": "Set-Mailbox", "Workload": "Exchange",
           "Parameters{}.Name": ["Identity", "ForwardingSmtpAddress"], "Parameters{}.Value": ["x"]}
    result = run(script_path(built_app), [as_sent(bad, 0)], args=["mode=all"])
    _assert_conserved([as_sent(bad, 0)], result)
    assert any("Parameters{}.Name" in w for w in _warnings(result))


def test_json_escapes_of_lone_surrogates_do_not_end_the_search(built_app):
    """'\\udce9' in a JSON _raw is valid ASCII JSON but decodes to a lone surrogate; one in an
    output field made splunklib's UTF-8 write fail, ending the search."""
    sent = []
    for index, seed in enumerate(seed_records()):
        if "_raw" in seed:
            record = as_sent(seed, index)
            record["_raw"] = record["_raw"].replace("@", "\\udce9@")
            sent.append(record)
    result = run(script_path(built_app), sent, args=["mode=all"])
    _assert_conserved(sent, result)
    assert any(r["t1114_status"] for r in result["records"]), "some of these should still be findings"
