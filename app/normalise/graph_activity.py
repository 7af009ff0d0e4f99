"""Microsoft Graph activity logs (`MicrosoftGraphActivityLogs`) -> MailEvent.

One record per Graph API request, exported by Entra diagnostic settings to an Event Hub and
indexed by the Splunk Add-on for Microsoft Cloud Services (JSON with `category`,
`callerIpAddress`, `properties{requestUri, requestMethod, appId, userId, ...}`), or its
extracted `properties.*` fields, or the Log Analytics table's column names (`RequestUri`,
`AppId`, ...). Only successful GETs of mail content (`/users/{id}/messages`,
`/mailFolders/{f}/messages`, `/messages/{id}/$value`, attachments) become events: they are the
MailItemsAccessed-like signal for tenants without the audit licence. Every other request is
dropped after a few string tests.
"""


from ..event import MailEvent
from ..values import as_text, clean_ip, raw_json_object
from .reader_table import ReaderTable

GRAPH_MAIL_READ = "GraphMailRead"
CATEGORY = "MicrosoftGraphActivityLogs"
_GRAPH_HOSTS = ("https://graph.microsoft.com/", "https://graph.microsoft.us/", "https://dod-graph.microsoft.us/",
                "https://microsoftgraph.chinacloudapi.cn/", "https://graph.microsoft.de/")
# {properties name: Log Analytics column}
_COLUMNS = {
    "requestUri": "RequestUri", "requestMethod": "RequestMethod", "responseStatusCode": "ResponseStatusCode",
    "appId": "AppId", "userId": "UserId", "servicePrincipalId": "ServicePrincipalId", "ipAddress": "IPAddress",
    "userAgent": "UserAgent", "roles": "Roles", "scopes": "Scopes", "tenantId": "TenantId",
}


def looks_like_graph_activity(view):
    record = view.record
    category = record.get("category") or record.get("Category") or record.get("Type")
    if category:
        return as_text(category) == CATEGORY
    if record.get("RequestUri") and record.get("AppId"):
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
            value = self.record.get(_COLUMNS.get(name, name))
        return as_text(value).strip() if not isinstance(value, (dict, list)) else ""


def mail_request(uri):
    """(mailbox named in the path or 'me', what is read) for a Graph request reading mail, else None.

    '/v1.0/users/ceo@contoso.com/mailFolders/inbox/messages?$top=50' -> ('ceo@contoso.com', 'messages');
    '.../messages/{id}/$value' -> (..., 'message_content'); '.../attachments' -> (..., 'attachments').
    """
    lowered = uri.lower()
    if "/messages" not in lowered:
        return None
    for host in _GRAPH_HOSTS:
        if lowered.startswith(host):
            uri = uri[len(host):]
            break
    path = uri.split("?", 1)[0].split("#", 1)[0]
    parts = [part for part in path.split("/") if part]
    if parts and parts[0].lower() in ("v1.0", "beta"):
        parts = parts[1:]
    if len(parts) < 2:
        return None
    head = parts[0].lower()
    if head == "me":
        mailbox, rest = "me", parts[1:]
    elif head == "users" and len(parts) >= 3:
        mailbox, rest = parts[1].strip("'\""), parts[2:]
    else:
        return None
    names = [part.lower() for part in rest]
    if "messages" not in names:
        return None
    if "attachments" in names:
        return mailbox, "attachments"
    if names[-1] == "$value":
        return mailbox, "message_content"
    return mailbox, "messages"


def normalise_graph_activity(record, context):
    if not context.wants(GRAPH_MAIL_READ):
        return []
    document = _document(record, context)
    fields = _Fields(document, record)
    uri = fields.get("requestUri")
    found = mail_request(uri) if uri else None
    if found is None:
        return []
    method = fields.get("requestMethod").upper()
    status = fields.get("responseStatusCode")
    if method not in ("GET", "") or (status and not status.startswith("2")):
        return []  # a refused or failed request read nothing; POST/PATCH/DELETE do not read
    mailbox, resource = found
    event = MailEvent("graph_activity", GRAPH_MAIL_READ)
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
    # Read from `_raw` (JSON) when it has one, else from these fields, with or without `properties.`.
    fields={
        "recognition": ("category", "Category", "Type", "RequestUri", "_raw"),
        "src": ("callerIpAddress",),
        "event": tuple(prefix + name for prefix in ("", "properties.") for name in (
            "AppId", "IPAddress", "RequestMethod", "RequestUri", "ResponseStatusCode", "Roles", "Scopes",
            "ServicePrincipalId", "TenantId", "UserAgent", "UserId")) + tuple("properties." + name for name in (
                "appId", "ipAddress", "requestMethod", "requestUri", "responseStatusCode", "roles", "scopes",
                "servicePrincipalId", "tenantId", "userAgent", "userId")),
    },
    operations={"graph_activity": (GRAPH_MAIL_READ,)},
)
