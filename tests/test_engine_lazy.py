"""The engine's per-event speed-ups of issue 17 against the plain forms they replace, on the rule
test events and every benchmark mix (real public records shaped as splunkd sends them,
tools/real_streams.py): every finding (`as_dict()`), the output fields of each event and of
each expanded row, and every job-inspector message must be the same.

- Office 365 audit records build only the facts the operation's rule conditions read; the
  rest wait for MailEvent.complete() (app/normalise/o365.py `audit_event`). The plain form is
  the reader as it was before, kept here: every fact at once.
- Each operation's candidate rules are tried without the top-level operation and source tests
  the index and the source check settle (app/rule_index.py). The plain form is each rule's
  whole condition.
- Reasons are filled from the template split once (Rule.render_reason); the plain form is the
  regex callback it replaced, kept here. Output fields of an event with one finding skip the
  grouping (app/finding.py); the plain form is summary_fields and json.dumps per call.
- Endpoint fields read a plain string value without the multivalue loop, and skip lower-casing
  a text too long to be a placeholder such as "-" or "NOT_TRANSLATED"; the plain form is the
  loop, kept here.
"""

import json

import pytest
from hypothesis import given, strategies as st

from app.engine import Engine
from app.event import MailEvent
from app import finding as finding_module
from app.rules import Rule
from app.normalise import o365, windows_endpoint
from app.normalise.permission_changes import added_tokens
from app.values import clean_ip
from tests.conftest import REPO, copy_app_root, missing_shared_data
from tests.rule_events import all_cases, presentations
from tools import real_streams
from tools.bench import make_records


def plain_audit_event(audit, operation, wanted=None):
    """The audit reader before issue 17's deferral: every field and fact, read at once."""
    event = MailEvent("o365", operation)

    def text(*keys):
        return o365._text(audit, keys)
    event.parameters = o365._name_value_pairs(audit.get("Parameters"))
    event.properties = o365._name_value_pairs(audit.get("OperationProperties"))
    event.actor = text("UserId", "UserKey")
    event.mailbox = o365._mailbox(operation, text("MailboxOwnerUPN"), event.parameters, text("ObjectId"), event.actor)
    event.src = clean_ip(text("ClientIP", "ClientIPAddress", "ActorIpAddress"))
    event.app_id = text("AppId", "ClientAppId", "ApplicationId")
    event.client_info = text("ClientInfoString", "UserAgent")
    event.user_type = text("UserType")
    event.logon_type = text("LogonType")
    event.organization = text("OrganizationName")
    event.dest = text("OriginatingServer").strip()
    event.extra = {
        "workload": text("Workload"),
        "record_type": text("RecordType"),
        "result_status": text("ResultStatus"),
        "client_app_id": text("ClientAppId"),
        "external_access": text("ExternalAccess"),
        "mailbox_owner": text("MailboxOwnerUPN"),
        "operation_count": text("OperationCount"),
        "folders": o365._folder_paths(audit.get("Folders"), audit.get("Item")),
        "folder_member": o365._folder_member(audit.get("Item")),
        "folder_rights": o365._folder_rights(audit.get("Item")),
    }
    changes = o365._modified_properties(audit.get("ModifiedProperties"))
    if changes is not None:
        for name, new, _ in changes:
            event.properties.setdefault(name, new)
        event.extra["added_values"] = added_tokens([new for _, new, _ in changes], [old for _, _, old in changes])
        event.extra["calling_app_id"] = o365._directory_target_app(event.properties, audit.get("ExtendedProperties"))
    owner = event.extra["mailbox_owner"]
    event.extra["non_owner"] = "true" if owner and event.actor and owner.lower() != event.actor.lower() else ""
    if not event.extra.get("calling_app_id"):
        event.extra["calling_app_id"] = event.extra["client_app_id"] or event.app_id
    return event


def _plain_decisions(engine, event):
    """Every candidate rule with its whole match condition, operation and source tests included."""
    return [(rule, rule.matches) for rule in engine.candidate_rules(event)]


def plain_render_reason(rule, event, destinations, external):
    """Rule.render_reason as it was: the template's placeholders replaced by a regex callback."""
    from app.rules import _EMPTY_BRACKETS, _PLACEHOLDER, _RUNS_OF_SPACES, _SHOWN_CHARS

    def shown(path):
        if path == "destinations":
            value = destinations
        elif path == "external_destinations":
            value = external
        else:
            value = event.value(path)
        if isinstance(value, (list, tuple)):
            value = ", ".join(value)
        value = str(value).strip()
        return value[:_SHOWN_CHARS] + "..." if len(value) > _SHOWN_CHARS else value

    def fill(match):
        for path in rule._placeholder_paths[match.group(1)]:
            value = shown(path)
            if value:
                return value
        return "" if match.group(1).endswith("?") else "unknown"
    text = _PLACEHOLDER.sub(fill, rule.reason_template)
    return _RUNS_OF_SPACES.sub(" ", _EMPTY_BRACKETS.sub("", text)).strip()


def plain_findings_json(findings):
    return json.dumps([f.as_dict() for f in findings], ensure_ascii=False, separators=(",", ":"))


def _plain_output(monkeypatch):
    monkeypatch.setattr(finding_module, "output_fields", finding_module.summary_fields)
    monkeypatch.setattr(finding_module, "findings_json", plain_findings_json)


def plain_fields_get(fields, *names):
    """windows_endpoint._Fields.get as it was: every value through the multivalue loop."""
    from app.normalise.windows_endpoint import _CANDIDATE_KEYS, _DATA_MODEL_PREFIXES, _EMPTY_VALUES
    from app.values import as_text
    record = fields.record
    for name in names:
        candidates = _CANDIDATE_KEYS.get(name)
        if candidates is None:
            candidates = _CANDIDATE_KEYS[name] = (name,) + tuple(prefix + name for prefix in _DATA_MODEL_PREFIXES)
        for candidate in candidates:
            value = record.get(candidate)
            if value:
                for item in value if isinstance(value, list) else (value,):
                    text = as_text(item).strip()
                    if text and text.lower() not in _EMPTY_VALUES:
                        return text
        if fields.parsed:
            text = as_text(fields.parsed.get(name)).strip()
            if text and text.lower() not in _EMPTY_VALUES:
                return text
    return ""


PLAIN_FORMS = {
    "endpoint_fields": lambda monkeypatch: monkeypatch.setattr(windows_endpoint._Fields, "get", plain_fields_get),
    "reason": lambda monkeypatch: monkeypatch.setattr(Rule, "render_reason", plain_render_reason),
    "output_fields": _plain_output,
    "audit_facts": lambda monkeypatch: monkeypatch.setattr(o365, "audit_event", plain_audit_event),
    "rule_decisions": lambda monkeypatch: monkeypatch.setattr(Engine, "_candidate_decisions", _plain_decisions),
}


def rule_test_records():
    return [record for _, _, case in all_cases() for _, record in presentations(case)]


def records_of(source):
    if source == "rule_tests":
        return rule_test_records()
    if source == "light":
        return make_records(7, 1500, 0.05)
    if not real_streams.available():
        missing_shared_data("the public records in ../shared/datasets are not here")
    return real_streams.make_mix(source, 13, 1500)


def outcome(engine, records):
    """Everything the command writes for each record, and every message it reports."""
    seen = []
    for record in records:
        for use_allowlist in (True, False):
            findings = engine.findings(record, use_allowlist)
            seen.append((
                [finding.as_dict() for finding in findings],
                finding_module.output_fields(findings, record),
                [finding_module.expanded_fields(finding, record) for finding in findings],
            ))
    return seen, engine.problems.messages(), engine.problems.counts()


def _site_engine(tmp_path, records):
    """The repository's rules with site allowlists naming the records' own accounts, mailboxes
    and calling apps (facts the o365 reader may defer), so suppression reads them too."""
    root = tmp_path / "app_root"
    copy_app_root(root, parts=(("app",),))   # as before: no default/t1114.conf
    users = sorted({r.get("UserId") for r in records if isinstance(r.get("UserId"), str) and "@" in r["UserId"]})
    owners = sorted({r.get("MailboxOwnerUPN") for r in records if isinstance(r.get("MailboxOwnerUPN"), str)
                     and r["MailboxOwnerUPN"]})
    apps = sorted({r.get("ClientAppId") for r in records if isinstance(r.get("ClientAppId"), str) and r["ClientAppId"]})
    accounts = ["account,mailbox,rules,valid_from,valid_until,reason"]
    accounts += ["%s,,t1114_002_*,,,site user %d" % (user, index) for index, user in enumerate(users[::5])]
    accounts += ["*,%s,,,,site mailbox %d" % (owner, index) for index, owner in enumerate(owners[1::7])]
    (root / "lookups" / "t1114_allowlist_accounts.csv").write_text("\n".join(accounts) + "\n")
    applications = ["app_id,rules,valid_from,valid_until,reason"]
    applications += ["%s,,,,site app %d" % (app, index) for index, app in enumerate(apps[::3])]
    (root / "lookups" / "t1114_allowlist_applications.csv").write_text("\n".join(applications) + "\n")
    return lambda: Engine.load(str(root))


SOURCES = real_streams.MIXES + ("light", "rule_tests")


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("lookups", ("shipped", "site"))
@pytest.mark.parametrize("plain_forms", [(name,) for name in PLAIN_FORMS] + [tuple(PLAIN_FORMS)])
def test_speed_ups_change_no_finding_field_or_message(tmp_path, monkeypatch, source, lookups, plain_forms):
    records = records_of(source)
    make = _site_engine(tmp_path, records) if lookups == "site" else (lambda: Engine.load(REPO))
    fast = outcome(make(), records)
    for name in plain_forms:
        PLAIN_FORMS[name](monkeypatch)
    plain = outcome(make(), records)
    assert fast == plain
    findings = [f for row in fast[0] for f in row[0]]
    assert findings or source == "endpoint"
    if lookups == "site" and source in ("tenant", "mail_items_accessed"):
        assert any(f["status"] == "suppressed" for f in findings)


def _audit(**fields):
    audit = {"Operation": "MailItemsAccessed", "RecordType": 50, "Workload": "Exchange", "UserId": "eve@contoso.com",
             "MailboxOwnerUPN": "bob@contoso.com", "LogonType": 1, "ClientIP": "[2001:db8::1]:443",
             "OperationCount": 7, "ClientInfoString": "Client=WebServices;ExchangeWebServices/1.0 [AppId=1234-abcd]",
             "Folders": [{"Path": "\\Inbox"}], "OriginatingServer": " EX01 (15.20) ", "OrganizationName": "contoso"}
    audit.update(fields)
    return audit


@pytest.mark.parametrize("wanted", (frozenset(), frozenset(("extra.non_owner", "user_type")),
                                    frozenset(("mailbox", "src", "dest", "organization", "extra.folders",
                                               "extra.calling_app_id", "extra.non_owner")), None))
@pytest.mark.parametrize("audit", (
    _audit(),
    _audit(UserId="", UserKey="key-1", MailboxOwnerUPN="", ObjectId="obj", AppId=None, ClientAppId="app-2"),
    _audit(Operation="UpdateInboxRules", ObjectId="contoso/eve\\rule", MailboxOwnerUPN=""),
    _audit(ModifiedProperties=[{"Name": "ServicePrincipal.AppId", "NewValue": '"abc"', "OldValue": ""},
                               {"Name": "Permission", "NewValue": "Mail.Read User.Read", "OldValue": "User.Read"}],
           OperationProperties=[{"Name": "ServicePrincipal.AppId", "Value": "kept"}]),
    _audit(ModifiedProperties=[{"Name": "x", "NewValue": "1"}],
           ExtendedProperties=[{"Name": "additionalDetails", "Value": '{"AppId":"app-3"}'}]),
    _audit(UserId={"nested": ["value"]}, UserType="x" * 70000, Item={"ParentFolder": {"Path": "\\Sent", "MemberUpn": "m"}}),
))
def test_a_completed_audit_event_is_the_plain_one(audit, wanted):
    """Whatever the rules' conditions read first, once complete() has run every field and
    fact is what the plain reader gives, and what the conditions read is there before."""
    event = o365.audit_event(audit, audit["Operation"], wanted)
    for path in wanted or ():
        before = event.value(path)
        event.complete()
        assert event.value(path) == before
        event = o365.audit_event(audit, audit["Operation"], wanted)
    event.complete()
    event.complete()   # once only
    plain = plain_audit_event(audit, audit["Operation"])
    for name in MailEvent.__slots__:
        if name != "extra":
            assert getattr(event, name) == getattr(plain, name), name
    assert event.extra == plain.extra
    assert json.dumps(sorted(event.extra.items())) == json.dumps(sorted(plain.extra.items()))


def test_settled_tests_are_left_out_and_no_other(engine):
    """The operation index leaves out exactly the tests it settles: a MailItemsAccessed rule's
    `operation equals MailItemsAccessed`, not a test on another operation or field."""
    from app.rule_index import _always, _without_settled_tests, settled_match
    spec = {"all": [{"field": "operation", "in": ["New-InboxRule", "Set-InboxRule"]},
                    {"field": "operation", "equals": "New-InboxRule"}, {"field": "source", "equals": "o365"},
                    {"field": "param.forwardto", "nonempty": True}]}
    assert _without_settled_tests(spec, "set-inboxrule", True) == {"all": [spec["all"][1], spec["all"][3]]}
    assert _without_settled_tests(spec, "new-inboxrule", False) == {"all": [spec["all"][2], spec["all"][3]]}
    assert _without_settled_tests({"field": "operation", "equals": "X"}, "x", False) is None
    nested = {"any": [{"field": "operation", "equals": "X"}, {"field": "actor", "nonempty": True}]}
    assert _without_settled_tests(nested, "x", True) is nested
    by_id = {rule.id: rule for rule in engine.rules}
    rule = by_id["t1114_002_mail_items_accessed_graph"]
    assert settled_match(rule, "mailitemsaccessed") is not _always
    assert settled_match(rule, "mailitemsaccessed") is not rule.matches


@given(st.text(alphabet="()[] \t\u00a0\u2003x", max_size=40))
def test_empty_bracket_precheck_declines_only_texts_the_tidy_leaves_alone(text):
    """Rule.render_reason skips the tidy regex when the quicker search finds no empty bracket:
    then the tidy regex would have changed nothing."""
    from app.rules import _AN_EMPTY_BRACKET, _EMPTY_BRACKETS
    if _AN_EMPTY_BRACKET.search(text) is None:
        assert _EMPTY_BRACKETS.sub("", text) == text


@given(st.text(max_size=30), st.sampled_from(["", " ", "-", "N/A", "Unknown ", "NOT_TRANSLATED", "\u0130" * 8]))
def test_endpoint_field_reads_as_the_multivalue_loop(text, placeholder):
    """A plain string field reads as the loop read it, whatever its case, spaces or length
    (lower() never shortens a text, so a long one cannot be a placeholder)."""
    for value in (text, placeholder, placeholder + text, " " + placeholder.upper() + " "):
        fields = windows_endpoint._Fields({"User": value, "Processes.User": "fallback", "user": ["-", value]}, {})
        assert fields.get("User", "user") == plain_fields_get(fields, "User", "user")


def test_lower_casing_never_shortens_a_character():
    import sys
    assert all(len(chr(code).lower()) >= 1 for code in range(sys.maxunicode + 1))


def _without_raw(record, nested):
    record = {name: value for name, value in record.items() if name != "_raw"}
    if nested:   # nested values as some extractions keep them: one JSON string each
        record.update(Folders='[{"Path":"\\\\Kept"}]', Item='{"ParentFolder":{"Path":"\\\\Sent","MemberUpn":"m@x"}}',
                      ModifiedProperties='[{"Name":"ServicePrincipal.AppId","NewValue":"\\"q\\"","OldValue":""}]',
                      ExtendedProperties='[{"Name":"additionalDetails","Value":"{\\"AppId\\":\\"z\\"}"}]')
    return record


@pytest.mark.parametrize("nested", (False, True))
def test_extracted_fields_complete_to_every_fact_read_at_once(engine, nested):
    """An Office 365 event without `_raw` is read by the same reader from its extracted fields
    (o365._ExtractedFields): with the facts its rules' conditions read first and the rest left
    to complete(), it ends as the event read with every fact at once."""
    from app.normalise import RecordView
    context = engine.context
    read = 0
    for record in rule_test_records():
        record = _without_raw(record, nested)
        operation = o365.operation_of(record)
        if not operation or not o365.looks_like_o365(RecordView(record)):
            continue
        whole = o365.read_audit(o365._ExtractedFields(record, context), operation)
        deferred = o365.read_audit(o365._ExtractedFields(record, context), operation, context.match_paths(operation))
        deferred.complete()
        for name in MailEvent.__slots__:
            assert getattr(deferred, name) == getattr(whole, name), (name, record)
        read += 1
    assert read > 20
