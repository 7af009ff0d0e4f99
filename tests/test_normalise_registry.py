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
