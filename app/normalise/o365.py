"""Office 365 Management Activity records (sourcetype o365:management:activity) -> MailEvent.

Reads the add-on's extracted fields or, when present, the raw JSON in `_raw`, which is
authoritative: Splunk's multivalue extraction drops empty values, so `Parameters{}.Name`
and `Parameters{}.Value` can fall out of step (an empty ForwardingAddress would borrow the
next parameter's value).
"""

import json
import re

from ..event import MailEvent
from ..values import as_list, as_text, clean_ip, first_field
from .cmdlet_text import parse_parameters

_OPERATION_IN_RAW = re.compile(r'"Operation"\s*:\s*"([^"\\]{1,200})"')
_ACTION_SUFFIXES = ("torecipientsaction", "action")


def operation_of(record):
    """The audit Operation, from the extracted field or straight out of `_raw` (Fast mode)."""
    operation = first_field(record, ("Operation",))
    if operation:
        return operation
    raw = record.get("_raw")
    if raw:
        found = _OPERATION_IN_RAW.search(as_text(raw))
        if found:
            return found.group(1)
    return ""


def normalise_o365(record, operation, context):
    raw = as_text(record.get("_raw")).lstrip()
    audit = None
    if raw.startswith("{"):
        try:
            audit = json.loads(raw)
        except (ValueError, RecursionError) as error:  # nesting deeper than Python's stack is an error too
            context.problems.report(
                "o365_raw_not_json",
                "An o365 event's _raw is not valid JSON (%s); its extracted fields were used instead." % error)
        if audit is not None and not isinstance(audit, dict):
            audit = None
    event = _from_audit(audit, operation) if audit is not None else _from_fields(record, operation, context)
    _add_inbox_rule_actions(event, context)
    return [event]


def _name_value_pairs(items):
    pairs = {}
    if isinstance(items, str):
        return parse_parameters(items, 0)
    if not isinstance(items, list):
        return pairs
    for item in items:
        if isinstance(item, dict) and item.get("Name") is not None:
            value = item.get("Value")
            if value is None:
                value = ""
            elif not isinstance(value, str):
                value = _json_text(value) if isinstance(value, (dict, list)) else str(value)
            pairs[str(item["Name"]).lower()] = as_text(value)
    return pairs


def _text(audit, *keys):
    for key in keys:
        value = audit.get(key)
        if value not in (None, ""):
            return as_text(value) if not isinstance(value, (dict, list)) else _json_text(value)
    return ""


def _json_text(value):
    """A nested audit value as JSON text; '' when it nests too deep to write back."""
    try:
        return as_text(json.dumps(value))
    except (ValueError, RecursionError):
        return ""


def _from_audit(audit, operation):
    event = MailEvent("o365", operation)
    event.parameters = _name_value_pairs(audit.get("Parameters"))
    event.properties = _name_value_pairs(audit.get("OperationProperties"))
    event.actor = _text(audit, "UserId", "UserKey")
    event.mailbox = _mailbox(_text(audit, "MailboxOwnerUPN"), event.parameters, _text(audit, "ObjectId"))
    event.src = clean_ip(_text(audit, "ClientIP", "ClientIPAddress", "ActorIpAddress"))
    event.app_id = _text(audit, "AppId", "ClientAppId", "ApplicationId")
    event.client_info = _text(audit, "ClientInfoString", "UserAgent")
    event.user_type = _text(audit, "UserType")
    event.logon_type = _text(audit, "LogonType")
    event.organization = _text(audit, "OrganizationName")
    event.dest = _text(audit, "OriginatingServer").strip()
    event.extra = {
        "workload": _text(audit, "Workload"),
        "record_type": _text(audit, "RecordType"),
        "result_status": _text(audit, "ResultStatus"),
        "client_app_id": _text(audit, "ClientAppId"),
        "external_access": _text(audit, "ExternalAccess"),
    }
    return event


def _mailbox(owner, parameters, object_id):
    """Whose mailbox: the audited owner, else the cmdlet's -Mailbox/-Identity, else ObjectId
    (for admin cmdlets an internal directory path, the least readable choice)."""
    return owner or parameters.get("mailbox") or parameters.get("identity") or object_id


def _zip_fields(record, names_field, values_field, what, context):
    names = as_list(record.get(names_field))
    values = as_list(record.get(values_field))
    if not names:
        return {}, False
    if len(names) != len(values):
        context.problems.report(
            "o365_%s_misaligned" % what,
            "%s and %s have different lengths on some events (Splunk drops empty values "
            "from multivalue fields), so they were not paired; send _raw to the command for exact "
            "results." % (names_field, values_field))
        return {}, True
    return {name.lower(): value for name, value in zip(names, values)}, False


def _from_fields(record, operation, context):
    event = MailEvent("o365", operation)
    event.parameters, _ = _zip_fields(record, "Parameters{}.Name", "Parameters{}.Value", "parameters", context)
    # Flattened parameters (ForwardTo, ForwardingSmtpAddress, ...) fill what the arrays lack.
    for lower, spelled in context.parameter_fields.items():
        if lower not in event.parameters:
            value = record.get(spelled, record.get(lower))
            if value is not None:
                event.parameters[lower] = ";".join(as_list(value))
    event.properties, misaligned = _zip_fields(
        record, "OperationProperties{}.Name", "OperationProperties{}.Value", "properties", context)
    if misaligned:
        # Without names we can still recognise the inbox-rule action lists by their content.
        for value in as_list(record.get("OperationProperties{}.Value")):
            if "ActionType" in value:
                key = "serverrule" if value.lstrip().startswith("{") else "ruleactions"
                event.properties.setdefault(key, value)
    event.actor = first_field(record, ("UserId", "user"))
    event.mailbox = _mailbox(first_field(record, ("MailboxOwnerUPN",)), event.parameters,
                             first_field(record, ("ObjectId", "object")))
    event.src = clean_ip(first_field(record, ("ClientIP", "ClientIPAddress", "src_ip", "src")))
    event.app_id = first_field(record, ("AppId", "ClientAppId"))
    event.client_info = first_field(record, ("ClientInfoString",))
    event.user_type = first_field(record, ("UserType",))
    event.logon_type = first_field(record, ("LogonType",))
    event.organization = first_field(record, ("OrganizationName",))
    event.dest = first_field(record, ("OriginatingServer",)).strip()
    event.extra = {
        "workload": first_field(record, ("Workload",)),
        "record_type": first_field(record, ("RecordType",)),
        "result_status": first_field(record, ("ResultStatus",)),
        "client_app_id": first_field(record, ("ClientAppId",)),
        "external_access": first_field(record, ("ExternalAccess",)),
    }
    return event


def action_kind(action_type):
    """'ForwardToRecipientsAction' / 'Forward' -> 'forward'; 'MoveToFolderAction' -> 'movetofolder'."""
    kind = str(action_type).strip().lower()
    for suffix in _ACTION_SUFFIXES:
        if kind.endswith(suffix) and len(kind) > len(suffix):
            return kind[: -len(suffix)]
    return kind


def _walk_actions(node, actions, recipients, depth=0):
    if depth > 20:
        return
    if isinstance(node, dict):
        if "ActionType" in node:
            actions.append(action_kind(node["ActionType"]))
            _collect_addresses(node.get("Recipients"), recipients, depth + 1)
        for value in node.values():
            if isinstance(value, (dict, list)):
                _walk_actions(value, actions, recipients, depth + 1)
    elif isinstance(node, list):
        for item in node:
            _walk_actions(item, actions, recipients, depth + 1)


def _collect_addresses(node, recipients, depth):
    if depth > 20 or node is None:
        return
    if isinstance(node, str):
        text = node.strip()
        if text.lower().startswith("smtp:"):
            text = text[5:]
        if "@" in text:
            recipients[text] = None
    elif isinstance(node, dict):
        for value in node.values():
            _collect_addresses(value, recipients, depth + 1)
    elif isinstance(node, list):
        for item in node:
            _collect_addresses(item, recipients, depth + 1)


def _add_inbox_rule_actions(event, context):
    """UpdateInboxRules keeps the rule in OperationProperties: RuleActions (a list) or ServerRule (an object)."""
    actions, recipients = [], {}  # recipients: an ordered set, cheap for thousands
    for key in ("ruleactions", "serverrule"):
        text = event.properties.get(key, "")
        if not text or "ActionType" not in text:
            continue
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            context.problems.report(
                "o365_rule_actions_not_json",
                "An UpdateInboxRules %s value is not valid JSON; its actions could not be read." % key)
            continue
        _walk_actions(parsed, actions, recipients)
    if actions:
        event.rule_actions = tuple(dict.fromkeys(actions))
        event.rule_recipients = tuple(recipients)
