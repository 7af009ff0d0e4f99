"""Office 365 Management Activity records (sourcetype o365:management:activity) -> MailEvent.

Reads the add-on's extracted fields or, when present, the raw JSON in `_raw`, which is
authoritative: Splunk's multivalue extraction drops empty values, so `Parameters{}.Name`
and `Parameters{}.Value` can fall out of step (an empty ForwardingAddress would borrow the
next parameter's value). One reader, read_audit, computes each fact once from either
(_AuditJson, _ExtractedFields: where each value is read from is the table _READS).
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
        event = read_audit(_ExtractedFields(record, context), operation, context.match_paths(operation))
    _add_inbox_rule_actions(event, context)
    return [event]


def normalise_audit_record(audit, operation, context):
    """An Office 365 audit record already parsed (as Defender XDR CloudAppEvents carry it in
    RawEventData): the same MailEvent the o365 sourcetype gives."""
    event = audit_event(audit, operation, context.match_paths(operation))
    _add_inbox_rule_actions(event, context)
    return [event]


def audit_event(audit, operation, wanted=None):
    """The MailEvent of one audit record parsed from JSON (read_audit)."""
    return read_audit(_AuditJson(audit), operation, wanted)


# Where each value is read from: (the keys of an audit record parsed from JSON, the extracted
# fields of an event without `_raw`); the first with a value counts. READER's fields are these.
_READS = {
    "actor": (("UserId", "UserKey"), ("UserId", "user")),
    "object_id": (("ObjectId",), ("ObjectId", "object")),
    "src": (("ClientIP", "ClientIPAddress", "ActorIpAddress"), ("ClientIP", "ClientIPAddress", "src_ip", "src")),
    "app_id": (("AppId", "ClientAppId", "ApplicationId"), ("AppId", "ClientAppId")),
    "client_info": (("ClientInfoString", "UserAgent"), ("ClientInfoString",)),
    "user_type": (("UserType",),) * 2,
    "logon_type": (("LogonType",),) * 2,
    "organization": (("OrganizationName",),) * 2,
    "dest": (("OriginatingServer",),) * 2,
    "extra.workload": (("Workload",),) * 2,
    "extra.record_type": (("RecordType",),) * 2,
    "extra.result_status": (("ResultStatus",),) * 2,
    "extra.client_app_id": (("ClientAppId",),) * 2,
    "extra.external_access": (("ExternalAccess",),) * 2,
    "extra.mailbox_owner": (("MailboxOwnerUPN",),) * 2,
    "extra.operation_count": (("OperationCount",),) * 2,
}
_AUDIT_KEYS = {what: keys for what, (keys, _) in _READS.items()}
_FIELD_NAMES = {what: names for what, (_, names) in _READS.items()}
# The audit record's own facts, as (fact, what it is read as).
_RECORD_FACTS = tuple((what[len("extra."):], what) for what in _READS if what.startswith("extra."))


class _AuditJson:
    """An audit record parsed from JSON (`_raw`, or Defender XDR's RawEventData), as read_audit
    reads it."""

    __slots__ = ("audit", "parameters", "properties", "changes")

    def __init__(self, audit):
        get = audit.get
        self.audit = audit
        self.parameters = _name_value_pairs(get("Parameters"))
        self.properties = properties = _name_value_pairs(get("OperationProperties"))
        self.changes = changes = _modified_properties(get("ModifiedProperties"))
        if changes is not None:
            for name, new, _ in changes:
                properties.setdefault(name, new)

    def text(self, what):
        keys = _AUDIT_KEYS[what]
        value = self.audit.get(keys[0])
        # The usual audit values, a string or a number (RecordType, UserType, LogonType,
        # OperationCount): what _text returns for them, without the call.
        if type(value) is str:
            if value and len(value) <= MAX_VALUE_CHARS:
                return value
        elif type(value) is int:
            text = str(value)
            if len(text) <= MAX_VALUE_CHARS:
                return text
        return _text(self.audit, keys)

    def folders(self):
        item = self.audit.get("Item")
        return _folder_paths(self.audit.get("Folders"), item), _folder_member(item), _folder_rights(item)

    def directory_change(self, properties):
        """(added_values, the app changed) of an Azure AD change record, None for others."""
        changes = self.changes
        if changes is None:
            return None
        return (added_tokens([new for _, new, _ in changes], [old for _, _, old in changes]),
                _directory_target_app(properties, self.audit.get("ExtendedProperties")))


class _ExtractedFields:
    """An event without an audit record in `_raw`: the add-on's extracted fields, Splunk's
    flattening of the same record (multivalue lists that drop empty values; nested values some
    extractions keep as one JSON string), as read_audit reads it."""

    __slots__ = ("record", "parameters", "properties", "_json_changes")

    def __init__(self, record, context):
        self.record = record
        self.parameters, _ = _zip_fields(record, "Parameters{}.Name", "Parameters{}.Value", "parameters", context)
        # Flattened parameters (ForwardTo, ForwardingSmtpAddress, ...) fill what the arrays lack.
        for lower, spelled in context.parameter_fields.items():
            if lower not in self.parameters:
                value = record.get(spelled, record.get(lower))
                if value is not None:
                    self.parameters[lower] = ";".join(as_list(value))
        self.properties, misaligned = _zip_fields(
            record, "OperationProperties{}.Name", "OperationProperties{}.Value", "properties", context)
        if misaligned:
            # Without names we can still recognise the inbox-rule action lists by their content.
            for value in as_list(record.get("OperationProperties{}.Value")):
                if "ActionType" in value:
                    key = "serverrule" if value.lstrip().startswith("{") else "ruleactions"
                    self.properties.setdefault(key, value)
        self._json_changes = _modified_properties(_json_field(record, "ModifiedProperties"))
        for name, new, _ in self._json_changes or ():
            self.properties.setdefault(name, new)
        if record.get("ModifiedProperties{}.Name") is not None:
            names = as_list(record.get("ModifiedProperties{}.Name"))
            new_values = as_list(record.get("ModifiedProperties{}.NewValue"))
            if len(names) == len(new_values):
                for name, value in zip(names, new_values):
                    self.properties.setdefault(name.lower(), value)

    def text(self, what):
        return first_field(self.record, _FIELD_NAMES[what])

    def folders(self):
        record = self.record
        folders = "; ".join(dict.fromkeys(
            as_list(record.get("Folders{}.Path")) + as_list(record.get("Item.ParentFolder.Path"))))
        member = first_field(record, ("Item.ParentFolder.MemberUpn", "Item.ParentFolder.MemberSid"))
        rights = first_field(record, ("Item.ParentFolder.MemberRights",))
        nested, item = _json_field(record, "Folders"), _json_field(record, "Item")
        if nested is not None or item is not None:
            paths = _folder_paths(nested, item)
            if paths:
                folders = "; ".join(dict.fromkeys([p for p in (folders, paths) if p]))
            member = member or _folder_member(item)
            rights = rights or _folder_rights(item)
        return folders, member, rights

    def directory_change(self, properties):
        """As _AuditJson's. Old and new values are zipped by position only in _raw; as extracted
        lists (empty old values dropped) they are compared as wholes, which is all added_values needs."""
        record = self.record
        if record.get("ModifiedProperties{}.Name") is not None:
            added = added_tokens(as_list(record.get("ModifiedProperties{}.NewValue")),
                                 as_list(record.get("ModifiedProperties{}.OldValue")))
            target = _unquoted(properties.get("serviceprincipal.appid", ""))
            if not target:
                for value in as_list(record.get("ExtendedProperties{}.Value")):
                    found = _APP_ID_IN_DETAILS.search(value)
                    if found:
                        target = found.group(1)
                        break
            return added, target
        changes = self._json_changes
        if changes is None:
            return None
        return (added_tokens([new for _, new, _ in changes], [old for _, _, old in changes]),
                _directory_target_app(properties, _json_field(record, "ExtendedProperties")))


def read_audit(given, operation, wanted=None):
    """The MailEvent of one Office 365 audit record, `given` as parsed JSON (_AuditJson) or as
    extracted fields (_ExtractedFields): each fact is computed once, by one reader below.
    `wanted` is the set of field paths the match conditions of the operation's rules read
    (NormaliseContext.match_paths), None for all: the facts in _DEFERRABLE it does not name are
    left to event.complete(), which the engine calls before it makes a finding (most
    MailItemsAccessed records match no rule and never need their folder list, client address
    or calling app; the forwarding rules read only parameters)."""
    event = AuditEvent("o365", operation)
    event.parameters = given.parameters
    event.properties = given.properties
    now, later = _plan(wanted)
    for read in now:
        read(event, given)
    event.later = (given, later) if later else None
    return event


class AuditEvent(MailEvent):
    """An Office 365 audit record's MailEvent, with the facts read_audit left for complete()."""

    __slots__ = ("later",)   # (the record as given, the readers still to run), or None

    def complete(self):
        """Run the readers left, once."""
        later = self.later
        if later is not None:
            self.later = None
            given, readers = later
            for read in readers:
                read(self, given)


def _read_actor(event, given):
    event.actor = given.text("actor")


def _read_client(event, given):
    event.app_id = given.text("app_id")
    event.client_info = given.text("client_info")


def _read_logon(event, given):
    event.user_type = given.text("user_type")
    event.logon_type = given.text("logon_type")


def _read_record(event, given):
    extra = {fact: given.text(what) for fact, what in _RECORD_FACTS}
    extra.update(event.extra)   # facts a reader run before this one wrote stay, after these
    event.extra = extra


def _read_mailbox(event, given):
    event.mailbox = _mailbox(event.operation, event.extra["mailbox_owner"], event.parameters,
                             given.text("object_id"), event.actor)


def _read_src(event, given):
    event.src = clean_ip(given.text("src"))


def _read_organization(event, given):
    event.organization = given.text("organization")


def _read_dest(event, given):
    event.dest = given.text("dest").strip()


def _read_folders(event, given):
    extra = event.extra
    extra["folders"], extra["folder_member"], extra["folder_rights"] = given.folders()


def _read_calling_app(event, given):
    extra = event.extra
    caller = ""
    change = given.directory_change(event.properties)
    if change is not None:
        extra["added_values"], caller = change
    extra["calling_app_id"] = caller or _caller_of(extra["client_app_id"], event.app_id)


def _read_non_owner(event, given):
    event.extra["non_owner"] = _non_owner(event.extra["mailbox_owner"], event.actor)


# What may wait for event.complete(), by the field paths it writes, and the readers whose facts
# it reads (each listed before it): a reader runs now when a path it writes is wanted, or a
# reader run now needs it; the others run in this order when the event is completed.
_DEFERRABLE = (
    (("actor",), _read_actor, ()),
    (("app_id", "client_info"), _read_client, ()),
    (("user_type", "logon_type"), _read_logon, ()),
    (tuple(what for _, what in _RECORD_FACTS), _read_record, ()),
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


def _text(audit, keys):
    """The first of `keys` with a value in the audit record, as text; '' when none has one."""
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


def _json_field(record, name):
    """A nested field some extractions keep as one JSON string (Folders, Item, ModifiedProperties)."""
    value = record.get(name)
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return None
    return None


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
        # The values read_audit reads by name (_READS); an ObjectId names the mailbox.
        **{what: names for what, names in _FIELD_NAMES.items() if what != "object_id"},
        "mailbox": _FIELD_NAMES["extra.mailbox_owner"] + _FIELD_NAMES["object_id"],
        "extra.folders": ("Folders", "Folders{}.Path", "Item", "Item.ParentFolder.Path"),
        "extra.folder_member": ("Item", "Item.ParentFolder.MemberUpn", "Item.ParentFolder.MemberSid"),
        "extra.folder_rights": ("Item", "Item.ParentFolder.MemberRights"),
    },
    operations={"o365": (ANY_OPERATION,)},
    parameter_fields=True,
    sourcetype_prefixes=O365_SOURCETYPE_PREFIXES,
)
