"""Each reader against its table (app/normalise/reader_table.py): on every rule's test events in
every shape, every real-shaped mix, the awkward endpoint events and the real Windows events, a
reader reads no event field its table does not name, produces only the sources, facts and
operations its table names, and the endpoint reader's events carry exactly the facts its gates
were given. Leaving a field, fact or gated fact out of a table fails here, not in a search.
"""

import copy

import pytest

import app.normalise as normalise_module
from app.normalise import REGISTRY, RecordView, windows_endpoint, windows_text
from app.normalise.reader_table import ReaderTable
from tests.conftest import whole_reading
from tests.rule_events import all_cases, presentations
from tests.helpers import AWKWARD_EVENTS, MIXES, hayabusa_windows_events, mix_records

# Read by RecordView itself before any reader looks at the event.
VIEW_FIELDS = frozenset(("sourcetype",))


class ReadLog:
    """A record that notes the field names read of it. Reading it whole (a copy, iteration) is
    refused: a reader that did would read fields its table cannot name."""

    def __init__(self, record, names):
        self._record = record
        self.names = names

    def get(self, name, default=None):
        self.names.append(name)
        return self._record.get(name, default)

    def __contains__(self, name):
        self.names.append(name)
        return name in self._record

    def __getitem__(self, name):
        self.names.append(name)
        return self._record[name]

    def _whole(self, *_):
        raise AssertionError("a reader read the whole record")

    __iter__ = __len__ = keys = items = values = copy = _whole


def _classic_logged(original):
    """with_classic_fields over a ReadLog: the merged record is logged too (the merge itself
    reads `_raw` and copies the record, which is RecordView's, not a reader's)."""
    def merged(record):
        if not isinstance(record, ReadLog):
            return original(record)
        result = original(record._record)
        if result is record._record:
            return record
        record.names.append("_raw")
        return ReadLog(result, record.names)
    return merged


def _records():
    records = [record for _, _, case in all_cases() for _, record in presentations(case)]
    for mix in MIXES:
        records += mix_records(mix, 400)
    return records + AWKWARD_EVENTS


def reads_outside_tables(context, records, tables=None):
    """{reader name: field names it read that its table does not name}, and the facts,
    sources and operations it produced that its table does not name."""
    tables = tables or {normaliser.name: normaliser.table for normaliser in REGISTRY}
    parameters = tuple(context.parameter_fields.values())
    outside = {}
    for record in records:
        names = []
        view = RecordView(ReadLog(record, names))
        del names[:]
        for normaliser in REGISTRY:
            table = tables[normaliser.name]
            del names[:]
            taken = normaliser.recognises(view)
            if taken:
                events = normaliser.normalise(view, context)
                for event in events:
                    event.complete()   # facts a reader defers are read within its table too
            for name in names:
                if name not in VIEW_FIELDS and not table.reads(name, parameters):
                    outside.setdefault(normaliser.name, set()).add("field " + name)
            if taken:
                for event in events:
                    for fact in set(event.extra) - table.facts.get(event.source, frozenset()):
                        outside.setdefault(normaliser.name, set()).add("fact %s of %s" % (fact, event.source))
                    if not table.writes_operation(event.source, event.operation):
                        outside.setdefault(normaliser.name, set()).add("operation %s of %s" % (
                            event.operation, event.source))
                break
    return outside


@pytest.fixture(scope="module")
def context(engine):
    return whole_reading(engine.context)   # every endpoint event read whole, none gated out


@pytest.fixture(scope="module")
def records():
    return _records()


@pytest.fixture(autouse=True)
def classic_logged(monkeypatch):
    monkeypatch.setattr(normalise_module, "with_classic_fields", _classic_logged(normalise_module.with_classic_fields))


def test_every_reader_reads_and_writes_only_what_its_table_names(context, records):
    assert reads_outside_tables(context, records) == {}


def test_real_windows_events_are_read_within_the_tables(context):
    assert reads_outside_tables(context, hayabusa_windows_events()) == {}


def _without(table, what, name):
    """A copy of `table` with `name` left out of fields[what] (or of facts, for what='facts')."""
    changed = copy.copy(table)
    if what == "facts":
        changed.facts = {source: facts - {name} for source, facts in table.facts.items()}
    else:
        changed.fields = dict(table.fields, **{what: tuple(n for n in table.fields[what] if n != name)})
    return changed


@pytest.mark.parametrize("reader, what, name", [
    ("windows_endpoint", "extra.command_line", "CommandLine"),
    ("windows_endpoint", "facts", "original_file_name"),
    ("o365", "extra.operation_count", "OperationCount"),
    ("message_tracking", "event-id", "event-id"),
    ("graph_activity", "recognition", "category"),
    ("defender_xdr", "process extra.command_line", "ProcessCommandLine"),
    ("defender_xdr", "recognition row", "DeviceId"),
    ("windows_logon", "extra.workstation", "WorkstationName"),
])
def test_a_field_or_fact_left_out_of_a_table_fails_this_test(context, records, reader, what, name):
    tables = {normaliser.name: normaliser.table for normaliser in REGISTRY}
    tables[reader] = _without(tables[reader], what, name)
    outside = reads_outside_tables(context, records, tables)
    assert set(outside) == {reader}, outside
    assert any(name in finding for finding in outside[reader]), outside


class _Recording:
    """A gate that lets every event through and keeps the facts it was given."""

    def __init__(self):
        self.given = []

    def __call__(self, facts):
        self.given.append(facts)
        return True


def test_endpoint_events_carry_exactly_the_facts_their_gate_was_given(engine, records):
    context = copy.copy(engine.context)
    recording = _Recording()
    context.endpoint_gates = {operation: recording for operation in engine.context.endpoint_gates}
    checked = 0
    for record in records + hayabusa_windows_events()[:3000]:
        del recording.given[:]
        events = windows_endpoint.normalise_windows_endpoint(record, context)
        if not events:
            continue
        event = events[0]
        paths = windows_endpoint.READER.gated[event.source]
        assert recording.given == [tuple(event.value(path) for path in paths)], (event, paths)
        checked += 1
    assert checked > 100, "endpoint events were read: the comparison is not vacuous"


def test_a_gated_fact_the_reader_does_not_build_stops_every_event_loudly(engine, monkeypatch):
    table = windows_endpoint.READER
    monkeypatch.setattr(table, "gated", dict(table.gated, process=table.gated["process"] + ("extra.decoded_command",)))
    record = {"EventCode": "1", "Image": r"C:\Windows\System32\cmd.exe", "CommandLine": "cmd /c dir"}
    context = copy.copy(engine.context)
    context.endpoint_gates = {"ProcessCreate": lambda facts: True}
    with pytest.raises(KeyError):
        windows_endpoint.normalise_windows_endpoint(record, context)


def test_engine_gates_are_built_from_the_tables_that_name_gated_facts(engine):
    tables = [normaliser.table for normaliser in REGISTRY if normaliser.table.gated]
    assert {table.name for table in tables} == {windows_endpoint.READER.name, windows_text.POWERSHELL_READER.name}
    named = {operation for table in tables for source in table.gated for operation in table.named_operations(source)}
    assert set(engine.context.endpoint_gates) <= named
    assert named <= set(engine.context.endpoint_gates), "every endpoint operation of the shipped rules has a gate"


def test_a_table_cannot_give_operations_of_a_source_it_does_not_produce():
    with pytest.raises(ValueError):
        ReaderTable("x", facts={"a": ()}, fields={}, operations={"b": ("Op",)})


READER_MODULES = {"o365": "o365", "message_tracking": "message_tracking", "defender_xdr": "defender_xdr",
                  "graph_activity": "graph_activity", "entra": "entra", "exchange_cmdlet_log": "windows_text",
                  "windows_logon": "windows_logon", "powershell_module": "powershell_module_log",
                  "powershell": "windows_text",
                  "windows_endpoint": "windows_endpoint"}


def test_every_field_name_written_in_a_readers_code_is_in_a_table_of_its_module():
    """The complement of the tests above for code no test event reaches: each field name a
    reader module reads by name (record.get("X"), first_field(record, ("X", ...))) is named by
    the table of a reader in that module."""
    import os
    import re
    from tests.conftest import REPO
    tables_of = {}
    for normaliser in REGISTRY:
        tables_of.setdefault(READER_MODULES[normaliser.name], []).append(normaliser.table)
    assert set(READER_MODULES) == {normaliser.name for normaliser in REGISTRY}
    for module, tables in tables_of.items():
        with open(os.path.join(REPO, "app", "normalise", module + ".py"), encoding="utf-8") as handle:
            source = handle.read()
        names = set(re.findall(r'record\.get\("([^"]+)"', source))
        for group in re.findall(r'first_field\(record, \(([^)]*)\)', source):
            names.update(re.findall(r'"([^"]+)"', group))
        unnamed = sorted(name for name in names if not name.endswith(".") and not any(t.reads(name) for t in tables))
        assert unnamed == [], "app/normalise/%s.py reads %s, which its reader table does not name" % (module, unnamed)
