"""The normaliser registry (app/normalise/__init__.py): its order is stated and held here, and
each normaliser writes only the sources and facts it declares, which is what the rule schema
checks rules against."""

from app.normalise import REGISTRY, RecordView, declared_facts, normalise
from tests.conftest import whole_reading
from tests.rule_events import all_cases, presentations


def test_the_order_is_the_stated_one():
    assert [n.name for n in REGISTRY] == [
        "o365", "message_tracking", "defender_xdr", "graph_activity", "entra", "exchange_cmdlet_log",
        "windows_logon", "powershell_module", "powershell", "windows_endpoint"]


def test_every_event_comes_from_the_first_normaliser_that_recognises_it_and_matches_its_declaration(engine):
    facts = declared_facts()
    produced = set()
    context = whole_reading(engine.context)   # negative endpoint cases become events too
    for rule_id, _polarity, case in all_cases():
        for shape, record in presentations(case):
            view = RecordView(record)
            first = next((n for n in REGISTRY if n.recognises(view)), None)
            events = normalise(record, context)
            if first is None:
                assert events == [], (rule_id, case["name"], shape)
                continue
            for event in events:
                assert event.source in first.facts, (rule_id, case["name"], shape, first.name, event.source)
                undeclared = set(event.extra) - facts[event.source]
                assert not undeclared, "%s writes undeclared facts %s for %s" % (first.name, undeclared, event.source)
                produced.add(first.name)
    # Every normaliser is reached by some rule's test events.
    assert produced == {n.name for n in REGISTRY}


def test_defender_and_graph_event_hub_records_are_not_read_as_entra():
    # Their Event Hub records carry operationName and category, which Entra is recognised by.
    names = [n.name for n in REGISTRY]
    assert names.index("defender_xdr") < names.index("entra")
    assert names.index("graph_activity") < names.index("entra")
    record = {"category": "AdvancedHunting-DeviceProcessEvents", "operationName": "Publish",
              "properties": {"DeviceId": "d1", "FileName": "outlook.exe"}}
    view = RecordView(record)
    recognising = [n.name for n in REGISTRY if n.recognises(view)]
    assert recognising[0] == "defender_xdr", recognising


def test_windows_event_log_records_go_to_the_windows_readers_alone():
    """An event of a Windows event log sourcetype is offered only to the readers whose tables say
    they read Windows event logs. Held on every such event the tests, the benchmark mixes and the
    23,371 real Windows events hold: no other reader would have taken one of them first."""
    from app.normalise.reader_table import WINDOWS_EVENT_LOG_SOURCETYPES
    from tests.helpers import AWKWARD_EVENTS, MIXES, hayabusa_windows_events, mix_records

    windows = [n.name for n in REGISTRY if n.table.windows_event_log]
    assert windows == ["exchange_cmdlet_log", "windows_logon", "powershell_module", "powershell", "windows_endpoint"]
    records = [record for _rule, _polarity, case in all_cases() for _shape, record in presentations(case)]
    records += list(AWKWARD_EVENTS) + hayabusa_windows_events()
    for mix in MIXES:
        records += mix_records(mix, 300)
    checked = 0
    for record in records:
        view = RecordView(record)
        if not view.sourcetype.startswith(WINDOWS_EVENT_LOG_SOURCETYPES):
            continue
        first = next((n for n in REGISTRY if n.recognises(view)), None)
        assert first is None or first.name in windows, (first.name, record.get("sourcetype"))
        checked += 1
    assert checked > 20000


def test_a_windows_sourcetype_is_not_read_by_the_cloud_readers():
    # A Defender-shaped record sent under a Windows event log sourcetype is a Windows event: the
    # readers of Defender XDR, Graph, Entra, message tracking and Office 365 are not asked.
    record = {"sourcetype": "XmlWinEventLog", "category": "AdvancedHunting-DeviceFileEvents",
              "properties.ActionType": "FileCreated", "properties.FileName": "bob.pst"}
    assert normalise(dict(record, sourcetype="mscs:azure:eventhub"), _plain_context())
    assert normalise(record, _plain_context()) == []


def _plain_context():
    from app.normalise import NormaliseContext
    return NormaliseContext(None, None, {}, None)
