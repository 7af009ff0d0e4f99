"""Readers for the files t1114-scan (t1114_scan/cli.py) scans: each turns one exported log file into the
records Splunk would hand `| t1114` for the same events, one at a time (memory stays flat).

Every reader yields (location, record): location is the line (or, for .evtx, the record
number) the event came from; record is a dict of strings and lists of strings, the shape of
a row of a search command's chunk. Problems with part of a file are counted in a FileReport;
a file that cannot be read at all raises Unreadable with one sentence saying why.
"""

import calendar
import codecs
import csv
import gzip
import html
import io
import itertools
import json
import re
import sys
import time
import os
import xml.etree.ElementTree as ElementTree

# A Splunk CSV export is read with the protocol's own CSV layout (its __mv_ columns), which
# lives beside the command in bin/t1114_protocol, imported as the command imports it (the
# package's __init__ puts the checkout's or the installed copy's bin/ and app/ on sys.path).
from . import INSTALLED
from t1114_protocol.chunk_csv import ChunkLayout  # noqa: E402
from app.values import MAX_JSON_CHARS  # noqa: E402

csv.field_size_limit(2 ** 31 - 1)  # a whole _raw or AuditData can pass csv's 128 KiB default

O365_SOURCETYPE = "o365:management:activity"
ENTRA_SOURCETYPE = "azure:monitor:aad"
EVTX_MAGIC = b"ElfFile\x00"
GZIP_MAGIC = b"\x1f\x8b"

# Formats --format-in can name; "auto" reads the file's content to choose.
FORMATS = {
    "auto": "detect from the content (the default)",
    "splunk-json": "Splunk search export, JSON: one {\"preview\":false,\"result\":{...}} per line",
    "splunk-csv": "Splunk search export, CSV: one column per field (_raw among them, or not)",
    "events-json": "JSON lines or a JSON array of flat Splunk events (field: value)",
    "o365-json": "JSON lines or a JSON array of Office 365 Management Activity records",
    "purview-csv": "Microsoft Purview / Unified Audit Log search export: CSV with an AuditData column",
    "office-activity": "Microsoft Sentinel / Log Analytics OfficeActivity table export, CSV or JSON (its column "
                       "names; Parameters, OperationProperties and the like as JSON text)",
    "message-tracking": "Exchange Server message-tracking log: MSGTRK*.LOG as Exchange writes it (#Software and "
                        "#Fields: header lines) or the same columns as plain CSV",
    "entra-json": "Entra ID sign-in or audit log export: JSON array or lines (Graph, Azure Monitor "
                  "or Log Analytics shape)",
    "evtx": "Windows event log file (needs the evtx package, or python-evtx before Python 3.10; pip install . "
            "installs it, pip install -r requirements-scan.txt in a checkout)",
}

# How to get an .evtx reader, where this scan runs.
EVTX_INSTALL = ("pip install evtx (python-evtx before Python 3.10) into the tool's environment" if INSTALLED
                else "pip install -r requirements-scan.txt")

# What the sentence for a file with no readable record lists.
READ_FORMATS = ("Splunk search exports (JSON, CSV), Office 365 Management Activity records (JSON), Purview audit "
                "exports (CSV), Sentinel OfficeActivity exports (CSV, JSON), Entra ID sign-in and audit exports "
                "(JSON), Exchange message-tracking logs, Windows .evtx logs")

_JSON_WRAPPERS = ("value", "records", "results")  # Graph pages, Azure storage exports, Splunk REST
_READ_SIZE = 1 << 20
_MAX_RECORD_CHARS = 64 * 1024 * 1024


class Unreadable(Exception):
    """The file cannot be read; str() is the sentence to show."""


class FileReport:
    """Parts of one file that could not be read, kept as counts and the first location."""

    def __init__(self, name):
        self.name = name
        self.unit = "line"  # what a location counts: lines, or records of an .evtx log
        self.skipped = {}   # problem -> [count, first location]
        self.notes = []     # sentences about the file as a whole
        self.format = ""
        self.read = 0       # records a source reader took
        self.unknown = 0    # records of a shape no reader knows (still given to the engine, which finds nothing)
        self.first_unknown = None  # (location, its top-level keys or columns)

    def count(self, location, known, keys=()):
        if known:
            self.read += 1
            return
        self.unknown += 1
        if self.first_unknown is None:
            self.first_unknown = (location, list(keys))

    def shape_sentences(self):
        """What the counts say: nothing when every record was of a known shape."""
        if not self.unknown:
            return []
        location, keys = self.first_unknown
        seen = _listed(keys)
        if not self.read:
            return ["%s: none of its %d record%s is of a shape scan reads, so nothing in it was checked (it holds "
                    "records with %s; the first at %s %s). Scan reads: %s; name one with --format-in if the file is "
                    "one of them." % (self.name, self.unknown, "" if self.unknown == 1 else "s", seen, self.unit,
                                      location, READ_FORMATS)]
        return ["%s: %d of its %d records are of a shape no reader knows and were not checked (the first at %s %s, "
                "with %s)." % (self.name, self.unknown, self.unknown + self.read, self.unit, location, seen)]

    def skip(self, location, problem, outcome="skipped"):
        entry = self.skipped.get((problem, outcome))
        if entry is None:
            self.skipped[(problem, outcome)] = [1, location]
        else:
            entry[0] += 1

    def note(self, sentence):
        self.notes.append(sentence)

    def sentences(self):
        out = list(self.notes)
        for (problem, outcome), (count, first) in self.skipped.items():
            if count == 1:
                out.append("%s %s %s: %s; %s." % (self.name, self.unit, first, problem, outcome))
            else:
                out.append("%s: %d records %s, %s (the first at %s %s)."
                           % (self.name, count, outcome, problem, self.unit, first))
        return out


def _listed(keys):
    keys = [str(key) for key in keys]
    if not keys:
        return "no fields"
    shown = ", ".join(keys[:8]) + (", ..." if len(keys) > 8 else "")
    return "the top-level key%s %s" % ("" if len(keys) == 1 else "s", shown)


class Progress:
    """Bytes of the file read so far, for the progress bar."""

    def __init__(self, total):
        self.total = total
        self.done = 0


# ---------------------------------------------------------------- opening and detection

def _text_stream(binary, head):
    """A text stream over the file, the encoding chosen from a byte-order mark."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    return io.TextIOWrapper(binary, encoding=encoding, errors="replace", newline="")


def detect(head_bytes, name=""):
    """The format of a file from its first bytes (and, for .evtx, its magic number)."""
    if head_bytes.startswith(EVTX_MAGIC):
        return "evtx"
    if head_bytes.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = head_bytes.decode("utf-16", "replace")
    else:
        if b"\x00" in head_bytes[:4096]:
            raise Unreadable("%s is a binary file, neither text (JSON, CSV) nor a Windows .evtx log." % name)
        text = head_bytes.decode("utf-8", "replace").lstrip("\ufeff")
    stripped = text.lstrip()
    if not stripped:
        raise Unreadable("%s is empty." % name)
    if stripped.startswith("#") and "#Fields:" in stripped:
        return "message-tracking"  # Exchange's own W3C-style header: #Software, #Version, #Log-type, #Date, #Fields
    if stripped[0] in "[{":
        return "json"
    if stripped.startswith("<"):
        raise Unreadable("%s is XML (Windows events exported as XML?); scan reads Windows logs as .evtx files, or "
                         "as Splunk exports of XmlWinEventLog events." % name)
    first_line = stripped.splitlines()[0]
    try:
        header = next(csv.reader([first_line]))
    except csv.Error:
        header = []
    names = [cell.strip().lower() for cell in header]
    if "auditdata" in names:
        return "purview-csv"
    splunk_export = "_raw" in names or "sourcetype" in names
    if not splunk_export and "operation" in names and ("officeworkload" in names or "logon_type" in names):
        return "office-activity-csv"
    if not splunk_export and names[:1] == ["date-time"] and "event-id" in names:
        return "message-tracking"  # the log's columns as plain CSV
    if (len(names) >= 2 and all(names)) or names == ["_raw"]:
        return "splunk-csv"
    raise Unreadable("%s is not a format scan reads: it is not JSON, CSV with a header row, or a Windows .evtx log "
                     "(name the format with --format-in if it is one of them)." % name)


def read_file(path, format_in, report, progress, display=None):
    """(location, record) for every event in the file, gzip-compressed or not. Raises Unreadable
    with a sentence for content it cannot read; a read failing underneath (a disk error, a
    .gz cut short) comes out as OSError or EOFError."""
    display = display or path
    try:
        binary = open(path, "rb") if path != "-" else _stdin_binary()
    except FileNotFoundError:
        raise Unreadable("%s does not exist." % display)
    except IsADirectoryError:
        raise Unreadable("%s is a folder; name the files in it." % display)
    except OSError as error:
        raise Unreadable("%s cannot be opened (%s)." % (display, error.strerror or error))
    with binary:
        # Bytes are counted as they come off the disk, for the progress bar (compressed or not).
        buffered = io.BufferedReader(_CountingReader(binary, progress), 1 << 16)
        try:
            head = buffered.peek(65536)[:65536]
            if head.startswith(GZIP_MAGIC) and format_in != "evtx":
                buffered = io.BufferedReader(gzip.GzipFile(fileobj=buffered, mode="rb"), 1 << 16)
                head = buffered.peek(65536)[:65536]
        except EOFError:
            raise Unreadable("%s: the compressed file ends early (a truncated file ends like this); nothing in it "
                             "could be read." % display)
        except OSError as error:  # gzip.BadGzipFile too
            raise Unreadable("%s cannot be read (%s)." % (display, error.strerror or error))
        kind = format_in if format_in != "auto" else detect(head, display)
        report.format = kind
        if kind == "evtx":
            if path == "-":
                raise Unreadable("a Windows .evtx log cannot be read from standard input; name the file.")
            if not head.startswith(EVTX_MAGIC):
                raise Unreadable("%s is not a Windows .evtx log (it does not start with the ElfFile signature)."
                                 % display)
            yield from _evtx_records(path, display, report, progress)
            return
        text = _text_stream(buffered, head)
        if kind == "office-activity":
            kind = "office-activity-csv" if not _looks_like_json(head) else kind
        if kind == "message-tracking":
            yield from _message_tracking_records(text, display, report)
        elif kind in ("splunk-csv", "purview-csv", "office-activity-csv"):
            yield from _csv_records(text, kind, display, report)
        else:
            yield from _json_records(text, kind, display, report)


def _looks_like_json(head):
    text = head.decode("utf-16" if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8", "replace")
    return text.lstrip("\ufeff \t\r\n")[:1] in ("[", "{")


def _stdin_binary():
    return io.BufferedReader(io.FileIO(sys.stdin.fileno(), "rb", closefd=False))


class _CountingReader(io.RawIOBase):
    """Passes reads through, counting bytes for the progress bar."""

    def __init__(self, inner, progress):
        super().__init__()
        self._inner = inner
        self._progress = progress

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self._inner.read(len(buffer))
        buffer[:len(data)] = data
        self._progress.done += len(data)
        return len(data)

    def close(self):
        pass  # the caller closes the file



# ---------------------------------------------------------------- JSON

def _json_records(text, kind, display, report):
    """JSON lines, a JSON array, or concatenated JSON documents, each value one record."""
    first = _peek_line(text)
    lines_mode = False
    if first is not None and first.lstrip().startswith("{"):
        try:
            lines_mode = isinstance(json.loads(first), dict)
        except ValueError:
            lines_mode = False
    quick = kind in ("json", "o365-json") and lines_mode
    values = _json_lines(text, display, report, quick) if lines_mode else _json_documents(text, display, report)
    shape = _SHAPERS[kind]
    known = _KNOWN[kind]
    count = report.count
    for line, value, source in values:
        if value is None:
            report.read += 1
            yield line, _o365_line_record(source)
            continue
        items = _unwrap(value)
        if not (len(items) == 1 and items[0] is value):
            source = None  # the text is the wrapper's or the list's, not one record's
        for item in items:
            if not isinstance(item, dict):
                report.skip(line, "a JSON value that is not an object (a record must be {...})")
                continue
            record = shape(item, source)
            if record is None:
                continue  # Splunk export bookkeeping ({"lastrow": true}, messages)
            if known(item, record):
                report.read += 1
            else:
                count(line, False, item)
            yield line, record


def _peek_line(text):
    """The first non-blank line, without consuming it (the text stream is rewound by re-reading)."""
    # TextIOWrapper over a non-seekable stream cannot rewind: keep the line for the readers.
    line = text.readline()
    skipped = []
    while line and not line.strip():
        skipped.append(line)
        line = text.readline()
    text._t1114_pending = "".join(skipped) + line
    return line if line else None


def _read_text(text, size):
    pending = getattr(text, "_t1114_pending", "")
    if pending:
        text._t1114_pending = ""
        return pending
    return text.read(size)


def _text_lines(text):
    """The stream's lines, starting with any _peek_line() held back (a C-level chain: this is
    the per-line hot path)."""
    pending = getattr(text, "_t1114_pending", "")
    text._t1114_pending = ""
    return itertools.chain(pending.splitlines(True), text)


def _json_lines(text, display, report, quick=False):
    """(line number, parsed value, the line's text) per line; the value is None for an Office 365
    audit line taken as it is (see _is_o365_line) when `quick`."""
    number = 0
    for line in _text_lines(text):
        number += 1
        stripped = line.strip()
        if not stripped:
            continue
        if quick and _is_o365_line(stripped):
            yield number, None, stripped
            continue
        try:
            value = json.loads(stripped)
        except RecursionError:
            report.skip(number, "JSON nested too deep to read")
            continue
        except ValueError as error:
            report.skip(number, "not complete JSON (%s; a truncated file ends like this)" % _short(error))
            continue
        yield number, value, stripped


_CREATION_TIME = re.compile(r'"CreationTime"\s*:\s*"([^"]*)"')


def _is_o365_line(line):
    """A line that is, by its text, an Office 365 audit record: it goes to the engine as its
    _raw without being parsed here first, as Splunk passes it (the engine parses the records a
    rule wants; most audit traffic is not). A line that does not end in } (a truncated file's
    last line) or that could be another kind of record is parsed and checked instead."""
    if not (line[-1] == "}" and '"Operation"' in line and ('"RecordType"' in line or '"Workload"' in line)
            and '"CreationTime"' in line and '"result"' not in line and '"_raw"' not in line
            and '"sourcetype"' not in line and '"_time"' not in line and '"operationName"' not in line):
        return False
    # "Operation" a key of the line's own object, not of one wrapped inside it (a test fixture's
    # {"input": {...}}): the braces before it close all but one. A brace in an earlier value only
    # sends the line to be parsed, which decides the same way, slower.
    head = line[:line.find('"Operation"')]
    return head.count("{") - head.count("}") == 1


def _o365_line_record(line):
    if len(line) > MAX_JSON_CHARS:
        try:
            audit = json.loads(line)
        except (ValueError, RecursionError):
            audit = None
        if isinstance(audit, dict):
            return o365_record(audit, line)
    match = _CREATION_TIME.search(line)
    return {"_time": iso_epoch(match.group(1)) if match else "", "sourcetype": O365_SOURCETYPE, "source": "scan",
            "_raw": line}


def _json_documents(text, display, report):
    """Top-level JSON values in a stream: a `[...]` array is entered, so its elements come one
    at a time and never the whole array at once."""
    decoder = json.JSONDecoder()
    buffer = ""
    position = 0
    line = 1
    eof = False
    in_array = False
    want = _READ_SIZE
    while True:
        # Separators between values: whitespace, and inside the top-level array its commas.
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n" + ("," if in_array else ""):
                if buffer[position] == "\n":
                    line += 1
                position += 1
            if position < len(buffer) or eof:
                break
            chunk = _read_text(text, _READ_SIZE)
            buffer, position = buffer[position:] + chunk, 0
            eof = not chunk
        if position >= len(buffer):
            if in_array:
                report.note("%s: the JSON array is not closed with ] (a truncated file ends like this); every "
                            "record before the end was scanned." % display)
            return
        char = buffer[position]
        if char == "[" and not in_array:
            in_array = True
            position += 1
            continue
        if char == "]" and in_array:
            in_array = False
            position += 1
            continue
        try:
            value, end = decoder.raw_decode(buffer, position)
        except RecursionError:
            raise Unreadable("%s line %d: JSON nested too deep to read; the rest of the file was not read."
                             % (display, line))
        except ValueError as error:
            if not eof and len(buffer) - position < _MAX_RECORD_CHARS:
                chunk = _read_text(text, want)
                want = min(want * 2, _MAX_RECORD_CHARS)
                buffer, position = buffer[position:] + chunk, 0
                eof = not chunk
                continue
            if eof and not buffer[position:].strip(" \t\r\n,]"):
                return
            raise Unreadable("%s line %d: not complete JSON (%s); the records before it were scanned, the rest "
                             "of the file could not be read (a truncated file ends like this)."
                             % (display, line, _short(error)))
        want = _READ_SIZE
        yield line, value, None
        line += buffer.count("\n", position, end)
        position = end
        if position > _READ_SIZE:
            buffer, position = buffer[position:], 0


def _short(error):
    """An error's message without the position (the sentence gives the line)."""
    text = getattr(error, "msg", None) or str(error).split(": line ")[0]
    return re.sub(r"\s+(starting )?at$", "", text)


def _unwrap(value):
    """A Graph page ({"value": [...]}), an Azure storage export ({"records": [...]}) or a Splunk
    REST results document ({"results": [...]}) holds its records in a list."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and ("value" in value or "records" in value or "results" in value):
        for key in _JSON_WRAPPERS:
            inner = value.get(key)
            if isinstance(inner, list) and not _is_record(value):
                return inner
    return [value]


def _is_record(value):
    return any(key in value for key in ("Operation", "operationName", "_raw", "sourcetype", "createdDateTime",
                                        "activityDisplayName"))


# ---------------------------------------------------------------- shaping records

def splunk_value(value):
    """A JSON value as Splunk would hand it to a command: text, or a list of texts."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        items = [splunk_value(item) for item in value if item is not None]
        return items[0] if len(items) == 1 else items
    return json.dumps(value, ensure_ascii=False)


def flat_event(item, source=None):
    """A JSON object of Splunk fields as the command receives them; changed in place (it is
    the reader's own fresh object), since most values are text or lists of text already."""
    for key, value in item.items():
        kind = value.__class__
        if kind is str:
            continue
        if kind is list and len(value) > 1 and all(entry.__class__ is str for entry in value):
            continue
        item[key] = splunk_value(value)
    return item


_ISO_TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?")
_DAY_EPOCH = {}  # "2026-11-20" -> epoch of its midnight UTC: audit logs hold few distinct days


def iso_epoch(text):
    """Epoch seconds (text) of an ISO-8601 time such as 2026-11-20T09:12:44, ...Z or ...+01:00
    (UTC when no zone is given, as Office 365 writes it), or ''."""
    if not isinstance(text, str):
        return ""
    if len(text) == 19 and text[10] == "T" and text[13] == ":" and text[16] == ":":
        # The usual Office 365 CreationTime, 2026-11-20T09:12:44: no regex needed.
        midnight = _DAY_EPOCH.get(text[:10])
        if midnight is not None:
            try:
                return "%d" % (midnight + int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19]))
            except ValueError:
                return ""
    text = text.strip()
    match = _ISO_TIME.match(text)
    if not match:
        return ""
    day = text[:10]
    midnight = _DAY_EPOCH.get(day)
    if midnight is None:
        year, month, date = (int(part) for part in match.groups()[:3])
        try:
            midnight = calendar.timegm((year, month, date, 0, 0, 0, 0, 0, 0))
        except (ValueError, OverflowError):
            return ""
        if len(_DAY_EPOCH) < 100000:
            _DAY_EPOCH[day] = midnight
    hour, minute, second = int(match.group(4)), int(match.group(5)), int(match.group(6))
    seconds = midnight + hour * 3600 + minute * 60 + second
    zone = match.group(8)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    fraction = match.group(7)
    return "%.3f" % (seconds + float(fraction)) if fraction else "%d" % seconds


def o365_record(audit, raw_text=None):
    """An Office 365 audit record as the Splunk add-on indexes it (Fast mode: _raw only); raw_text
    is the record's own JSON text when the file has it (kept as _raw, as Splunk keeps it)."""
    when = audit.get("CreationTime") or audit.get("TimeGenerated") or audit.get("CreationDate")
    raw = raw_text if raw_text is not None else json.dumps(audit, ensure_ascii=False)
    record = {"_time": iso_epoch(when), "sourcetype": O365_SOURCETYPE, "source": "scan", "_raw": raw}
    if len(raw) > MAX_JSON_CHARS:
        # The engine parses no _raw past 8 MB (a search must not stall on one event) and reads the
        # fields Splunk's JSON extraction gave instead: they are given here as Splunk would.
        record.update(json_extracted_fields(audit))
    return record


def json_extracted_fields(audit):
    """An audit record's fields as KV_MODE=json extraction gives them: scalars as text, the
    Parameters and OperationProperties lists as their {}.Name and {}.Value fields (and each
    parameter by its name), other nested values as JSON text."""
    fields = {}
    for key, value in audit.items():
        if key in ("Parameters", "OperationProperties") and isinstance(value, list):
            pairs = [item for item in value if isinstance(item, dict)]
            names = [str(item.get("Name")) for item in pairs if item.get("Name")]
            values = [splunk_value(item.get("Value")) for item in pairs if item.get("Value") not in (None, "")]
            if names:
                fields[key + "{}.Name"] = names if len(names) > 1 else names[0]
            if values:
                fields[key + "{}.Value"] = values if len(values) > 1 else values[0]
            if key == "Parameters":
                for item in pairs:
                    if item.get("Name") and item.get("Value") not in (None, ""):
                        fields.setdefault(str(item["Name"]), splunk_value(item["Value"]))
        elif isinstance(value, (dict, list)):
            fields[key] = json.dumps(value, ensure_ascii=False)
        elif value not in (None, ""):
            fields[key] = splunk_value(value)
    if "UserId" in fields:
        fields.setdefault("user", fields["UserId"])
    return fields


def entra_record(item, source=None):
    """An Entra sign-in or audit record as azure:monitor:aad holds it. Graph-shaped exports (the
    portal's Download JSON, Get-MgAuditLogSignIn) are put in the Azure Monitor envelope."""
    if "operationName" in item or "OperationName" in item:
        when = item.get("time") or item.get("TimeGenerated") or item.get("timeGenerated")
        document = item
        if source is not None:
            return {"_time": iso_epoch(when), "sourcetype": ENTRA_SOURCETYPE, "source": "scan", "_raw": source}
    elif "activityDisplayName" in item:
        when = item.get("activityDateTime")
        document = {"time": when, "operationName": item.get("activityDisplayName"), "category": "AuditLogs",
                    "properties": item}
        initiated = item.get("initiatedBy")
        if isinstance(initiated, dict) and isinstance(initiated.get("user"), dict):
            document["callerIpAddress"] = initiated["user"].get("ipAddress") or ""
    else:
        when = item.get("createdDateTime")
        document = {"time": when, "operationName": "Sign-in activity", "category": "SignInLogs", "properties": item}
    return {"_time": iso_epoch(when), "sourcetype": ENTRA_SOURCETYPE, "source": "scan",
            "_raw": json.dumps(document, ensure_ascii=False)}


def _is_o365_audit(item):
    return "Operation" in item and any(key in item for key in ("RecordType", "Workload", "CreationTime"))


def _is_entra(item):
    if ("operationName" in item and "category" in item) or ("OperationName" in item and "Category" in item):
        return True
    return ("activityDisplayName" in item and "activityDateTime" in item) or (
        "createdDateTime" in item and ("clientAppUsed" in item or "userPrincipalName" in item))


def auto_record(item, source=None):
    """One JSON object, whichever kind it is (Splunk result, flat event, O365 audit, Entra)."""
    result = item.get("result")
    if isinstance(result, dict) and ("preview" in item or "offset" in item or "lastrow" in item):
        return flat_event(result)
    if "result" not in item and ("preview" in item or "lastrow" in item or "messages" in item) and len(item) <= 4:
        return None  # a Splunk export's bookkeeping line
    if "_raw" in item or "sourcetype" in item or "_time" in item:
        return flat_event(item)
    if is_office_activity(item):
        return office_activity_record(item)
    if _is_o365_audit(item):
        return o365_record(item, source)
    if _is_entra(item):
        return entra_record(item, source)
    record = flat_event(item)
    for name in _TIME_COLUMNS:
        # A table export's row (Defender's Timestamp, Log Analytics' TimeGenerated): Splunk would
        # have taken the event's time from it.
        value = record.get(name)
        if value.__class__ is str and value:
            record["_time"] = iso_epoch(value)
            break
    return record


_TIME_COLUMNS = ("Timestamp", "TimeGenerated", "timestamp", "time", "CreationTime", "createdDateTime")


def splunk_json_record(item, source=None):
    result = item.get("result")
    if isinstance(result, dict):
        return flat_event(result)
    if "preview" in item or "lastrow" in item or "messages" in item:
        return None
    return flat_event(item)


# Columns that make a flat row a product's own record (a Defender XDR or Log Analytics table row,
# a Windows event's fields, a message-tracking row) even when no rule's reader wants this one.
_ROW_MARKERS = ("ActionType", "TimeGenerated", "Timestamp", "EventCode", "EventID", "event-id", "event_id",
                "Operation", "operationName")


def _splunk_shaped(record):
    """A Splunk event (it has _raw or a sourcetype), a product's table row, or flat fields a
    source reader recognises."""
    if record.get("_raw") or record.get("sourcetype") or any(name in record for name in _ROW_MARKERS):
        return True
    from app.normalise import REGISTRY, RecordView

    view = RecordView(record)
    return any(normaliser.recognises(view) for normaliser in REGISTRY)


_KNOWN = {
    "json": lambda item, record: _splunk_shaped(record),
    "splunk-json": lambda item, record: _splunk_shaped(record),
    "events-json": lambda item, record: _splunk_shaped(record),
    "o365-json": lambda item, record: _is_o365_audit(item),
    "office-activity": lambda item, record: is_office_activity(item),
    "entra-json": lambda item, record: _is_entra(item),
}

_SHAPERS = {
    "json": auto_record,
    "splunk-json": splunk_json_record,
    "events-json": flat_event,
    "o365-json": o365_record,
    "office-activity": lambda item, source=None: office_activity_record(item),  # defined below, with its CSV
    "entra-json": entra_record,
}

# ---------------------------------------------------------------- Sentinel / Log Analytics OfficeActivity

# The OfficeActivity table renames a few Management Activity API properties (Microsoft's table
# reference), writes its nested properties as JSON text and RecordType and UserType as names.
_OFFICE_ACTIVITY_NAMES = {"OfficeWorkload": "Workload", "Logon_Type": "LogonType", "Client_IPAddress": "ClientIPAddress",
                          "OfficeObjectId": "ObjectId", "OfficeId": "Id", "TimeGenerated": "CreationTime"}
_OFFICE_ACTIVITY_DROPPED = {"Type", "SourceSystem", "TenantId", "_ResourceId", "OrganizationId_", "UserId_", "ClientIP_",
                            "Site_", "Site_Url_", "SourceRelativeUrl_", "SourceFileName_", "MG", "ManagementGroupName",
                            "Computer", "RawEventData"}
_RECORD_TYPES = {"ExchangeAdmin": 1, "ExchangeItem": 2, "ExchangeItemGroup": 3, "SharePoint": 4,
                 "SharePointFileOperation": 6, "AzureActiveDirectory": 8, "AzureActiveDirectoryAccountLogon": 9,
                 "ExchangeItemAggregated": 50, "AzureActiveDirectoryStsLogon": 15}
_USER_TYPES = {"Regular": 0, "Reserved": 1, "Admin": 2, "DcAdmin": 3, "System": 4, "Application": 5,
               "ServicePrincipal": 6, "CustomPolicy": 7, "SystemPolicy": 8}


def is_office_activity(item):
    """A row of the OfficeActivity table, as a Log Analytics or Sentinel export writes it."""
    return "Operation" in item and (item.get("Type") == "OfficeActivity" or "OfficeWorkload" in item
                                    or "Logon_Type" in item or item.get("SourceSystem") == "OfficeActivityManager")


def office_activity_audit(row):
    """An OfficeActivity row as the Management Activity API record it was made from: the API's
    property names, JSON text back to the arrays and objects it held, empty columns left out."""
    audit = {}
    for key, value in row.items():
        if value is None or value == "" or key in _OFFICE_ACTIVITY_DROPPED:
            continue
        key = _OFFICE_ACTIVITY_NAMES.get(key, key)
        if isinstance(value, str):
            text = value.strip()
            if text[:1] in "[{" and text[-1:] in "]}":
                try:
                    value = json.loads(text)
                except (ValueError, RecursionError):
                    pass
            elif key == "RecordType":
                value = _RECORD_TYPES.get(text, int(text) if text.isdigit() else text)
            elif key == "UserType":
                value = _USER_TYPES.get(text, int(text) if text.isdigit() else text)
        audit[key] = value
    if isinstance(audit.get("CreationTime"), str):
        # Log Analytics writes 2026-11-20T09:12:44.123Z or "2026-11-20 09:12:44.123 [UTC]" in a portal CSV.
        audit["CreationTime"] = audit["CreationTime"].replace(" [UTC]", "").strip()
    return audit


def office_activity_record(item, source=None):
    return o365_record(office_activity_audit(item))



# ---------------------------------------------------------------- CSV

def _csv_records(text, kind, display, report):
    reader = csv.reader(_text_lines(text), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise Unreadable("%s is empty." % display)
    except csv.Error as error:
        raise Unreadable("%s line 1: the CSV header cannot be read (%s)." % (display, error))
    header = [name.strip() for name in header]
    lower = [name.lower() for name in header]
    if kind == "purview-csv" and "auditdata" not in lower:
        raise Unreadable("%s has no AuditData column, so it is not a Purview audit log export (its columns: %s)."
                         % (display, ", ".join(header[:8])))
    width = len(header)
    audit_index = lower.index("auditdata") if kind == "purview-csv" else None
    office_activity = kind == "office-activity-csv"
    # A Splunk CSV's rows become records exactly as the command builds them from its chunks.
    layout = ChunkLayout(header) if audit_index is None and not office_activity else None
    multivalue = {name[5:] for name in header if name.startswith("__mv_")}
    split_lines = [name for name in header if "{}" in name and name not in multivalue]
    known_columns = "_raw" in header or "sourcetype" in header
    rows = 0
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            if not rows:
                report.note("%s was read as CSV (columns: %s) but has no rows." % (display, ", ".join(header[:6])))
            return
        except csv.Error as error:
            if "unexpected end of data" in str(error):
                report.note("%s line %d: the last row ends inside a quoted cell (a truncated file ends like this); "
                            "it was not scanned, every row before it was." % (display, line))
                return
            report.skip(line, "the row is not well-formed CSV (%s)" % error)
            continue
        if not row or row == [""]:
            continue
        rows += 1
        if len(row) != width:
            report.skip(line, "the row has %d cells where the header has %d%s" % (
                len(row), width, " (a truncated file ends like this)" if len(row) < width else ""),
                "read as the command reads it (cut or padded to the header)")
            row = (row + [""] * width)[:width]
        if audit_index is not None:
            raw = row[audit_index]
            try:
                audit = json.loads(raw)
            except (ValueError, RecursionError) as error:
                report.skip(line, "its AuditData is not complete JSON (%s)" % _short(error))
                continue
            if not isinstance(audit, dict):
                report.skip(line, "its AuditData is not a JSON object")
                continue
            record = o365_record(audit, raw)
            report.count(line, "Operation" in audit, audit)
            if not record["_time"]:
                for index, name in enumerate(lower):
                    if name in ("creationdate", "creationtime"):
                        record["_time"] = iso_epoch(row[index]) or _us_date_epoch(row[index])
                        break
            yield line, record
            continue
        if office_activity:
            item = dict(zip(header, row))
            report.count(line, bool(item.get("Operation")), header)
            yield line, office_activity_record(item)
            continue
        record = layout.record(row)
        # Splunk's CSV export (no __mv_ columns) joins a multivalue field's values with newlines.
        for name in split_lines:
            value = record.get(name)
            if value.__class__ is str and "\n" in value:
                record[name] = value.split("\n")
        if known_columns or _splunk_shaped(record):
            report.read += 1
        else:
            report.count(line, False, header)
        yield line, record


def _us_date_epoch(text):
    """Purview's CreationDate as Excel re-saves it: 11/20/2026 9:12:44 AM (UTC)."""
    for pattern in ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M"):
        try:
            return str(calendar.timegm(time.strptime(text.strip(), pattern)))
        except ValueError:
            continue
    return ""


# ---------------------------------------------------------------- Exchange message tracking

MESSAGE_TRACKING_SOURCETYPE = "MSExchange:2019:MessageTracking"


def _message_tracking_records(text, display, report):
    """An Exchange message-tracking log (MSGTRK*.LOG): header lines starting with # (the columns
    in "#Fields: date-time,client-ip,..."), then one CSV row per event; or the same columns as a
    plain CSV with a header row. Each row becomes the event the Exchange add-on indexes: the row
    as _raw, its columns as fields (`source` as source_id: Splunk's own `source` wins the name),
    _time from date-time."""
    consumed = []

    def lines():
        for line in _text_lines(text):
            consumed.append(line)
            yield line

    reader = csv.reader(lines(), strict=False)
    header = None
    line_number = 0
    for row in reader:
        raw = "".join(consumed).rstrip("\r\n")
        first = line_number + 1
        line_number += len(consumed)
        consumed.clear()
        if not row or row == [""]:
            continue
        if row[0].startswith("#"):
            if raw.startswith("#Fields:"):
                header = next(csv.reader([raw[len("#Fields:"):].strip()]))
            continue
        if header is None:
            header = [cell.strip() for cell in row]  # the plain-CSV form: its first row names the columns
            continue
        record = {"_time": iso_epoch(row[0]) if row else "", "sourcetype": MESSAGE_TRACKING_SOURCETYPE,
                  "source": "scan", "_raw": raw}
        for name, value in zip(header, row):
            if value:
                record["source_id" if name == "source" else name] = value
        if len(row) != len(header):
            report.skip(first, "the row has %d cells where the #Fields header has %d" % (len(row), len(header)),
                        "read as far as its cells go")
        report.read += 1  # a row under the log's own header is of its shape, whatever its cells hold
        yield first, record
    if header is None:
        report.note("%s was read as an Exchange message-tracking log but has no #Fields header or header row."
                    % display)


# ---------------------------------------------------------------- .evtx

_TAG_BREAK = re.compile(r">\n(?=<)")
_EVTX_HEADER = 0x1000
_EVTX_CHUNK = 0x10000
_EVENT_NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"


def evtx_reader():
    """The .evtx parser this Python has: "evtx" (Rust, from PyPI, wheels for 3.10 and later),
    else "python-evtx" (pure Python, about a thousand times slower), else "". T1114_EVTX_READER
    names one of them to compare the two."""
    wanted = os.environ.get("T1114_EVTX_READER", "")
    for name, module in (("evtx", "evtx"), ("python-evtx", "Evtx.Evtx")):
        if wanted and wanted != name:
            continue
        try:
            __import__(module)
        except ImportError:
            continue
        return name
    return ""


def _evtx_records(path, display, report, progress):
    reader = evtx_reader()
    if not reader:
        raise Unreadable("%s is a Windows .evtx log; reading it needs the optional evtx package (or python-evtx "
                         "before Python 3.10): %s" % (display, EVTX_INSTALL))
    report.unit = "record"
    size = progress.total
    if size > _EVTX_HEADER and (size - _EVTX_HEADER) % _EVTX_CHUNK:
        report.note("%s ends in the middle of a 64 KiB chunk, whose records were not read (a truncated "
                    "file ends like this)." % display)
    if reader == "evtx":
        yield from _rust_evtx_records(path, display, report, progress)
    else:
        yield from _python_evtx_records(path, display, report, progress)


# A parser that fails this often in a row is not going to find a record again in this file.
_EVTX_FAILURES_IN_A_ROW = 10000
# Unindented XML: one line, as Splunk's _raw is, with nothing to remove.
EVTX_PARSER_OPTIONS = {"indent": False}


def _rust_evtx_records(path, display, report, progress):
    import evtx

    try:
        parser = evtx.PyEvtxParser(path, **EVTX_PARSER_OPTIONS)
        records = iter(parser.records())
    except Exception as error:  # the parser raises RuntimeError and OSError subclasses for a bad file
        raise Unreadable("%s looks like a Windows .evtx log but cannot be opened (%s)." % (display, _short(error)))
    number = 0
    failed_in_a_row = 0
    shape = rust_xml_record
    while True:
        try:
            entry = next(records)
        except StopIteration:
            break
        except Exception as error:  # one damaged record or chunk: the parser goes on with the next
            number += 1
            failed_in_a_row += 1
            report.skip(number, "an .evtx record could not be decoded (%s)" % _short(error))
            if failed_in_a_row >= _EVTX_FAILURES_IN_A_ROW:
                raise Unreadable("%s: %d .evtx records in a row could not be decoded after record %d; the rest of "
                                 "the file was not read." % (display, failed_in_a_row, number - failed_in_a_row))
            continue
        failed_in_a_row = 0
        number += 1
        shaped = shape(entry["data"])
        if shaped is None:
            report.skip(number, "an .evtx record's XML could not be read")
            continue
        report.read += 1
        yield number, shaped
    progress.done = progress.total


def _python_evtx_records(path, display, report, progress):
    from Evtx.Evtx import Evtx

    log = Evtx(path)
    try:
        log.__enter__()
    except Exception as error:  # python-evtx raises plain exceptions for a bad or empty file
        raise Unreadable("%s looks like a Windows .evtx log but cannot be opened (%s)." % (display, _short(error)))
    number = 0
    try:
        size = progress.total
        for chunk in log.chunks():
            progress.done = min(size, chunk.offset() + _EVTX_CHUNK)
            try:
                for record in chunk.records():
                    number += 1
                    try:
                        xml = record.xml()
                    except Exception as error:  # one damaged record: the others still count
                        report.skip(number, "an .evtx record could not be decoded (%s)" % _short(error))
                        continue
                    shaped = windows_xml_record(xml)
                    if shaped is None:
                        report.skip(number, "an .evtx record's XML could not be read")
                        continue
                    report.read += 1
                    yield number, shaped
            except Exception as error:  # a damaged chunk: the next chunk may be whole
                report.skip(number, "an .evtx chunk is damaged (%s), the rest of it not read" % _short(error))
    except Exception as error:
        raise Unreadable("%s: the .evtx log could not be read past record %d (%s)." % (display, number, _short(error)))
    finally:
        try:
            log.__exit__(None, None, None)
        except Exception:
            pass


# The Rust parser's XML is indented, one element a line, an empty element as <X>, newline, </X>;
# values never hold "<" (written &lt;), so each pattern reads up to the next "<".
_BETWEEN_TAGS = re.compile(r">\s+<")
_NOT_XML_CHAR = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# The System block as the Rust parser writes it, elements in their schema order; an event
# whose System differs is parsed instead.
_SYSTEM = re.compile(
    r'<System><Provider(?: Name="([^"]*)")?[^>]*></Provider><EventID[^>]*>([^<]*)</EventID>'
    r'(?:<Version>[^<]*</Version>)?(?:<Level>([^<]*)</Level>)?(?:<Task>([^<]*)</Task>)?(?:<Opcode>[^<]*</Opcode>)?'
    r'(?:<Keywords>([^<]*)</Keywords>)?<TimeCreated SystemTime="([^"]*)"></TimeCreated>'
    r'<EventRecordID>([^<]*)</EventRecordID>(?:<Correlation[^>]*></Correlation>)?'
    r'(?:<Execution ProcessID="([^"]*)" ThreadID="([^"]*)"[^>]*></Execution>)?'
    r'<Channel>([^<]*)</Channel><Computer>([^<]*)</Computer>(?:<Security(?: UserID="([^"]*)")?></Security>)?'
    r'</System>')
_DATA_ITEM = re.compile(r'<Data(?: Name="([^"]*)")?>([^<]*)</Data>')
_DATA_ITEMS_ONLY = re.compile(r'(?:<Data(?: Name="[^"]*")?>[^<]*</Data>|<Binary>[^<]*</Binary>)*')


def rust_xml_record(xml):
    """The Rust evtx parser's XML of one event, shaped as windows_xml_record() shapes python-evtx's:
    the XmlWinEventLog event the Splunk Add-on for Windows indexes, _raw on one line. The usual
    event (System, then EventData of <Data> elements holding text) is read with two patterns,
    several times faster than parsing it; any other (UserData, markup in a value) is parsed."""
    raw = _one_line(xml)
    start = raw.find("<System>")
    system = _SYSTEM.match(raw, start) if start >= 0 else None
    if system is None or "&" in system.group(0):
        return _parsed_rust_record(raw)
    (provider, event_id, level, task, keywords, system_time, record_id, process_id, thread_id, channel, computer,
     user_id) = system.groups()
    record = {"sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:" + channel, "host": computer,
              "_time": _evtx_time(system_time), "_raw": raw, "SourceName": provider or "",
              "SystemTime": system_time}
    if process_id is not None:
        record["ProcessID"] = process_id
        record["ThreadID"] = thread_id
    if user_id:
        record["UserID"] = user_id
    record["EventCode"] = event_id.strip()
    if level is not None:
        record["Level"] = level.strip()
    if task is not None:
        record["Task"] = task.strip()
    if keywords is not None:
        record["Keywords"] = _keywords(keywords.strip())
    record["EventRecordID"] = record_id.strip()
    record["Channel"] = channel.strip()
    record["Computer"] = computer.strip()
    data_start = raw.find("<EventData", system.end())
    if data_start < 0:
        return record if "<UserData>" not in raw else _parsed_rust_record(raw)
    data_end = raw.find("</EventData>", data_start)
    section = raw[raw.find(">", data_start) + 1:data_end]
    if data_end < 0 or not _DATA_ITEMS_ONLY.fullmatch(section):
        return _parsed_rust_record(raw)  # markup inside EventData the patterns do not read
    unnamed = []
    for name, value in _DATA_ITEM.findall(section):
        if "&" in value or "\r" in value:
            value = _xml_text(value)
        if not name:
            unnamed.append(value)
        elif value:  # the add-on extracts no field for an empty value
            if name in record:
                _add_data(record, name, value)
            else:
                record[name] = value
    if unnamed:
        _add_unnamed(record, unnamed)
    return record


def _evtx_time(text):
    """Epoch seconds of the parser's SystemTime, 2019-11-04T13:46:01.171339Z, as iso_epoch() gives
    it (milliseconds), without its pattern: one call per record."""
    midnight = _DAY_EPOCH.get(text[:10])
    if midnight is None or len(text) != 27 or text[19] != "." or text[26] != "Z":
        return iso_epoch(text) or ""
    try:
        return "%.3f" % (midnight + int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19])
                         + float(text[19:26]))
    except ValueError:
        return iso_epoch(text) or ""


def _keywords(text):
    """Keywords with the 16 hex digits Windows writes (python-evtx and the add-on show them so)."""
    try:
        return "0x%016x" % int(text, 16) if text.startswith("0x") else text
    except ValueError:
        return text


def _one_line(xml):
    """The XML without its declaration, as Splunk's _raw has it: the parser writes it unindented, on
    one line (indented XML, which ends in "\n</Event>" and breaks after its first tags, has the
    indentation between tags removed)."""
    start = xml.find("<Event")
    raw = xml[start:] if start > 0 else xml
    if raw[-1:] == "\n":
        raw = raw.rstrip()
    if raw[-9:-8] == "\n" or raw.find(">\n", 0, 200) > 0:
        raw = _BETWEEN_TAGS.sub("><", raw)
    return raw


def _xml_text(value):
    """Entity-escaped text as an XML parser reads it (line ends normalised to \\n)."""
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return html.unescape(value) if "&" in value else value


def _add_data(record, name, value):
    if not value:
        return  # the add-on extracts no field for an empty value
    existing = record.get(name)
    if existing is None:
        record[name] = value
    elif value != existing and not (isinstance(existing, list) and value in existing):
        # A name System already has (ProcessID) or a repeated one: multivalue, values once.
        record[name] = (existing if isinstance(existing, list) else [existing]) + [value]


def _add_unnamed(record, values):
    """A classic event's insertion strings: the Rust parser writes one <Data> each; python-evtx
    (and the readers of MSExchange Management events) have them as one Data of <string> items."""
    if any(values):
        record.setdefault("Data", "".join("<string>%s</string>\n" % value for value in values))


def _parsed_rust_record(raw):
    if _NOT_XML_CHAR.search(raw):
        raw = _NOT_XML_CHAR.sub("", raw)  # a control character no XML parser takes (python-evtx drops them too)
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError:
        return None
    shaped = windows_xml_record(raw, root)
    data = root.find(_EVENT_NS + "EventData")
    if data is not None:
        unnamed = ["".join(element.itertext()) for element in data
                   if element.tag == _EVENT_NS + "Data" and not element.get("Name")]
        shaped.pop("Data", None)
        _add_unnamed(shaped, unnamed)
    if "Keywords" in shaped:
        shaped["Keywords"] = _keywords(shaped["Keywords"])
    return shaped


def windows_xml_record(xml, root=None):
    """A Windows event's XML as the Splunk Add-on for Windows indexes it (XmlWinEventLog):
    _raw is the XML, System and EventData values become fields. `root` is the XML already parsed."""
    if root is None:
        try:
            root = ElementTree.fromstring(xml)
        except ElementTree.ParseError:
            return None
    system = root.find(_EVENT_NS + "System")
    record = {"sourcetype": "XmlWinEventLog"}
    fields = {}
    if system is not None:
        for element in system:
            tag = element.tag.replace(_EVENT_NS, "")
            if tag == "Provider":
                fields["SourceName"] = element.get("Name", "")
            elif tag == "TimeCreated":
                fields["SystemTime"] = element.get("SystemTime", "")
            elif tag == "Execution":
                fields["ProcessID"] = element.get("ProcessID", "")
                fields["ThreadID"] = element.get("ThreadID", "")
            elif tag == "Security":
                if element.get("UserID"):
                    fields["UserID"] = element.get("UserID")
            elif tag == "EventID":
                fields["EventCode"] = (element.text or "").strip()
            elif tag in ("EventRecordID", "Channel", "Computer", "Level", "Task", "Keywords"):
                fields[tag] = (element.text or "").strip()
    channel = fields.get("Channel", "")
    record["source"] = "XmlWinEventLog:" + channel
    record["host"] = fields.get("Computer", "")
    record["_time"] = iso_epoch(fields.get("SystemTime", "").replace(" ", "T", 1)) or ""
    # python-evtx puts a line break after each tag; Splunk's XmlWinEventLog _raw is one line.
    record["_raw"] = _TAG_BREAK.sub(">", xml).strip()
    record.update({key: value for key, value in fields.items()})
    data = root.find(_EVENT_NS + "EventData")
    if data is None:
        data = root.find(_EVENT_NS + "UserData")
        if data is not None:
            for element in data.iter():
                if len(element) == 0 and element.text and element.text.strip():
                    record.setdefault(element.tag.split("}")[-1], element.text)
            return record
        return record
    for element in data:
        tag = element.tag.replace(_EVENT_NS, "")
        if tag != "Data":
            continue
        name = element.get("Name")
        value = "".join(element.itertext())
        if name:
            _add_data(record, name, value)
        elif value:
            record.setdefault("Data", value)
    return record


def build_parser():
    """--help only: this module is imported by other tools and has no command line of its own."""
    import argparse

    return argparse.ArgumentParser(prog="python -m t1114_scan.formats", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter, epilog="A module, not a command: t1114-scan reads files with it (t1114-scan --help). Formats it reads:\n" + "\n".join("  %-17s %s" % item for item in FORMATS.items()))


if __name__ == "__main__":
    build_parser().parse_args()
    build_parser().print_help()  # nothing to run: what the module is for is the answer
