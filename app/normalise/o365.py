"""Office 365 Management Activity records (sourcetype o365:management:activity) -> MailEvent.

Reads the add-on's extracted fields or, when present, the raw JSON in `_raw`, which is
authoritative: Splunk's multivalue extraction drops empty values, so `Parameters{}.Name`
and `Parameters{}.Value` can fall out of step (an empty ForwardingAddress would borrow the
next parameter's value).
"""

import json
import re

from ..event import MailEvent
from ..values import MAX_VALUE_CHARS, as_list, as_text, clean_ip, first_field, raw_json_object
from .cmdlet_text import parse_parameters
from .mailbox import INBOX_RULE_OPERATIONS, inbox_rule_mailbox
from .permission_changes import added_tokens
from .reader_table import ANY_OPERATION, ReaderTable

# What an Office 365 audit record is, said once: READER below is built from these, recognition
# (looks_like_o365), the reader's first step (operation_of) and the record path's probe
# (PROBE_FIELDS: app/normalise/__init__.py no_rule_wants, bin/t1114_protocol) read them.
# Sourcetypes that are Office 365 audit records and nothing else: such an event goes to this
# reader, whose first step is the operation check.
O365_SOURCETYPE_PREFIXES = ("o365", "ms:o365", "ms365")
OPERATION_FIELD = "Operation"                  # the audit operation: the extracted field and the JSON key
AUDIT_MARK_FIELDS = ("Workload", "RecordType")  # either, with an Operation, marks an audit record
# The two cells that alone can rule out every finding of a record before it is built: an Office
# 365 sourcetype and an operation no rule reads.
PROBE_FIELDS = ("sourcetype", OPERATION_FIELD)
_OPERATION_KEY = '"%s"' % OPERATION_FIELD
_OPERATION_IN_RAW = re.compile(re.escape(_OPERATION_KEY) + r'\s*:\s*"([^"\\]{1,200})"')
# Azure AD records name the app they changed in ExtendedProperties additionalDetails: {"AppId":"..."}
_APP_ID_IN_DETAILS = re.compile(r'"AppId"\s*:\s*"([^"]{1,100})"')
_ACTION_SUFFIXES = ("torecipientsaction", "action")


def is_o365_sourcetype(sourcetype):
    """Whether a sourcetype is Office 365 audit records and nothing else (any case), by the
    reader table's sourcetype_prefixes: for recognition, the probe and the record path's lazy rows."""
    return sourcetype.lower().startswith(READER.sourcetype_prefixes)


def looks_like_o365(view):
    """An Office 365 audit record: by sourcetype, else by its audit fields, else (no sourcetype)
    by a JSON `_raw` holding an Operation."""
    record, sourcetype = view.record, view.sourcetype
    if is_o365_sourcetype(sourcetype):
        return True
    # Values, not keys: in a chunk every record carries every field the chunk has, most empty.
    if record.get(OPERATION_FIELD) and any(record.get(name) for name in AUDIT_MARK_FIELDS):
        return True
    if not sourcetype:   # before `_raw` is read: see RecordView.raw_head
        text = as_text(record.get("_raw"))
        return text.lstrip().startswith("{") and _OPERATION_KEY in text
    return False


def operation_of(record):
    """The audit Operation, from the extracted field or straight out of `_raw` (Fast mode)."""
    operation = first_field(record, (OPERATION_FIELD,))
    if operation:
        return operation
    raw = record.get("_raw")
    if raw:
        found = _OPERATION_IN_RAW.search(as_text(raw))
        if found:
            return found.group(1)
    return ""


def normalise_o365(record, operation, context):
    audit = raw_json_object(record, context.problems, "o365", "An o365 event's")
    if audit is not None:
        event = audit_event(audit, operation, context.match_paths(operation))
    else:
        event = _from_fields(record, operation, context)
        _add_mail_access_facts(event)
    _add_inbox_rule_actions(event, context)
    return [event]


def normalise_audit_record(audit, operation, context):
    """An Office 365 audit record already parsed (as Defender XDR CloudAppEvents carry it in
    RawEventData): the same MailEvent the o365 sourcetype gives."""
    event = audit_event(audit, operation, context.match_paths(operation))
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
    """The first of `keys` with a value in the audit record, as text; '' when none has one."""
    value = audit.get(keys[0])
    if type(value) is str and value and len(value) <= MAX_VALUE_CHARS:
        return value   # the usual audit value: what the loop below returns for it, without the loop
    for key in keys:
        value = audit.get(key)
        if type(value) is str:  # most audit values: skip the general checks
            if value:
                return as_text(value)
            continue
        if value is not None:
            return as_text(value) if not isinstance(value, (dict, list)) else _json_text(value)
    return ""


def _json_text(value):
    """A nested audit value as JSON text; '' when it nests too deep to write back."""
    try:
        return as_text(json.dumps(value))
    except (ValueError, RecursionError):
        return ""


def audit_event(audit, operation, wanted=None):
    """The MailEvent of one parsed audit record. `wanted` is the set of field paths the match
    conditions of the operation's rules read (NormaliseContext.match_paths), None for all: the
    facts in _DEFERRABLE it does not name are left to event.complete(), which the engine calls
    before it makes a finding (most MailItemsAccessed records match no rule and never need
    their folder list, client address or calling app; the forwarding rules read only parameters)."""
    event = MailEvent("o365", operation)
    get = audit.get
    event.parameters = _name_value_pairs(get("Parameters"))
    event.properties = properties = _name_value_pairs(get("OperationProperties"))
    changes = _modified_properties(get("ModifiedProperties"))
    if changes is not None:
        for name, new, _ in changes:
            properties.setdefault(name, new)
    now, later = _plan(wanted)
    for read in now:
        read(event, audit, changes)
    if later:
        event.defer(_complete_audit, (audit, changes, later))
    return event


def _complete_audit(event, deferred):
    audit, changes, later = deferred
    for read in later:
        read(event, audit, changes)


def _read_actor(event, audit, changes):
    event.actor = _text(audit, "UserId", "UserKey")


def _read_client(event, audit, changes):
    event.app_id = _text(audit, "AppId", "ClientAppId", "ApplicationId")
    event.client_info = _text(audit, "ClientInfoString", "UserAgent")


def _read_logon(event, audit, changes):
    event.user_type = _text(audit, "UserType")
    event.logon_type = _text(audit, "LogonType")


def _read_record(event, audit, changes):
    extra = {
        "workload": _text(audit, "Workload"),
        "record_type": _text(audit, "RecordType"),
        "result_status": _text(audit, "ResultStatus"),
        "client_app_id": _text(audit, "ClientAppId"),
        "external_access": _text(audit, "ExternalAccess"),
        "mailbox_owner": _text(audit, "MailboxOwnerUPN"),
        "operation_count": _text(audit, "OperationCount"),
    }
    extra.update(event.extra)   # facts a reader run before this one wrote stay, after these
    event.extra = extra


def _read_mailbox(event, audit, changes):
    event.mailbox = _mailbox(event.operation, event.extra["mailbox_owner"], event.parameters,
                             _text(audit, "ObjectId"), event.actor)


def _read_src(event, audit, changes):
    event.src = clean_ip(_text(audit, "ClientIP", "ClientIPAddress", "ActorIpAddress"))


def _read_organization(event, audit, changes):
    event.organization = _text(audit, "OrganizationName")


def _read_dest(event, audit, changes):
    event.dest = _text(audit, "OriginatingServer").strip()


def _read_folders(event, audit, changes):
    item = audit.get("Item")
    event.extra["folders"] = _folder_paths(audit.get("Folders"), item)
    event.extra["folder_member"] = _folder_member(item)
    event.extra["folder_rights"] = _folder_rights(item)


def _read_calling_app(event, audit, changes):
    extra = event.extra
    caller = ""
    if changes is not None:
        extra["added_values"] = added_tokens([new for _, new, _ in changes], [old for _, _, old in changes])
        caller = _directory_target_app(event.properties, audit.get("ExtendedProperties"))
    extra["calling_app_id"] = caller or _caller_of(extra["client_app_id"], event.app_id)


def _read_non_owner(event, audit, changes):
    event.extra["non_owner"] = _non_owner(event.extra["mailbox_owner"], event.actor)


# What may wait for event.complete(), by the field paths it writes, and the readers whose facts
# it reads (each listed before it): a reader runs now when a path it writes is wanted, or a
# reader run now needs it; the others run in this order when the event is completed.
_DEFERRABLE = (
    (("actor",), _read_actor, ()),
    (("app_id", "client_info"), _read_client, ()),
    (("user_type", "logon_type"), _read_logon, ()),
    (("extra.workload", "extra.record_type", "extra.result_status", "extra.client_app_id", "extra.external_access",
      "extra.mailbox_owner", "extra.operation_count"), _read_record, ()),
    (("mailbox",), _read_mailbox, (_read_actor, _read_record)),
    (("src",), _read_src, ()),
    (("organization",), _read_organization, ()),
    (("dest",), _read_dest, ()),
    (("extra.folders", "extra.folder_member", "extra.folder_rights"), _read_folders, ()),
    (("extra.added_values", "extra.calling_app_id"), _read_calling_app, (_read_client, _read_record)),
    (("extra.non_owner",), _read_non_owner, (_read_actor, _read_record)),
)
_EVERYTHING_NOW = (tuple(read for _, read, _ in _DEFERRABLE), ())
_PLANS = {}


def _plan(wanted):
    """(readers to run now, readers to defer) for a set of wanted field paths."""
    if wanted is None:
        return _EVERYTHING_NOW
    plan = _PLANS.get(wanted)
    if plan is None:
        needed = set()
        for paths, read, needs in reversed(_DEFERRABLE):   # a reader's needs are listed before it
            if read in needed or not wanted.isdisjoint(paths):
                needed.add(read)
                needed.update(needs)
        now = tuple(read for _, read, _ in _DEFERRABLE if read in needed)
        plan = _PLANS[wanted] = (now, tuple(read for _, read, _ in _DEFERRABLE if read not in needed))
    return plan


def _modified_properties(modified):
    """Azure AD audit records in the Office 365 feed: ModifiedProperties [{Name, NewValue,
    OldValue}] as (lower-case name, new, old) texts; None when the record has no such list."""
    if not isinstance(modified, list):
        return None
    return [(str(item["Name"]).lower(), as_text(item.get("NewValue")), as_text(item.get("OldValue")))
            for item in modified if isinstance(item, dict) and item.get("Name") is not None]


def _folder_paths(folders, item):
    """Folder paths a mailbox-audit record touched (Folders[].Path, or the item's parent folder)."""
    paths = []
    if isinstance(folders, list):
        for folder in folders:
            if isinstance(folder, dict) and folder.get("Path"):
                paths.append(as_text(folder["Path"]))
    if isinstance(item, dict) and isinstance(item.get("ParentFolder"), dict):
        path = item["ParentFolder"].get("Path") or item["ParentFolder"].get("Name")
        if path:
            paths.append(as_text(path))
    return "; ".join(dict.fromkeys(paths))


def _parent_folder(item):
    return item.get("ParentFolder") if isinstance(item, dict) and isinstance(item.get("ParentFolder"), dict) else {}


def _folder_member(item):
    folder = _parent_folder(item)
    return as_text(folder.get("MemberUpn") or folder.get("MemberSid") or "")


def _folder_rights(item):
    return as_text(_parent_folder(item).get("MemberRights") or "")


def _add_directory_changes(event, modified, extended):
    """Azure AD audit records in the Office 365 feed: ModifiedProperties [{Name, NewValue, OldValue}]."""
    changes = _modified_properties(modified)
    if changes is None:
        return
    for name, new, _ in changes:
        event.properties.setdefault(name, new)
    event.extra["added_values"] = added_tokens([new for _, new, _ in changes], [old for _, _, old in changes])
    event.extra["calling_app_id"] = _directory_target_app(event.properties, extended)


def _directory_target_app(properties, extended):
    """The app a directory change was made to: ServicePrincipal.AppId, else the AppId in
    ExtendedProperties additionalDetails."""
    target_app = _unquoted(properties.get("serviceprincipal.appid", ""))
    if not target_app and isinstance(extended, list):
        for item in extended:
            if isinstance(item, dict) and item.get("Name") == "additionalDetails":
                found = _APP_ID_IN_DETAILS.search(as_text(item.get("Value")))
                if found:
                    target_app = found.group(1)
    return target_app


def _unquoted(text):
    return text.strip().strip('"').strip()


def _add_mail_access_facts(event):
    """Facts remote-collection rules test: who owns the mailbox read, which app read it."""
    event.extra["non_owner"] = _non_owner(event.extra.get("mailbox_owner", ""), event.actor)
    if not event.extra.get("calling_app_id"):
        event.extra["calling_app_id"] = _caller_of(event.extra.get("client_app_id", ""), event.app_id)


def _non_owner(owner, actor):
    return "true" if owner and actor and owner.lower() != actor.lower() else ""


def _caller_of(client_app_id, app_id):
    """The app that read the mailbox: the record's own ClientAppId, else its AppId. Never the
    `[AppId=...]` of the client string: the caller writes its User-Agent, so a rogue app could
    name an archiver's id there and borrow that app's allowlist row (real EWS records that carry
    the tag carry the same id in AppId and ClientAppId)."""
    return client_app_id or app_id


def _mailbox(operation, owner, parameters, object_id, actor):
    """Whose mailbox: the audited owner, else the cmdlet's -Mailbox/-Identity, else ObjectId
    (for admin cmdlets an internal directory path, the least readable choice). An inbox
    rule's identity names the rule: its mailbox is found in it (app/normalise/mailbox.py)."""
    if operation.lower() in INBOX_RULE_OPERATIONS:
        return inbox_rule_mailbox(parameters, actor, owner, object_id)
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
    event.mailbox = _mailbox(operation, first_field(record, ("MailboxOwnerUPN",)), event.parameters,
                             first_field(record, ("ObjectId", "object")), event.actor)
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
        "mailbox_owner": first_field(record, ("MailboxOwnerUPN",)),
        "operation_count": first_field(record, ("OperationCount",)),
        "folders": "; ".join(dict.fromkeys(
            as_list(record.get("Folders{}.Path")) + as_list(record.get("Item.ParentFolder.Path")))),
        "folder_member": first_field(record, ("Item.ParentFolder.MemberUpn", "Item.ParentFolder.MemberSid")),
        "folder_rights": first_field(record, ("Item.ParentFolder.MemberRights",)),
    }
    _add_nested_fields(event, record)
    if record.get("ModifiedProperties{}.Name") is not None:
        # Old and new values are zipped by position only in _raw; as extracted lists (empty
        # old values dropped) they are compared as wholes, which is all added_values needs.
        new_values = as_list(record.get("ModifiedProperties{}.NewValue"))
        old_values = as_list(record.get("ModifiedProperties{}.OldValue"))
        names = as_list(record.get("ModifiedProperties{}.Name"))
        if len(names) == len(new_values):
            for name, value in zip(names, new_values):
                event.properties.setdefault(name.lower(), value)
        event.extra["added_values"] = added_tokens(new_values, old_values)
        event.extra["calling_app_id"] = _unquoted(event.properties.get("serviceprincipal.appid", ""))
        if not event.extra["calling_app_id"]:
            for value in as_list(record.get("ExtendedProperties{}.Value")):
                found = _APP_ID_IN_DETAILS.search(value)
                if found:
                    event.extra["calling_app_id"] = found.group(1)
                    break
    return event


def _json_field(record, name):
    """A nested field some extractions keep as one JSON string (Folders, Item, ModifiedProperties)."""
    value = record.get(name)
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return None
    return None


def _add_nested_fields(event, record):
    folders, item = _json_field(record, "Folders"), _json_field(record, "Item")
    if folders is not None or item is not None:
        paths = _folder_paths(folders, item)
        if paths:
            event.extra["folders"] = "; ".join(dict.fromkeys(
                [p for p in (event.extra["folders"], paths) if p]))
        event.extra["folder_member"] = event.extra["folder_member"] or _folder_member(item)
        event.extra["folder_rights"] = event.extra["folder_rights"] or _folder_rights(item)
    modified = _json_field(record, "ModifiedProperties")
    if modified is not None:
        _add_directory_changes(event, modified, _json_field(record, "ExtendedProperties"))


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


O365_FACTS = ("added_values", "calling_app_id", "client_app_id", "external_access", "folder_member",
              "folder_rights", "folders", "mailbox_owner", "non_owner", "operation_count", "record_type",
              "result_status", "workload")
# An audit record is read from `_raw` (JSON) when it has one; these are the extracted fields
# read when it has not (and, for recognition, beside it).
READER = ReaderTable(
    "o365",
    facts={"o365": O365_FACTS},
    fields={
        "recognition": PROBE_FIELDS + AUDIT_MARK_FIELDS + ("_raw",),
        "operation": (OPERATION_FIELD, "_raw"),
        "param": ("Parameters{}.Name", "Parameters{}.Value"),
        "prop": ("OperationProperties{}.Name", "OperationProperties{}.Value", "ModifiedProperties",
                 "ModifiedProperties{}.Name", "ModifiedProperties{}.NewValue", "ModifiedProperties{}.OldValue",
                 "ExtendedProperties", "ExtendedProperties{}.Value"),
        "actor": ("UserId", "user"),
        "mailbox": ("MailboxOwnerUPN", "ObjectId", "object"),
        "src": ("ClientIP", "ClientIPAddress", "src_ip", "src"),
        "app_id": ("AppId", "ClientAppId"),
        "client_info": ("ClientInfoString",),
        "user_type": ("UserType",),
        "logon_type": ("LogonType",),
        "organization": ("OrganizationName",),
        "dest": ("OriginatingServer",),
        "extra.workload": ("Workload",),
        "extra.record_type": ("RecordType",),
        "extra.result_status": ("ResultStatus",),
        "extra.client_app_id": ("ClientAppId",),
        "extra.external_access": ("ExternalAccess",),
        "extra.mailbox_owner": ("MailboxOwnerUPN",),
        "extra.operation_count": ("OperationCount",),
        "extra.folders": ("Folders", "Folders{}.Path", "Item", "Item.ParentFolder.Path"),
        "extra.folder_member": ("Item", "Item.ParentFolder.MemberUpn", "Item.ParentFolder.MemberSid"),
        "extra.folder_rights": ("Item", "Item.ParentFolder.MemberRights"),
    },
    operations={"o365": (ANY_OPERATION,)},
    parameter_fields=True,
    sourcetype_prefixes=O365_SOURCETYPE_PREFIXES,
)
