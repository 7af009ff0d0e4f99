"""The Graph activity and Entra readers: the request paths Graph accepts (OData key form,
percent-encoding), inbox rules written through Graph, and their reader tables: each fact and
event attribute names the exact fields it is read from, and recognition reads the table."""

import json

import pytest

from app.normalise import NormaliseContext, RecordView, entra, graph_activity, normalise
from app.normalise.graph_activity import inbox_rule_request, mail_request
from app.problems import ProblemLog

GRAPH = "https://graph.microsoft.com/v1.0"


class _Every:
    def __contains__(self, item):
        return True


def _context():
    return NormaliseContext(_Every(), None, {}, ProblemLog())


@pytest.mark.parametrize("uri, expected", [
    (GRAPH + "/users('alice@contoso.com')/messages('AAMkAGI2=')", ("alice@contoso.com", "messages")),
    (GRAPH + "/users(id='alice@contoso.com')/messages", ("alice@contoso.com", "messages")),
    (GRAPH + "/users('5f6e7d8c-0000-4000-8000-123412341234')/mailFolders('inbox')/messages",
     ("5f6e7d8c-0000-4000-8000-123412341234", "messages")),
    (GRAPH + "/me/messages('AAMk')/$value", ("me", "message_content")),
    (GRAPH + "/users('a@contoso.com')/messages('AA/Mk')/attachments('1')", ("a@contoso.com", "attachments")),
    (GRAPH + "/users/ceo%40contoso.com/messages", ("ceo@contoso.com", "messages")),
    (GRAPH + "/users/ceo@contoso.com/me%73sages/AAMk/%24value", ("ceo@contoso.com", "message_content")),
    ("/beta/users/x/MailFolders/Inbox/Messages", ("x", "messages")),
])
def test_mail_reads_in_every_path_form_graph_accepts(uri, expected):
    assert mail_request(uri) == expected


@pytest.mark.parametrize("uri", [
    GRAPH + "/users('ceo@contoso.com')/mailFolders('inbox')",
    GRAPH + "/users('ceo@contoso.com')/photos('96x96')/$value",
    GRAPH + "/users/x/messagesX",
    GRAPH + "/users/x/mailFolders/inbox/messageRules",
    GRAPH + "/groups('g')/conversations",
])
def test_requests_that_read_no_mail(uri):
    assert mail_request(uri) is None


@pytest.mark.parametrize("uri, mailbox", [
    (GRAPH + "/me/mailFolders/inbox/messageRules", "me"),
    (GRAPH + "/users/ceo@contoso.com/mailFolders/inbox/messageRules/AQAAAJ5dZqA=", "ceo@contoso.com"),
    (GRAPH + "/users('ceo@contoso.com')/mailFolders('inbox')/messageRules('AQAAAJ5dZqA=')", "ceo@contoso.com"),
    (GRAPH + "/users/ceo%40contoso.com/mailFolders/inbox/message%52ules", "ceo@contoso.com"),
])
def test_inbox_rule_paths(uri, mailbox):
    assert inbox_rule_request(uri) == mailbox


@pytest.mark.parametrize("uri", [
    GRAPH + "/users/ceo@contoso.com/mailFolders/inbox/messages",
    GRAPH + "/users/ceo@contoso.com/mailFolders/inbox/messageRules/AQAA/extensions/x",
    GRAPH + "/users/ceo@contoso.com/mailboxSettings",
])
def test_not_inbox_rule_paths(uri):
    assert inbox_rule_request(uri) is None


def _graph_record(uri, method, status="201", user_id=""):
    return {"sourcetype": "mscs:azure:eventhub", "_raw": json.dumps({
        "category": "MicrosoftGraphActivityLogs", "operationName": "Microsoft Graph Activity",
        "properties": {"requestUri": uri, "requestMethod": method, "responseStatusCode": status,
                       "appId": "7f0e1c2d-1111-4222-8333-944455556666", "userId": user_id,
                       "servicePrincipalId": "0a9b8c7d-aaaa-4bbb-8ccc-ddddeeeeffff"}})}


def test_an_inbox_rule_written_through_graph_is_one_event_and_other_requests_none():
    uri = GRAPH + "/users('ceo@contoso.com')/mailFolders('inbox')/messageRules"
    (event,) = normalise(_graph_record(uri, "POST"), _context())
    assert (event.operation, event.mailbox, event.extra["mail_resource"]) == (
        "GraphInboxRuleWrite", "ceo@contoso.com", "message_rules")
    assert event.extra["other_mailbox"] == "true" and event.extra["app_only"] == "true"
    assert normalise(_graph_record(uri, "GET", "200"), _context()) == []       # listing rules writes none
    assert normalise(_graph_record(uri + "/AQAA", "DELETE", "204"), _context()) == []
    assert normalise(_graph_record(uri, "POST", "403"), _context()) == []      # refused


# --- the reader tables: each declared field is where its fact comes from ---

def _columns_record(shape):
    """A Graph request with a distinct value in every property, as extracted `properties.*`
    fields or as Log Analytics columns (no `_raw`)."""
    values = {"requestUri": GRAPH + "/users/cfo@contoso.com/messages", "requestMethod": "GET",
              "responseStatusCode": "200", "appId": "app-1", "userId": "user-2", "servicePrincipalId": "sp-3",
              "ipAddress": "198.51.100.4", "userAgent": "agent-5", "roles": "roles-6", "scopes": "scopes-7",
              "tenantId": "tenant-8"}
    if shape == "extracted":
        record = {"properties." + name: value for name, value in values.items()}
        record["category"] = "MicrosoftGraphActivityLogs"
    else:
        record = {graph_activity._COLUMNS[name]: value for name, value in values.items()}
        record["Type"] = "MicrosoftGraphActivityLogs"
    return record


# What is read straight from one property (derived facts are checked below).
_GRAPH_DIRECT = ("extra.request_uri", "extra.status", "extra.user_id", "extra.service_principal_id", "extra.roles",
                 "extra.scopes", "extra.calling_app_id", "app_id", "client_info", "organization", "src")


@pytest.mark.parametrize("shape", ["extracted", "log_analytics"])
@pytest.mark.parametrize("what", _GRAPH_DIRECT)
def test_each_graph_fact_comes_from_the_fields_its_table_names(shape, what):
    record = _columns_record(shape)
    declared = graph_activity.READER.fields[what]
    (event,) = normalise(dict(record), _context())
    assert event.value(what) in [record[name] for name in declared if name in record]
    without = {name: value for name, value in record.items() if name not in declared}
    events = normalise(without, _context())
    assert not events or events[0].value(what) in ("", ()), (what, events[0].value(what))


@pytest.mark.parametrize("what", ["extra.mail_resource", "extra.other_mailbox", "extra.app_only", "mailbox", "actor"])
def test_each_derived_graph_fact_changes_only_with_its_fields(what):
    """Changing a field the table does not name for a derived fact leaves the fact as it was."""
    record = _columns_record("extracted")
    (event,) = normalise(dict(record), _context())
    declared = set(graph_activity.READER.fields[what])
    for name in record:
        if name in declared or name in ("category", "properties.requestMethod", "properties.responseStatusCode",
                                        "properties.requestUri"):
            continue
        changed = dict(record, **{name: "changed-" + name})
        (other,) = normalise(changed, _context())
        assert other.value(what) == event.value(what), (what, name)


def test_every_fact_of_both_readers_has_its_own_fields():
    for table in (graph_activity.READER, entra.READER):
        for facts in table.facts.values():
            assert {"extra." + fact for fact in facts} <= set(table.fields), table.name


def test_graph_recognition_reads_the_fields_its_table_names(monkeypatch):
    record = {"Type": "MicrosoftGraphActivityLogs", "RequestUri": "x"}
    assert graph_activity.looks_like_graph_activity(RecordView(record))
    fields = dict(graph_activity.READER.fields, recognition=("category", "Category"))
    monkeypatch.setattr(graph_activity.READER, "fields", fields)
    assert not graph_activity.looks_like_graph_activity(RecordView(record))


def _entra_sign_in(shape):
    if shape == "extracted":
        return {"operationName": "Sign-in activity", "category": "SignInLogs",
                "properties.userPrincipalName": "pat@contoso.com", "properties.ipAddress": "198.51.100.7",
                "properties.appId": "app-1", "properties.userAgent": "agent-2", "properties.clientAppUsed": "IMAP4",
                "properties.appDisplayName": "name-3", "properties.status.errorCode": "50126"}
    return {"OperationName": "Sign-in activity", "Category": "SignInLogs", "UserPrincipalName": "pat@contoso.com",
            "IPAddress": "198.51.100.7", "AppId": "app-1", "UserAgent": "agent-2", "ClientAppUsed": "IMAP4",
            "AppDisplayName": "name-3", "ResultType": "50126"}


@pytest.mark.parametrize("shape", ["extracted", "log_analytics"])
@pytest.mark.parametrize("what", ["actor", "src", "app_id", "client_info", "extra.client_app_used",
                                  "extra.app_display_name", "extra.result", "extra.category"])
def test_each_entra_sign_in_fact_comes_from_the_fields_its_table_names(shape, what):
    record = _entra_sign_in(shape)
    declared = entra.READER.fields[what]
    (event,) = normalise(dict(record), _context())
    assert event.value(what) in [record[name] for name in declared if name in record] + ["signinlogs"]
    kept = {name: value for name, value in record.items() if name not in declared or name in (
        "category", "Category")}
    (bare,) = normalise(kept, _context())
    expected = {"extra.result": "0", "extra.category": "signinlogs"}.get(what, "")
    assert bare.value(what) == expected, (what, bare.value(what))


def test_entra_recognition_reads_the_fields_its_table_names(monkeypatch):
    record = {"OperationName": "Add delegated permission grant", "Category": "ApplicationManagement"}
    assert entra.looks_like_entra(RecordView(record))
    fields = dict(entra.READER.fields, **{"recognition.category": ("category",)})
    monkeypatch.setattr(entra.READER, "fields", fields)
    assert not entra.looks_like_entra(RecordView(record))


def test_entra_json_without_sourcetype_is_recognised_by_the_names_it_holds():
    raw = json.dumps({"operationName": "Consent to application", "category": "AuditLogs"})
    assert entra.looks_like_entra(RecordView({"_raw": raw}))
    assert not entra.looks_like_entra(RecordView({"_raw": json.dumps({"operationName": "x"})}))


# --- the Office 365 audit of the same Graph change: the inbox-rule rules read it ---

def _rule_ids(engine, audit):
    record = {"sourcetype": "o365:management:activity", "_raw": json.dumps(audit)}
    return {finding.rule.id for finding in engine.findings(record, use_allowlist=False)}


def test_a_forwarding_rule_written_through_graph_is_found_in_the_office_365_audit(engine):
    """Graph writes the rule through Exchange's REST endpoint, so the mailbox audit records it as
    UpdateInboxRules with ClientInfoString Client=REST and the rule's actions, which the
    client-rule reader reads as it reads Outlook's."""
    audit = {"CreationTime": "2026-11-27T04:00:05", "Operation": "UpdateInboxRules", "RecordType": 2,
             "ResultStatus": "Succeeded", "UserType": 5, "Workload": "Exchange",
             "OrganizationName": "contoso.onmicrosoft.com", "UserId": "ceo@contoso.com",
             "MailboxOwnerUPN": "ceo@contoso.com", "LogonType": 0, "ClientInfoString": "Client=REST;Client=RESTSystem;;",
             "AppId": "7f0e1c2d-1111-4222-8333-944455556666",
             "OperationProperties": [
                 {"Name": "RuleOperation", "Value": "AddMailboxRule"},
                 {"Name": "RuleActions", "Value": json.dumps([{"ActionType": "Forward", "Recipients": ["x@evil.example"]}])}]}
    assert "t1114_003_inbox_rule_forward_client" in _rule_ids(engine, audit)
    moved = dict(audit, OperationProperties=[{"Name": "RuleActions", "Value": json.dumps(
        [{"ActionType": "MoveToFolder", "Folder": "Archive"}])}])
    assert "t1114_003_inbox_rule_forward_client" not in _rule_ids(engine, moved)


def test_new_inboxrule_audited_for_a_rest_client_is_found_by_the_cmdlet_rule(engine):
    audit = {"Operation": "New-InboxRule", "RecordType": 1, "UserType": 0, "Workload": "Exchange",
             "OrganizationName": "contoso.onmicrosoft.com", "UserId": "ceo@contoso.com",
             "ClientInfoString": "Client=REST;Client=RESTSystem;;",
             "Parameters": [{"Name": "Name", "Value": "sync"}, {"Name": "ForwardTo", "Value": "x@evil.example"}]}
    assert "t1114_003_inbox_rule_forward_cmdlet" in _rule_ids(engine, audit)
