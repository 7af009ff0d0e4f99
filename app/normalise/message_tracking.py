"""Exchange Server message-tracking log rows -> MailEvent.

Field names vary by add-on (event-id, event_id, EventId): each is read. A row that reached
Splunk without field extraction is split from `_raw` by the log's fixed column order.
"""

import csv

from ..csv_rows import csv_row
from ..event import MailEvent
from ..values import as_text, first_field, split_addresses
from .reader_table import ANY_OPERATION, ReaderTable

# Column order of Exchange 2013-2019 message-tracking logs (#Fields header).
COLUMNS = (
    "date-time", "client-ip", "client-hostname", "server-ip", "server-hostname", "source-context",
    "connector-id", "source", "event-id", "internal-message-id", "message-id", "network-message-id",
    "recipient-address", "recipient-status", "total-bytes", "recipient-count", "related-recipient-address",
    "reference", "message-subject", "sender-address", "return-path", "message-info", "directionality",
    "tenant-id", "original-client-ip", "original-server-ip", "custom-data", "transport-traffic-type",
    "log-id", "schema-version",
)


def _variants(column):
    underscored = column.replace("-", "_")
    camel = "".join(part.capitalize() for part in column.split("-"))
    return (column, underscored, camel)


_FIELD_NAMES = {column: _variants(column) for column in COLUMNS}
# `source` clashes with Splunk's own metadata field, so add-ons rename it.
_FIELD_NAMES["source"] = ("source_id", "source-id", "SourceId", "tracking_source")


def looks_like_message_tracking(view):
    if "messagetracking" in view.sourcetype or "message_tracking" in view.sourcetype:
        return True
    record = view.record
    return bool(first_field(record, _FIELD_NAMES["event-id"])) and bool(
        first_field(record, _FIELD_NAMES["custom-data"]) or first_field(record, _FIELD_NAMES["source-context"]))


def _row_from_raw(raw):
    try:
        cells = csv_row(raw)
    except (csv.Error, StopIteration):
        return {}
    if len(cells) < len(COLUMNS) - 3:
        return {}
    return dict(zip(COLUMNS, cells))


def normalise_message_tracking(record, context):
    if first_field(record, _FIELD_NAMES["event-id"]):
        row = {column: first_field(record, names) for column, names in _FIELD_NAMES.items()}
    else:
        row = _row_from_raw(as_text(record.get("_raw")))
        if not row:
            return []
    custom = row.get("custom-data", "")
    event = MailEvent("message_tracking", row.get("event-id", ""))
    event.actor = row.get("sender-address", "")
    event.mailbox = row.get("related-recipient-address", "")
    event.src = row.get("client-ip", "") or row.get("original-client-ip", "")
    event.dest = row.get("server-hostname", "")
    event.extra = {
        "source_context": row.get("source-context", ""),
        "tracking_source": row.get("source", ""),
        "recipients": tuple(split_addresses(row.get("recipient-address", ""))),
        "recipient_type": _custom_value(custom, "S:RecipientType"),
        "custom_data": custom,
        "subject": row.get("message-subject", ""),
        "message_id": row.get("message-id", ""),
    }
    if custom and "S:TRA=ETR|" in custom:
        event.extra["transport_rule_ids"], event.extra["transport_rule_actions"] = transport_rule_entries(custom)
    return [event]


def transport_rule_entries(custom):
    """(rule ids, lower-case actions) of the Transport Rule Agent's `S:TRA=ETR|ruleId=..|action=..`
    entries in an AGENTINFO row's custom-data: which rule acted on the message, and how."""
    rule_ids, actions = {}, {}
    for part in custom.split(";"):
        part = part.strip()
        if not part.startswith("S:TRA=ETR|"):
            continue
        entry = {}
        for item in part.split("|")[1:]:
            name, _, value = item.partition("=")
            entry[name.strip().lower()] = value.strip()
        # A rule in test mode (mode=Audit, AuditAndNotify) only logs what it would have done.
        if entry.get("mode", "enforce").lower() != "enforce":
            continue
        if entry.get("ruleid"):
            rule_ids[entry["ruleid"]] = None
        if entry.get("action"):
            actions[entry["action"].lower()] = None
    return tuple(rule_ids), tuple(actions)


def _custom_value(custom, key):
    for part in custom.split(";"):
        name, _, value = part.partition("=")
        if name.strip().lower() == key.lower():
            return value.strip()
    return ""


READER = ReaderTable(
    "message_tracking",
    facts={"message_tracking": ("custom_data", "message_id", "recipient_type", "recipients", "source_context",
                                "subject", "tracking_source", "transport_rule_actions", "transport_rule_ids")},
    # Every column of the log, in each add-on's spelling (_FIELD_NAMES), and `_raw` (a log line).
    fields=dict({column: names for column, names in _FIELD_NAMES.items()}, _raw=("_raw",)),
    operations={"message_tracking": (ANY_OPERATION,)},   # the event-id column (RECEIVE, AGENTINFO, ...)
)
