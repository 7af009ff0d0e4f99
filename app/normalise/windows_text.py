"""Sources whose evidence is cmdlet text: PowerShell 4104 script blocks and the on-premises
Exchange management log (MSExchange Management, EventCode 1)."""

import html
import re

from ..event import MailEvent
from ..values import as_text, first_field
from .cmdlet_events import cmdlet_events
from .windows_xml import xml_computer, xml_event_id
from .reader_table import ANY_CMDLET, ReaderTable

SCRIPT_BLOCK_OPERATION = "ScriptBlock"
# The closing tag is found with str.find: a lazy `(.*?)</Data>` rescanned the rest of the
# text from every opening tag, about a second for one 64 KB _raw full of openings.
_SCRIPT_BLOCK_OPEN = re.compile(r"<Data Name=['\"]ScriptBlockText['\"]>")
_MAX_TEXT = 200000
_CLASSIC_SCRIPT_BLOCK = "Creating Scriptblock text ("
_CLASSIC_SCRIPT_BLOCK_END = "ScriptBlock ID:"


def script_block_text(record):
    text = first_field(record, ("ScriptBlockText", "script_block_text"))
    if text:
        return text
    raw = as_text(record.get("_raw"))
    opened = _SCRIPT_BLOCK_OPEN.search(raw) if "ScriptBlockText" in raw else None
    if opened:
        end = raw.find("</Data>", opened.end())
        return html.unescape(raw[opened.end():end]) if end >= 0 else ""
    return _classic_script_block(first_field(record, ("Message",)) or raw)


def _classic_script_block(message):
    """The script of a classic (non-XML) 4104: the lines after "Creating Scriptblock text (n of m):"
    up to "ScriptBlock ID:"."""
    marker = message.find(_CLASSIC_SCRIPT_BLOCK)
    if marker < 0:
        return ""
    start = message.find("\n", marker)
    if start < 0:
        return ""
    end = message.rfind(_CLASSIC_SCRIPT_BLOCK_END)
    return message[start + 1:end if end > start else len(message)].strip()


def _cmdlet_events(source, text, record, context, actor_fields, host_fields):
    return cmdlet_events(source, text, context, first_field(record, actor_fields), first_field(record, host_fields),
                         text[:_MAX_TEXT])


def looks_like_powershell(view):
    return view.event_code == "4104" or bool(view.record.get("ScriptBlockText")) or "powershell" in view.sourcetype


def normalise_powershell(record, context):
    text = script_block_text(record)
    if not text:
        return []
    gate = context.endpoint_gates.get(SCRIPT_BLOCK_OPERATION)
    # Most script blocks hold none of the words the script rules need nor a cmdlet they scan
    # for (app/normalise/endpoint_gate.py). The gate reads the whole text, as the cmdlet scan
    # does; the rules see its first _MAX_TEXT characters, so the gate may let more through, never less.
    if gate is not None and not gate((text,)):
        return []
    base = MailEvent("powershell", SCRIPT_BLOCK_OPERATION)
    base.text = text[:_MAX_TEXT]
    base.actor = first_field(record, ("user", "UserID", "User", "SubjectUserName"))
    base.dest = first_field(record, ("Computer", "ComputerName", "dest", "host"))
    base.extra = {"path": first_field(record, ("Path", "ScriptPath"))}
    return [base] + _cmdlet_events(
        "powershell", text, record, context,
        ("user", "UserID", "User", "SubjectUserName"), ("Computer", "ComputerName", "dest", "host"))


# MSExchange CmdletLogs: EventID 1 is a cmdlet that ran, 6 one that failed (it changed nothing).
CMDLET_FAILED_EVENT_CODE = "6"
_CMDLET_STRINGS_CAP = 40   # the CmdletLogs event has about 30 strings; the rules read the first three
_EVENT_CODE_IN_HEADER = re.compile(r"(?m)^EventCode=(\d+)\s*$")


def cmdlet_log_strings(record):
    """The `<string>` items of an XmlWinEventLog MSExchange Management event: cmdlet name,
    its parameters as one text, the caller, ... (from the extracted `Data` field or `_raw`)."""
    data = as_text(record.get("Data"))
    if "<string>" not in data:
        raw = as_text(record.get("_raw"))
        start = raw.find("<Data>")
        if start < 0 or "&lt;string&gt;" not in raw:
            return []
        end = raw.find("</Data>", start)
        data = html.unescape(raw[start + 6:end if end >= 0 else len(raw)])
    strings = []
    position = data.find("<string>")
    while position >= 0 and len(strings) < _CMDLET_STRINGS_CAP:
        end = data.find("</string>", position + 8)
        if end < 0:
            break
        strings.append(data[position + 8:end])
        position = data.find("<string>", end + 9)
    return strings


def _event_code(record, raw_head):
    """EventCode as extracted, else from the XML `<EventID>` or the classic `EventCode=` header."""
    code = first_field(record, ("EventCode", "EventID"))
    if code:
        return code.strip()
    code = xml_event_id(raw_head)
    if code:
        return code
    found = _EVENT_CODE_IN_HEADER.search(raw_head)
    return found.group(1) if found else ""


def looks_like_exchange_cmdlet_log(view):
    sourcetype = view.sourcetype
    return "msexchange" in sourcetype and "management" in sourcetype or "msexchange management" in view.source


def normalise_exchange_cmdlet_log(record, context):
    raw = as_text(record.get("_raw"), 4000)
    event_code = _event_code(record, raw)
    if event_code == CMDLET_FAILED_EVENT_CODE:
        return []  # a failed cmdlet changed nothing: never reported as if it had (README)
    strings = cmdlet_log_strings(record) if "<" in as_text(record.get("Data") or raw, 2000) else []
    if not strings:
        text = first_field(record, ("Message", "message", "Body")) or as_text(record.get("_raw"))
        if text.lstrip().startswith("Cmdlet failed"):
            return []  # the classic rendering's wording for EventID 6
        return _cmdlet_events(
            "exchange_cmdlet_log", text, record, context,
            ("user", "User", "Sid"), ("ComputerName", "Computer", "dest", "host"))
    # "<cmdlet> <parameters>" read as one call, so parameters parse as on every other source.
    text = strings[0].strip() + " " + (strings[1] if len(strings) > 1 else "")
    events = _cmdlet_events("exchange_cmdlet_log", text, record, context,
                            ("user", "User"), ("ComputerName", "Computer", "dest", "host"))
    caller = strings[2].strip() if len(strings) > 2 else ""
    host = ""
    if not first_field(record, ("ComputerName", "Computer", "dest", "host")):
        host = xml_computer(raw)
    for event in events:
        event.actor = event.actor or caller
        event.dest = event.dest or host
        event.extra = {"event_code": event_code, "caller": caller}
    return events


POWERSHELL_READER = ReaderTable(
    "powershell",
    facts={"powershell": ("path",)},
    fields={
        "recognition": ("sourcetype", "source", "EventCode", "EventID", "ScriptBlockText", "_raw"),
        "text": ("ScriptBlockText", "script_block_text", "Message", "_raw"),
        "extra.path": ("Path", "ScriptPath"),
        "actor": ("UserID", "User", "user", "SubjectUserName"),
        "dest": ("Computer", "ComputerName", "dest", "host"),
    },
    operations={"powershell": (SCRIPT_BLOCK_OPERATION, ANY_CMDLET)},
    gated={"powershell": ("text",)},
    windows_event_log=True,
)
EXCHANGE_CMDLET_LOG_READER = ReaderTable(
    "exchange_cmdlet_log",
    facts={"exchange_cmdlet_log": ("caller", "event_code")},
    fields={
        "recognition": ("sourcetype", "source", "EventCode", "EventID", "_raw"),
        "text": ("Message", "message", "Body", "Data", "_raw"),
        "actor": ("User", "user"),
        "dest": ("Computer", "ComputerName", "dest", "host"),
        "extra.event_code": ("EventCode", "EventID", "_raw"),
    },
    operations={"exchange_cmdlet_log": (ANY_CMDLET,)},
    windows_event_log=True,
)
