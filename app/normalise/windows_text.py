"""Sources whose evidence is cmdlet text: PowerShell 4104 script blocks and the on-premises
Exchange management log (MSExchange Management, EventCode 1)."""

import html
import re

from ..event import MailEvent
from ..values import as_text, first_field
from .cmdlet_text import find_invocations
from .mailbox import INBOX_RULE_OPERATIONS, inbox_rule_mailbox

SCRIPT_BLOCK_OPERATION = "ScriptBlock"
# The closing tag is found with str.find: a lazy `(.*?)</Data>` rescanned the rest of the
# text from every opening tag, about a second for one 64 KB _raw full of openings.
_SCRIPT_BLOCK_OPEN = re.compile(r"<Data Name=['\"]ScriptBlockText['\"]>")
_MAX_TEXT = 200000


def script_block_text(record):
    text = first_field(record, ("ScriptBlockText", "script_block_text"))
    if text:
        return text
    raw = as_text(record.get("_raw"))
    opened = _SCRIPT_BLOCK_OPEN.search(raw) if "ScriptBlockText" in raw else None
    if not opened:
        return ""
    end = raw.find("</Data>", opened.end())
    return html.unescape(raw[opened.end():end]) if end >= 0 else ""


def _cmdlet_events(source, text, record, context, actor_fields, host_fields):
    actor = first_field(record, actor_fields)
    host = first_field(record, host_fields)
    events = []
    for cmdlet, parameters in find_invocations(text, context.cmdlet_pattern, context.problems):
        event = MailEvent(source, cmdlet)
        event.parameters = parameters
        event.actor = actor
        event.dest = host
        if cmdlet.lower() in INBOX_RULE_OPERATIONS:
            event.mailbox = inbox_rule_mailbox(parameters, actor)
        else:
            event.mailbox = parameters.get("identity") or parameters.get("mailbox") or ""
        event.text = text[:_MAX_TEXT]
        events.append(event)
    return events


def normalise_powershell(record, context):
    text = script_block_text(record)
    if not text:
        return []
    base = MailEvent("powershell", SCRIPT_BLOCK_OPERATION)
    base.text = text[:_MAX_TEXT]
    base.actor = first_field(record, ("user", "UserID", "User", "SubjectUserName"))
    base.dest = first_field(record, ("Computer", "ComputerName", "dest", "host"))
    base.extra = {"path": first_field(record, ("Path", "ScriptPath"))}
    return [base] + _cmdlet_events(
        "powershell", text, record, context,
        ("user", "UserID", "User", "SubjectUserName"), ("Computer", "ComputerName", "dest", "host"))


def normalise_exchange_cmdlet_log(record, context):
    text = first_field(record, ("Message", "message", "Body")) or as_text(record.get("_raw"))
    return _cmdlet_events(
        "exchange_cmdlet_log", text, record, context,
        ("user", "User", "Sid"), ("ComputerName", "Computer", "dest", "host"))
