"""Classic (non-XML) Windows event logs as the Splunk Add-on for Microsoft Windows indexes
them (`sourcetype=WinEventLog`, `source=WinEventLog:Security`, `renderXml=false`).

`_raw` is a `Key=Value` header (LogName, EventCode, ComputerName, ...) and then the rendered
message, `Key:<tabs>value` lines under section titles. The add-on's search-time extraction
names each message key with its spaces made underscores (`New Process Name` ->
`New_Process_Name`) and keeps a repeated key as a multivalue field (`Account_Name` holds the
subject and the target account). When Splunk hands over only `_raw` (Fast mode, or no add-on
on the search head) the same names are read from the text here, so both shapes agree.
"""

from ..values import as_text

# Only this much of a classic event is read: the message keys rules need come first, the
# long explanatory paragraph Windows appends comes last.
_MAX_CLASSIC_CHARS = 16384
_HEADER_KEYS = ("LogName", "EventCode", "EventType", "ComputerName", "SourceName", "Type", "RecordNumber",
                "Keywords", "TaskCategory", "OpCode", "Sid", "SidType", "User")
# Value-only lines that continue the key above them (4663 lists one access right per line).
_CONTINUED_KEYS = frozenset(("Accesses", "Access_Reasons"))


def looks_like_classic(record, sourcetype, source):
    """True for a classic WinEventLog event, by sourcetype/source or by its header in `_raw`."""
    if sourcetype.startswith("wineventlog") or source.startswith("wineventlog:"):
        return True
    raw = record.get("_raw")
    if not raw or record.get("EventCode"):
        return False
    head = as_text(raw, 400)
    return "\nEventCode=" in head and "\nLogName=" in head


def classic_fields(raw):
    """{field name as the add-on extracts it: value, or a list when the key repeats}."""
    text = as_text(raw, _MAX_CLASSIC_CHARS)
    fields, header = {}, {}
    in_message = False
    last_key = None
    for line in text.splitlines():
        if not in_message:
            key, equals, value = line.partition("=")
            if equals and key in _HEADER_KEYS:
                header[key] = value.strip()
                continue
            if key == "Message":
                in_message = True
                line = value
            else:
                continue
        stripped = line.strip()
        if not stripped:
            last_key = None
            continue
        key, colon, value = stripped.partition(":")
        value = value.strip()
        if colon and key and len(key) < 60 and (value or line[:1] in "\t ") and _is_key(key):
            name = key.strip().replace(" ", "_")
            _add(fields, name, value)
            last_key = name if name in _CONTINUED_KEYS else None
        elif last_key is not None:
            _add(fields, last_key, stripped)
    # The message's own key wins a clash: Sysmon's `User: CONTOSO\bob` over the header's
    # `User=NOT_TRANSLATED`.
    for key, value in header.items():
        fields.setdefault(key, value)
    return fields


def _is_key(key):
    # Message keys are words ("Process Command Line", "Security ID"); a path or a sentence
    # with a colon in it ("C:\\Windows", "Error: x") is not.
    return key[0].isalpha() and all(char.isalnum() or char in " _-()" for char in key) and "\\" not in key


def _add(fields, name, value):
    present = fields.get(name)
    if present is None:
        fields[name] = value
    elif isinstance(present, list):
        present.append(value)
    else:
        fields[name] = [present, value]


def with_classic_fields(record):
    """The record with the fields of its classic `_raw` added where Splunk extracted none."""
    parsed = classic_fields(record.get("_raw"))
    if not parsed:
        return record
    merged = dict(record)
    for name, value in parsed.items():
        if not merged.get(name):
            merged[name] = value
    return merged
