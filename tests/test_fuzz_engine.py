"""Hostile events through the engine: nothing a user's data holds may raise, alter the event,
flood the job inspector or run long (counted in steps of app/ code, tools/step_count.py, never
in seconds: a clock on a busy CI machine measures the machine).

Cases are built around every rule's own test events and every operation the engine indexes
(tools/fuzz.py), so they follow the rule set as it grows. The long run is
`python tools/fuzz.py --cases 100000`; these keep the default test run quick.
"""

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine import Engine
from app.finding import OUTPUT_FIELDS
from app.problems import ProblemLog
from tests.conftest import REPO
from tools.fuzz import EXTRA_SOURCETYPES, MAX_EVENT_STEPS, CaseMaker, check_case, seed_records

# Each hostile input below once cost seconds (millions of steps or more); fixed, none of them
# takes more than about 60,000 steps. A tenth of the fuzz budget still leaves a wide margin.
HOSTILE_MAX_STEPS = MAX_EVENT_STEPS // 10
FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def fuzz_engine():
    """An engine of its own, so its ProblemLog shows only what these tests caused."""
    return Engine.load(REPO, ProblemLog())


def _operations(engine):
    return sorted(engine._by_operation) or ["new-inboxrule"]


def _assert_passes(engine, record):
    failures, steps, _ = check_case(engine, record, MAX_EVENT_STEPS)
    assert failures == [], "%s after %d steps on %r" % (failures, steps, {k: str(v)[:200] for k, v in record.items()})


@FUZZ
@given(st.integers(min_value=0, max_value=2 ** 32))  # a seed: the cases draw thousands of numbers
def test_mangled_rule_events_pass_through(fuzz_engine, seed):
    maker = CaseMaker(fuzz_engine, random.Random(seed))
    for _ in range(4):
        _assert_passes(fuzz_engine, maker.case())


SPLUNK_VALUE = st.one_of(
    st.text(max_size=300),
    st.lists(st.text(max_size=40), max_size=30),
    st.just(""),
)
WRONG_VALUE = st.one_of(
    st.none(), st.integers(), st.floats(), st.booleans(), st.binary(max_size=200),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.text(max_size=3), max_size=2)),
             max_size=5),
)


@st.composite
def records(draw, engine):
    """Any field names the rules' events use, any values, any known sourcetype and operation."""
    seeds = seed_records()
    names = sorted({name for record in seeds for name in record})
    sourcetypes = sorted({str(r.get("sourcetype", "")) for r in seeds} | set(EXTRA_SOURCETYPES))
    record = draw(st.dictionaries(st.sampled_from(names) | st.text(max_size=20),
                                  SPLUNK_VALUE | WRONG_VALUE, max_size=12))
    if draw(st.booleans()):
        record["sourcetype"] = draw(st.sampled_from(sourcetypes))
    if draw(st.booleans()):
        record["Operation"] = draw(st.sampled_from(_operations(engine)))
    return record


def test_generated_records_pass_through(fuzz_engine):
    @FUZZ
    @given(records(fuzz_engine))
    def check(record):
        _assert_passes(fuzz_engine, record)
    check()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(
        st.sampled_from(["Name", "Value", "ActionType", "Recipients", "Actions", "x"]) | st.text(max_size=8),
        children, max_size=6),
    max_leaves=40)


def test_any_json_in_parameters_and_operation_properties(fuzz_engine):
    """Whatever Parameters / OperationProperties hold, in _raw and as extracted multivalues."""
    names = ["ForwardTo", "RedirectTo", "ForwardingSmtpAddress", "Identity", "RuleActions", "ServerRule", "Name"]

    @FUZZ
    @given(st.sampled_from(_operations(fuzz_engine)), JSON, JSON,
           st.lists(st.tuples(st.sampled_from(names) | st.text(max_size=10), JSON), max_size=6))
    def check(operation, parameters, properties, pairs):
        items = [{"Name": name, "Value": value if not isinstance(value, (dict, list)) else json.dumps(value)}
                 for name, value in pairs]
        for shape in (parameters, properties, items):
            audit = {"Operation": operation, "Workload": "Exchange", "RecordType": 2,
                     "UserId": "a@contoso.com", "Parameters": shape, "OperationProperties": items}
            record = {"sourcetype": "o365:management:activity", "_raw": json.dumps(audit)}
            _assert_passes(fuzz_engine, record)
            extracted = {"sourcetype": "o365:management:activity", "Operation": operation, "Workload": "Exchange",
                         "Parameters{}.Name": [str(p[0]) for p in pairs],
                         "Parameters{}.Value": [json.dumps(p[1]) for p in pairs][1:],
                         "OperationProperties{}.Name": ["RuleActions"],
                         "OperationProperties{}.Value": [json.dumps(shape)]}
            _assert_passes(fuzz_engine, extracted)
    check()


# Found by tools/fuzz.py; each hung the search or cost seconds per event before its fix.
HOSTILE = [
    ("cmdlet call closed by ')'", {"sourcetype": "XmlWinEventLog", "EventCode": "4104",
                                   "ScriptBlockText": "$r = (New-InboxRule -Name x -ForwardTo a@b.example)"}),
    ("'[smtp:' never closed", {"sourcetype": "MSExchange:2019:MessageTracking", "event_id": "RECEIVE",
                               "source_context": "x", "recipient_address": "[smtp:" * 11000}),
    ("8000 distinct addresses", {"sourcetype": "MSExchange:2019:MessageTracking", "event_id": "RECEIVE",
                                 "source_context": "x",
                                 "recipient_address": ";".join("a%d@b.example" % i for i in range(8000))}),
    ("JSON nested 100000 deep", {"sourcetype": "o365:management:activity",
                                 "_raw": '{"Operation":"Set-Mailbox","a":' + "[" * 100000}),
]


@pytest.mark.parametrize("name,record", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_inputs_found_by_fuzzing(fuzz_engine, name, record):
    failures, steps, _ = check_case(fuzz_engine, record, HOSTILE_MAX_STEPS)
    assert failures == [], (name, failures, steps)


def test_destination_with_thousands_of_labels_is_cheap(fuzz_engine):
    """One address 'x@a.a.a....example' of 64 KB once cost 4.8 s in the organisation-domain check."""
    operations = [op for op in _operations(fuzz_engine) if "-" in op] or _operations(fuzz_engine)
    for operation in operations:
        for name in ("ForwardTo", "RedirectTo", "ForwardingSmtpAddress", "BlindCopyTo", "CopyTo"):
            audit = {"Operation": operation, "Workload": "Exchange", "RecordType": 1, "UserId": "u@contoso.com",
                     "Parameters": [{"Name": name, "Value": "x@" + "a." * 32000 + "example"}]}
            record = {"sourcetype": "o365:management:activity", "_raw": json.dumps(audit)}
            failures, steps, _ = check_case(fuzz_engine, record, HOSTILE_MAX_STEPS)
            assert failures == [], (operation, name, steps)


def test_a_megabyte_in_every_field_at_once(fuzz_engine):
    one_per_sourcetype = {str(seed.get("sourcetype")): seed for seed in seed_records()}
    for seed in one_per_sourcetype.values():
        record = {name: ("x@y.example;" * 90000)[: 1 << 20] for name in seed}
        record["sourcetype"] = seed.get("sourcetype", "")
        _assert_passes(fuzz_engine, record)


def test_empty_and_minimal_records(fuzz_engine):
    for record in ({}, {"_raw": ""}, {"sourcetype": ""}, {"_raw": None}, {"Operation": ""}, {"_time": "x"}):
        _assert_passes(fuzz_engine, record)


def test_problems_are_one_warning_per_kind_not_per_event():
    """A thousand events with the same fault give one message; counts still say how many."""
    problems = ProblemLog()
    engine = Engine.load(REPO, problems)
    problems.drain()
    at_load = set(problems.counts())
    maker = CaseMaker(engine, random.Random(7))
    cases = [maker.case() for _ in range(100)]
    for _ in range(2):
        for record in cases:
            engine.annotate(dict(record))
    counts = problems.counts()
    messages = problems.drain()
    assert len(messages) == len(set(counts) - at_load) <= 20
    assert all(len(message) <= ProblemLog.MAX_MESSAGE_CHARS for message in messages)
    assert sum(counts.values()) >= len(messages)
    for record in cases:
        engine.annotate(dict(record))
    assert problems.drain() == []  # nothing new: kinds already reported stay quiet


def test_problem_log_is_bounded():
    problems = ProblemLog()
    for index in range(ProblemLog.MAX_KINDS + 50):
        problems.report("kind%d" % index, "x" * 5000)
    messages = problems.drain()
    assert len(messages) == ProblemLog.MAX_KINDS + 1
    assert "counted but not shown" in messages[-1]
    assert max(len(m) for m in messages) <= ProblemLog.MAX_MESSAGE_CHARS
    assert problems.counts()["kind120"] == 1


def test_annotate_keeps_input_fields_and_writes_every_output_field(fuzz_engine):
    maker = CaseMaker(fuzz_engine, random.Random(11))
    for _ in range(80):
        record = maker.case()
        annotated = dict(record)
        fuzz_engine.annotate(annotated)
        assert set(OUTPUT_FIELDS) <= set(annotated)
        for name, value in record.items():
            if name not in OUTPUT_FIELDS:
                assert annotated[name] is value


def test_a_case_over_its_step_budget_fails_instead_of_hanging(fuzz_engine):
    record = dict(HOSTILE[0][1])
    failures, steps, _ = check_case(fuzz_engine, record, max_steps=10)
    assert failures == ["over_10_steps"] and steps == 11


def test_twice_the_addresses_cost_at_most_about_twice_the_steps(fuzz_engine):
    """The 8,000-address case was quadratic before its fix; counted, not timed."""
    def addresses(count):
        return {"sourcetype": "MSExchange:2019:MessageTracking", "event_id": "RECEIVE", "source_context": "x",
                "recipient_address": ";".join("a%d@b.example" % i for i in range(count))}
    failures, steps, _ = check_case(fuzz_engine, addresses(2000))
    failures_doubled, doubled, _ = check_case(fuzz_engine, addresses(4000))
    assert failures == failures_doubled == []
    assert doubled <= 2.2 * steps, "message tracking RECEIVE: %d steps for 2,000 recipients, %d for 4,000" % (
        steps, doubled)
