"""Entra ID (Azure AD) sign-ins and audit logs -> MailEvent.

Reads the `azure:monitor:aad` shape (Splunk Add-on for Microsoft Cloud Services: raw JSON
with `operationName`, `category`, `properties{...}`), its extracted fields
(`properties.clientAppUsed`, ...), and the Log Analytics table export shape (`OperationName`,
`TargetResources`, `InitiatedBy` as JSON strings) that public samples use.
"""

import json

from ..event import MailEvent
from ..values import as_list, as_text, clean_ip, raw_json_object
from .permission_changes import added_tokens
from .reader_table import ANY_OPERATION, ReaderTable

SIGN_IN_OPERATION = "Sign-in activity"
# The add-on's sourcetypes for Entra logs. Graph activity and Defender XDR records can come
# under them too; their readers come first in the registry.
_SOURCETYPE_PREFIXES = ("azure:monitor:aad", "azure:aad")
_SIGN_IN_CATEGORIES = ("signinlogs", "noninteractiveusersigninlogs", "serviceprincipalsigninlogs",
                       "managedidentitysigninlogs")


def looks_like_entra(view):
    record, sourcetype = view.record, view.sourcetype
    if sourcetype.startswith(_SOURCETYPE_PREFIXES):
        return True
    # Values, not keys: in a chunk every record carries every field the chunk has, mostly empty.
    fields = READER.fields
    if any(record.get(name) for name in fields["recognition.operation"]) and any(
            record.get(name) for name in fields["recognition.category"]):
        return True
    if not sourcetype:   # before `_raw` is read: see RecordView.raw_head
        text = as_text(record.get("_raw"))
        return text.lstrip().startswith("{") and all(mark in text for mark in _RAW_MARKS)
    return False


def _document(record, context):
    return raw_json_object(record, context.problems, "entra", "An Entra ID event's")


def _get(document, record, path):
    """A dotted path from the parsed JSON, else the flattened Splunk field of that name."""
    if document is not None:
        node = document
        for part in path.split("."):
            if isinstance(node, str) and node.lstrip()[:1] in ("{", "["):
                node = _loads(node)
            if not isinstance(node, dict):
                node = None
                break
            node = node.get(part)
        if node not in (None, ""):
            return node
    return record.get(path)


def _loads(text):
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _first(document, record, *paths):
    for path in paths:
        value = _get(document, record, path)
        if isinstance(value, (dict, list)):
            continue
        text = as_text(value)
        if text:
            return text
    return ""


def normalise_entra(record, context):
    document = _document(record, context)
    operation = _first(document, record, "operationName", "OperationName", "properties.activityDisplayName",
                       "ActivityDisplayName").strip()
    category = _first(document, record, "category", "Category").lower()
    is_sign_in = category in _SIGN_IN_CATEGORIES or operation.lower() == SIGN_IN_OPERATION.lower()
    if is_sign_in:
        operation = SIGN_IN_OPERATION
    if not context.wants(operation):
        return []
    event = MailEvent("entra", operation)
    event.extra = {"category": category}
    if is_sign_in:
        _sign_in(event, document, record)
    else:
        _audit(event, document, record)
    return [event]


def _sign_in(event, document, record):
    event.actor = _first(document, record, "properties.userPrincipalName", "identity", "UserPrincipalName", "user")
    event.src = clean_ip(_first(document, record, "properties.ipAddress", "callerIpAddress", "IPAddress", "src"))
    event.app_id = _first(document, record, "properties.appId", "AppId")
    event.client_info = _first(document, record, "properties.userAgent", "UserAgent")
    event.mailbox = event.actor
    result = _first(document, record, "properties.status.errorCode", "resultType", "ResultType")
    event.extra.update({
        "client_app_used": _first(document, record, "properties.clientAppUsed", "ClientAppUsed"),
        "app_display_name": _first(document, record, "properties.appDisplayName", "AppDisplayName"),
        "result": result or "0",
        "calling_app_id": event.app_id,
    })


def _as_structure(value):
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        return _loads(value)
    return value


def _audit(event, document, record):
    initiated = _as_structure(_get(document, record, "properties.initiatedBy"))
    if initiated is None:
        initiated = _as_structure(_get(document, record, "InitiatedBy"))
    actor = ""
    if isinstance(initiated, dict):
        user = initiated.get("user") or {}
        app = initiated.get("app") or {}
        if isinstance(user, dict):
            actor = as_text(user.get("userPrincipalName"))
        if not actor and isinstance(app, dict):
            actor = as_text(app.get("displayName") or app.get("servicePrincipalName") or app.get("appId"))
    event.actor = actor or _first(document, record, "properties.initiatedBy.user.userPrincipalName",
                                  "identity", "InitiatingUserOrApp", "user")
    event.src = clean_ip(_first(document, record, "callerIpAddress", "properties.initiatedBy.user.ipAddress", "src"))
    targets = _as_structure(_get(document, record, "properties.targetResources"))
    if targets is None:
        targets = _as_structure(_get(document, record, "TargetResources"))
    new_values, old_values, names = [], [], []
    properties = {}
    if isinstance(targets, list):
        for target in targets:
            if not isinstance(target, dict):
                continue
            if target.get("displayName") and not event.mailbox:
                event.mailbox = as_text(target.get("displayName"))
            for change in target.get("modifiedProperties") or ():
                if not isinstance(change, dict) or not change.get("displayName"):
                    continue
                new, old = as_text(change.get("newValue")), as_text(change.get("oldValue"))
                properties.setdefault(as_text(change["displayName"]).lower(), new)
                new_values.append(new)
                old_values.append(old)
    else:
        # Extracted fields: the multivalue lists, compared as wholes.
        prefix = "properties.targetResources{}.modifiedProperties{}."
        names = as_list(record.get(prefix + "displayName"))
        new_values = as_list(record.get(prefix + "newValue"))
        old_values = as_list(record.get(prefix + "oldValue"))
        if len(names) == len(new_values):
            for name, value in zip(names, new_values):
                properties.setdefault(name.lower(), value)
        event.mailbox = as_text(record.get("properties.targetResources{}.displayName"))
    event.properties = properties
    event.extra["added_values"] = added_tokens(new_values, old_values)
    event.extra["result"] = _first(document, record, "properties.result", "Result", "resultType")
    event.extra["calling_app_id"] = (properties.get("serviceprincipal.appid", "").strip().strip('"')
                                     or _additional_detail(document, record, "AppId"))


def _additional_detail(document, record, key):
    details = _as_structure(_get(document, record, "properties.additionalDetails"))
    if details is None:
        details = _as_structure(_get(document, record, "AdditionalDetails"))
    if isinstance(details, list):
        for item in details:
            if isinstance(item, dict) and item.get("key") == key:
                return as_text(item.get("value"))
    return ""


def _event_fields(*paths):
    """A property path of the JSON and the fields it is also read from: the extracted field of
    the same path, and the Log Analytics column named after its last part (`properties.appId`
    -> `AppId`)."""
    names = []
    for path in paths:
        names.append(path)
        last = path.rsplit(".", 1)[-1]
        names.append(last[:1].upper() + last[1:])
    return tuple(dict.fromkeys(names))


_TARGETS = ("properties.targetResources", "TargetResources")
_MODIFIED = "properties.targetResources{}.modifiedProperties{}."
READER = ReaderTable(
    "entra",
    facts={"entra": ("added_values", "app_display_name", "calling_app_id", "category", "client_app_used",
                     "result")},
    # Each is read from the JSON `_raw` when it has one, else from these fields.
    fields={
        # An operation name with a category (or activity name), by value; by sourcetype; or,
        # without a sourcetype, a JSON `_raw` naming both.
        "recognition.operation": ("operationName", "OperationName"),
        "recognition.category": ("category", "Category", "properties.activityDisplayName"),
        "document": ("_raw",),
        "operation": ("operationName", "OperationName", "properties.activityDisplayName", "ActivityDisplayName"),
        "extra.category": ("category", "Category"),
        # sign-ins and audit records
        "actor": ("properties.userPrincipalName", "identity", "UserPrincipalName", "user", "properties.initiatedBy",
                  "InitiatedBy", "properties.initiatedBy.user.userPrincipalName", "InitiatingUserOrApp"),
        "src": ("properties.ipAddress", "callerIpAddress", "IPAddress", "src", "properties.initiatedBy.user.ipAddress"),
        "app_id": _event_fields("properties.appId"),
        "client_info": _event_fields("properties.userAgent"),
        "mailbox": ("properties.userPrincipalName", "identity", "UserPrincipalName", "user")
        + _TARGETS + ("properties.targetResources{}.displayName",),
        "extra.client_app_used": _event_fields("properties.clientAppUsed"),
        "extra.app_display_name": _event_fields("properties.appDisplayName"),
        "extra.result": ("properties.status.errorCode", "resultType", "ResultType", "properties.result", "Result"),
        # audit records: what changed, on which target
        "prop": _TARGETS + (_MODIFIED + "displayName", _MODIFIED + "newValue"),
        "extra.added_values": _TARGETS + (_MODIFIED + "newValue", _MODIFIED + "oldValue"),
        "extra.calling_app_id": _event_fields("properties.appId") + _TARGETS + (
            _MODIFIED + "displayName", _MODIFIED + "newValue") + _event_fields("properties.additionalDetails"),
    },
    operations={"entra": (SIGN_IN_OPERATION, ANY_OPERATION)},   # the operationName of an audit record
)
# What a JSON `_raw` holds when it is an Entra record: the JSON names of both recognition groups.
_RAW_MARKS = tuple('"%s"' % READER.fields[group][0] for group in ("recognition.operation", "recognition.category"))
