"""Microsoft Graph activity logs (`MicrosoftGraphActivityLogs`) -> MailEvent.

One record per Graph API request, exported by Entra diagnostic settings to an Event Hub and
indexed by the Splunk Add-on for Microsoft Cloud Services (JSON with `category`,
`callerIpAddress`, `properties{requestUri, requestMethod, appId, userId, ...}`), or its
extracted `properties.*` fields, or the Log Analytics table's column names (`RequestUri`,
`AppId`, ...). Two kinds of request become events: successful GETs of mail content
(`/users/{id}/messages`, `/mailFolders/{f}/messages`, `/messages/{id}/$value`, attachments),
the MailItemsAccessed-like signal for tenants without the audit licence; and inbox rules
written (POST or PATCH of `/mailFolders/inbox/messageRules`). Every other request is dropped
after a few string tests.
"""

from urllib.parse import unquote

from ..event import MailEvent
from ..values import as_text, clean_ip, raw_json_object
from .reader_table import ReaderTable

GRAPH_MAIL_READ = "GraphMailRead"
GRAPH_INBOX_RULE_WRITE = "GraphInboxRuleWrite"
CATEGORY = "MicrosoftGraphActivityLogs"
_GRAPH_HOSTS = ("https://graph.microsoft.com/", "https://graph.microsoft.us/", "https://dod-graph.microsoft.us/",
                "https://microsoftgraph.chinacloudapi.cn/", "https://graph.microsoft.de/")
# The request's properties: {name in the JSON `properties` (and extracted as `properties.<name>`):
# the Log Analytics column}.
_COLUMNS = {
    "requestUri": "RequestUri", "requestMethod": "RequestMethod", "responseStatusCode": "ResponseStatusCode",
    "appId": "AppId", "userId": "UserId", "servicePrincipalId": "ServicePrincipalId", "ipAddress": "IPAddress",
    "userAgent": "UserAgent", "roles": "Roles", "scopes": "Scopes", "tenantId": "TenantId",
}
# Methods that write a messageRule (Graph documents POST to create and PATCH to update one).
_RULE_WRITES = frozenset(("POST", "PATCH", "PUT"))


def _read_from(*names):
    """The event fields a request property is read from, besides `_raw`: the extracted
    `properties.<name>`, then the Log Analytics column."""
    return tuple(field for name in names for field in ("properties." + name, _COLUMNS[name]))


def looks_like_graph_activity(view):
    record = view.record
    for name in READER.fields["recognition"]:
        category = record.get(name)
        if category:
            return as_text(category) == CATEGORY
    if all(record.get(name) for name in READER.fields["recognition.export"]):
        return True  # the Log Analytics export shape, which has no category
    # `_raw` is read whole only when it opens a JSON object (RecordView.raw_head says why).
    return view.raw_head == "{" and CATEGORY in as_text(record.get("_raw"))


def _document(record, context):
    return raw_json_object(record, context.problems, "graph", "A Graph activity event's") or {}


class _Fields:
    """properties.<name> from the JSON, else the extracted `properties.<name>`, else the column."""

    __slots__ = ("properties", "record")

    def __init__(self, document, record):
        properties = document.get("properties")
        self.properties = properties if isinstance(properties, dict) else {}
        self.record = record

    def get(self, name):
        value = self.properties.get(name)
        if value in (None, ""):
            value = self.record.get("properties." + name)
        if value in (None, ""):
            value = self.record.get(_COLUMNS[name])
        return as_text(value).strip() if not isinstance(value, (dict, list)) else ""


def _segments(path):
    """The path's segments split at `/` outside quotes, an OData key form such as
    `users('a@b.com')` or `messages('AAMk')` giving its name and its key as two segments."""
    segments, current, quote = [], [], ""
    for char in path:
        if quote:
            if char == quote:
                quote = ""
            current.append(char)
        elif char == "'" or char == '"':
            quote = char
            current.append(char)
        elif char == "/":
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
    segments.append("".join(current))
    parts = []
    for segment in segments:
        name, opened, key = segment.partition("(")
        if opened and key.endswith(")"):
            parts.append(name)
            key = key[:-1].strip()
            if key.lower().startswith("id="):
                key = key[3:].strip()
            parts.append(key.strip("'\""))
        elif segment:
            parts.append(segment)
    return [part for part in parts if part]


def _mailbox_path(uri):
    """(mailbox named in the path or 'me', [the rest of the path's segments in lower case]) for a
    Graph request about a user's mailbox, else None."""
    lowered = uri.lower()
    for host in _GRAPH_HOSTS:
        if lowered.startswith(host):
            uri = uri[len(host):]
            break
    path = uri.split("?", 1)[0].split("#", 1)[0]
    if "%" in path:
        path = unquote(path)   # /users/ceo%40contoso.com/me%73sages reaches Graph as /users/ceo@contoso.com/messages
    parts = _segments(path)
    if parts and parts[0].lower() in ("v1.0", "beta"):
        parts = parts[1:]
    if len(parts) < 2:
        return None
    head = parts[0].lower()
    if head == "me":
        return "me", [part.lower() for part in parts[1:]]
    if head == "users" and len(parts) >= 3:
        return parts[1].strip("'\""), [part.lower() for part in parts[2:]]
    return None


def _may_name(uri, word):
    """False when `uri` cannot name `word` (a path segment), decided on the text as it is."""
    lowered = uri.lower()
    return word in lowered or "%" in lowered


def mail_request(uri):
    """(mailbox named in the path or 'me', what is read) for a Graph request reading mail, else None.

    '/v1.0/users/ceo@contoso.com/mailFolders/inbox/messages?$top=50' -> ('ceo@contoso.com', 'messages');
    '.../messages/{id}/$value' -> (..., 'message_content'); '.../attachments' -> (..., 'attachments');
    the OData key form `/users('ceo@contoso.com')/messages('AAMk')` is the same request.
    """
    if not _may_name(uri, "messages"):
        return None
    found = _mailbox_path(uri)
    if found is None:
        return None
    mailbox, names = found
    if "messages" not in names:
        return None
    if "attachments" in names:
        return mailbox, "attachments"
    if names[-1] == "$value":
        return mailbox, "message_content"
    return mailbox, "messages"


def inbox_rule_request(uri):
    """The mailbox named in the path (or 'me') of a request on an inbox rule (`.../mailFolders/
    inbox/messageRules` or `.../messageRules/{id}`), else None."""
    if not _may_name(uri, "messagerules"):
        return None
    found = _mailbox_path(uri)
    if found is None:
        return None
    mailbox, names = found
    if "messagerules" not in names or names.index("messagerules") < len(names) - 2:
        return None   # a rule or the collection, not something beneath a rule
    return mailbox


def _operation(uri, method, status, context):
    """(operation, mailbox in the path, what it is about) of a request some rule may want, else None."""
    if not uri or (status and not status.startswith("2")):
        return None   # a refused or failed request read or wrote nothing
    if method in ("GET", ""):
        found = mail_request(uri) if context.wants(GRAPH_MAIL_READ) else None
        return (GRAPH_MAIL_READ,) + found if found else None
    if method in _RULE_WRITES and context.wants(GRAPH_INBOX_RULE_WRITE):
        mailbox = inbox_rule_request(uri)
        return (GRAPH_INBOX_RULE_WRITE, mailbox, "message_rules") if mailbox else None
    return None   # DELETE, or POST/PATCH of anything else: nothing read, no rule written


def normalise_graph_activity(record, context):
    if not (context.wants(GRAPH_MAIL_READ) or context.wants(GRAPH_INBOX_RULE_WRITE)):
        return []
    document = _document(record, context)
    fields = _Fields(document, record)
    uri = fields.get("requestUri")
    method = fields.get("requestMethod").upper() if uri else ""
    status = fields.get("responseStatusCode") if uri else ""
    found = _operation(uri, method, status, context)
    if found is None:
        return []
    operation, mailbox, resource = found
    event = MailEvent("graph_activity", operation)
    user_id = fields.get("userId")
    principal = fields.get("servicePrincipalId")
    event.app_id = fields.get("appId")
    event.actor = user_id or principal or event.app_id
    event.mailbox = user_id if mailbox == "me" else mailbox
    event.src = clean_ip(fields.get("ipAddress") or as_text(document.get("callerIpAddress"))
                         or as_text(record.get("callerIpAddress")))
    event.client_info = fields.get("userAgent")
    event.organization = fields.get("tenantId")
    app_only = not user_id
    event.extra = {
        "request_uri": uri,
        "mail_resource": resource,
        "user_id": user_id,
        "service_principal_id": principal,
        "app_only": "true" if app_only else "",
        # /users/{x}/... where x is not the signed-in user: another mailbox (a UPN in the path
        # cannot be compared with the caller's object id, so it counts as another mailbox).
        "other_mailbox": "true" if mailbox != "me" and (app_only or mailbox.lower() != user_id.lower()) else "",
        "roles": fields.get("roles"),
        "scopes": fields.get("scopes"),
        "calling_app_id": event.app_id,  # what the applications allowlist matches
        "status": status,
    }
    return [event]


READER = ReaderTable(
    "graph_activity",
    facts={"graph_activity": ("app_only", "calling_app_id", "mail_resource", "other_mailbox", "request_uri",
                              "roles", "scopes", "service_principal_id", "status", "user_id")},
    # Each is read from the JSON `_raw` when it has one (its `properties`), else from these fields.
    fields={
        # A record whose category (Event Hub JSON and extracted fields) or Type (Log Analytics)
        # is MicrosoftGraphActivityLogs; a Log Analytics export without one has a request URI
        # and an app id; else `_raw` names the category.
        "recognition": ("category", "Category", "Type"),
        "recognition.export": (_COLUMNS["requestUri"], _COLUMNS["appId"]),
        "document": ("_raw",),
        "operation": _read_from("requestUri", "requestMethod", "responseStatusCode"),
        "extra.request_uri": _read_from("requestUri"),
        "extra.mail_resource": _read_from("requestUri"),
        "extra.status": _read_from("responseStatusCode"),
        "extra.user_id": _read_from("userId"),
        "extra.app_only": _read_from("userId"),
        "extra.service_principal_id": _read_from("servicePrincipalId"),
        "extra.other_mailbox": _read_from("requestUri", "userId"),
        "extra.roles": _read_from("roles"),
        "extra.scopes": _read_from("scopes"),
        "extra.calling_app_id": _read_from("appId"),
        "app_id": _read_from("appId"),
        "actor": _read_from("userId", "servicePrincipalId", "appId"),
        "mailbox": _read_from("requestUri", "userId"),
        "src": _read_from("ipAddress") + ("callerIpAddress",),
        "client_info": _read_from("userAgent"),
        "organization": _read_from("tenantId"),
    },
    operations={"graph_activity": (GRAPH_MAIL_READ, GRAPH_INBOX_RULE_WRITE)},
)
