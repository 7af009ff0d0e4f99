"""Microsoft Defender XDR advanced hunting records -> MailEvent.

As the Defender streaming API exports them to an Event Hub (indexed by the Splunk Add-on for
Microsoft Cloud Services: JSON with `category: AdvancedHunting-<Table>` and the row in
`properties`), as their extracted `properties.*` fields, or as advanced-hunting query rows
with the bare column names. Three tables carry T1114:

- DeviceProcessEvents (a process created) reads like Sysmon 1, and DeviceFileEvents
  (FileCreated, FileModified, FileRenamed) like Sysmon 11: each row is mapped onto those field
  names and read by the Windows endpoint normaliser, so every T1114.001 rule and allowlist
  treats them alike.
- CloudAppEvents carries the Office 365 audit record in RawEventData (MailItemsAccessed,
  New-InboxRule, Set-Mailbox, ...): it is read as the o365 sourcetype is.
"""

import json

from ..values import as_text, raw_json_object
from .o365 import READER as O365_READER
from .o365 import normalise_audit_record
from .reader_table import ReaderTable
from .windows_endpoint import READER as ENDPOINT_READER
from .windows_endpoint import base_name, normalise_windows_endpoint

CATEGORY_PREFIX = "AdvancedHunting-"
PROCESS_TABLE = "DeviceProcessEvents"
FILE_TABLE = "DeviceFileEvents"
CLOUD_APP_TABLE = "CloudAppEvents"
_FILE_WRITES = frozenset(("filecreated", "filemodified", "filerenamed"))


def looks_like_defender(view):
    record = view.record
    category = _first_present(record, _CATEGORY_FIELDS)
    if category:
        return as_text(category).startswith(CATEGORY_PREFIX)
    if _first_present(record, _ACTION_FIELDS) and _first_present(record, _QUERY_ROW_FIELDS):
        return True  # advanced-hunting query rows: column names, no category
    # `_raw` is read whole only when it opens a JSON object (RecordView.raw_head says why).
    return view.raw_head == "{" and '"' + CATEGORY_PREFIX in as_text(record.get("_raw"))


def _first_present(record, names):
    for name in names:
        value = record.get(name)
        if value:
            return value
    return None


class _Row:
    """One advanced-hunting row: the `properties` object of the JSON, its extracted
    `properties.<column>` fields, or bare columns."""

    __slots__ = ("properties", "record")

    def __init__(self, properties, record):
        self.properties = properties
        self.record = record

    def raw_value(self, column):
        value = self.properties.get(column)
        if value in (None, ""):
            value = self.record.get("properties." + column)
        if value in (None, ""):
            value = self.record.get(column)
        return value

    def get(self, column):
        value = self.raw_value(column)
        if value is None or isinstance(value, (dict, list)):
            return ""
        text = as_text(value).strip()
        return "" if text.lower() in ("", "null", "none") else text


def _document(record, context):
    return raw_json_object(record, context.problems, "defender", "A Defender XDR event's") or {}


def _table(document, record, row):
    category = as_text(document.get("category") or _first_present(record, _CATEGORY_FIELDS))
    if category.startswith(CATEGORY_PREFIX):
        return category[len(CATEGORY_PREFIX):]
    if row.raw_value("RawEventData") not in (None, ""):
        return CLOUD_APP_TABLE
    if row.get("ActionType").lower() == "processcreated":
        return PROCESS_TABLE
    if row.get("ActionType").lower().startswith("file"):
        return FILE_TABLE
    return ""


def _full_path(folder, name):
    """FolderPath is the full path in practice, but the schema calls it the folder: join when needed."""
    if not folder:
        return name
    if name and base_name(folder).lower() != name.lower():
        return folder.rstrip("\\/") + "\\" + name
    return folder


def _account(domain, name):
    if not name:
        return ""
    return "%s\\%s" % (domain, name) if domain and "\\" not in name and "@" not in name else name


def normalise_defender(record, context):
    document = _document(record, context)
    properties = document.get("properties")
    row = _Row(properties if isinstance(properties, dict) else {}, record)
    table = _table(document, record, row)
    if table == PROCESS_TABLE:
        return normalise_windows_endpoint(_process_as_sysmon(row), context)
    if table == FILE_TABLE:
        if row.get("ActionType").lower() not in _FILE_WRITES:
            return []
        return normalise_windows_endpoint(_file_as_sysmon(row), context)
    if table == CLOUD_APP_TABLE:
        return _cloud_app_event(row, context)
    return []


# How a device row is read as the Sysmon event of the same act: (Sysmon field, how its value is
# made, the columns it is made of). The reader's table is derived from these and the endpoint
# reader's own (each fact with the columns it comes from).
_PATH, _ACCOUNT, _VALUE = "path", "account", "value"
_PROCESS_AS_SYSMON = (
    ("Image", _PATH, ("FolderPath", "FileName")),
    ("CommandLine", _VALUE, ("ProcessCommandLine",)),
    ("ParentImage", _PATH, ("InitiatingProcessFolderPath", "InitiatingProcessFileName")),
    ("User", _ACCOUNT, ("AccountDomain", "AccountName", "AccountUpn")),
    ("Computer", _VALUE, ("DeviceName",)),
    ("OriginalFileName", _VALUE, ("ProcessVersionInfoOriginalFileName",)),
)
_FILE_AS_SYSMON = (
    ("TargetFilename", _PATH, ("FolderPath", "FileName")),
    # FileRenamed: the name the file had, so that a rename taking `.pst` away is still seen.
    ("PreviousFilePath", _PATH, ("PreviousFolderPath", "PreviousFileName")),
    ("Image", _PATH, ("InitiatingProcessFolderPath", "InitiatingProcessFileName")),
    ("User", _ACCOUNT, ("InitiatingProcessAccountDomain", "InitiatingProcessAccountName",
                        "InitiatingProcessAccountUpn")),
    ("Computer", _VALUE, ("DeviceName",)),
)


def _as_sysmon(row, event_code, mapping):
    record = {"EventCode": event_code}
    for field, kind, columns in mapping:
        if kind == _PATH:
            record[field] = _full_path(row.get(columns[0]), row.get(columns[1]))
        elif kind == _ACCOUNT:
            record[field] = _account(row.get(columns[0]), row.get(columns[1]) or row.get(columns[2]))
        else:
            record[field] = row.get(columns[0])
    return record


def _process_as_sysmon(row):
    return _as_sysmon(row, "1", _PROCESS_AS_SYSMON)


def _file_as_sysmon(row):
    return _as_sysmon(row, "11", _FILE_AS_SYSMON)


def _cloud_app_event(row, context):
    audit = row.raw_value("RawEventData")
    if isinstance(audit, str):
        try:
            audit = json.loads(audit)
        except (ValueError, RecursionError):
            context.problems.report("defender_raw_event_data_not_json",
                                    "A CloudAppEvents RawEventData value is not valid JSON; the event was not read.")
            return []
    if not isinstance(audit, dict):
        return []
    operation = as_text(audit.get("Operation")) or row.get("ActionType")
    if not context.wants(operation):
        return []
    return normalise_audit_record(audit, operation, context)


def _with_properties(columns):
    """A column as the reader may find it: bare, or `properties.<column>` as extracted."""
    return tuple(prefix + column for prefix in ("", "properties.") for column in columns)


def _device_fields(source, mapping):
    """{"<source> <what the endpoint reader reads>": the columns it comes from}: the endpoint
    reader's table seen through `mapping`."""
    columns_of = {field: columns for field, _, columns in mapping}
    facts = ENDPOINT_READER.facts[source]
    fields = {}
    for what, names in ENDPOINT_READER.fields.items():
        head, _, fact = what.partition(".")
        if head == "extra" and fact not in facts or what in ("recognition", "event xml"):
            continue   # a fact of the other source, or how the endpoint reader tells its events
        columns = tuple(dict.fromkeys(column for name in names for column in columns_of.get(name, ())))
        if columns:
            fields["%s %s" % (source, what)] = _with_properties(columns)
    return fields


READER = ReaderTable(
    "defender_xdr",
    # Device rows become the endpoint reader's events, CloudAppEvents the o365 reader's.
    facts={"process": ENDPOINT_READER.facts["process"], "file": ENDPOINT_READER.facts["file"],
           "o365": O365_READER.facts["o365"]},
    # Read from `_raw` (JSON) when it has one, else from these fields, with or without `properties.`.
    fields=dict(
        {
            # An Event Hub export names its table in `category`; an advanced-hunting query row
            # has an ActionType and one of the row columns.
            "recognition category": ("category", "Category"),
            "recognition action": ("ActionType",),
            "recognition row": ("DeviceId", "DeviceName", "InitiatingProcessFileName", "RawEventData"),
            "recognition json": ("_raw",),
            "table": _with_properties(("ActionType", "RawEventData")),
            "o365 audit record": _with_properties(("RawEventData",)),
        },
        **dict(_device_fields("process", _PROCESS_AS_SYSMON), **_device_fields("file", _FILE_AS_SYSMON))),
    operations={"process": ENDPOINT_READER.operations["process"], "file": ENDPOINT_READER.operations["file"],
                "o365": O365_READER.operations["o365"]},
)
_CATEGORY_FIELDS = READER.fields["recognition category"]
_ACTION_FIELDS = READER.fields["recognition action"]
_QUERY_ROW_FIELDS = READER.fields["recognition row"]
