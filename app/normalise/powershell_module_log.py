"""PowerShell module logging (Microsoft-Windows-PowerShell/Operational EventID 4103, and the
same event of PowerShell 7 in PowerShellCore/Operational): each command a pipeline ran, named
and with its parameters as PowerShell bound them.

The event's Payload holds one `CommandInvocation(<command>): "<command>"` line per command and
one `ParameterBinding(<command>): name="<parameter>"; value="<value>"` line per bound parameter.
PowerShell writes the command's own name and each parameter's full name there, whatever the
script wrote (an alias, a prefix of the name, splatting, backticks, a string run through
Invoke-Expression), so a 4103 event is read as the cmdlet events a script block would give,
without reading any script. A collection value is written as its items joined with ", " (cut
after 256 characters), a typed object as its ToString(), and a $null value not at all.

Shapes, as the Splunk Add-on for Microsoft Windows gives them: XmlWinEventLog (renderXml=true)
with `Payload`, `ContextInfo` and `UserData` extracted or only in the `<Data Name='...'>` items of
`_raw`; classic WinEventLog with the rendered message (`Payload`, then `Context:` and the
ContextInfo lines, then `User Data:`) in `Message` or after `Message=` in `_raw`.
"""

import re

from ..event import MailEvent
from ..values import as_text, first_field
from .mailbox import cmdlet_mailbox
from .reader_table import ANY_CMDLET, ReaderTable
from .windows_xml import event_xml_fields, xml_event_id

SOURCE = "powershell_module"
EVENT_CODE = "4103"
# Windows PowerShell's provider, and PowerShell 7's (channel PowerShellCore/Operational).
_PROVIDERS = ("Microsoft-Windows-PowerShell", "PowerShellCore")
# The whole pipeline's record: its Payload as text, for rules that read `text` (the bound
# values of New-Object -ComObject, Invoke-RestMethod -Uri, Add-Type -Path, ...).
PIPELINE_OPERATION = "PipelineExecution"

# A Payload is read up to this size; a pipeline that bound more (a large -InputObject) has
# its later lines unread, and says so.
MAX_PAYLOAD_CHARS = 200000
MAX_COMMANDS = 200
_HEAD_CHARS = 2000

# The start of each Payload line PowerShell writes. A bound value may span lines and hold
# quotes (it is written unescaped), so a line starts a new item only with one of these.
_ITEM = re.compile(r"(?m)^[ \t]*(CommandInvocation|ParameterBinding|TerminatingError|NonTerminatingError)"
                   r"\(([^\r\n]*?)\):[ \t]?")
_BINDING = re.compile(r'name="([^"\r\n]*)"; value="', re.IGNORECASE)
_CONTEXT_LINE = re.compile(r"(?m)^[ \t]*([A-Za-z][A-Za-z ]*?)[ \t]*=[ \t]?([^\r\n]*)")
# The classic rendering's section titles after the Payload (the event's message template).
_CONTEXT_TITLE = "\nContext:"
_USER_DATA_TITLE = "\nUser Data:"


def looks_like_powershell_module_log(view):
    """True for a 4103 of the PowerShell provider, by its EventCode and channel or fields, or
    by the event XML in `_raw` when Splunk extracted nothing."""
    code = view.event_code
    if code:
        if code != EVENT_CODE:
            return False
        record = view.record
        return ("powershell" in view.source or "powershell" in view.sourcetype or bool(record.get("Payload"))
                or _names_provider(as_text(record.get("_raw"), _HEAD_CHARS)))
    if view.raw_head != "<":
        return False
    head = as_text(view.record.get("_raw"), _HEAD_CHARS)
    return xml_event_id(head) == EVENT_CODE and _names_provider(head)


def _names_provider(head):
    return any(provider in head for provider in _PROVIDERS)


def normalise_powershell_module_log(record, context):
    """[MailEvent]: the pipeline's own (PIPELINE_OPERATION, its Payload as text) when a rule
    reads it, and one cmdlet event per command a rule names, with its bound parameters."""
    payload, context_info, xml_host = _payload_and_context(record)
    if not payload:
        return []
    if len(payload) > MAX_PAYLOAD_CHARS:
        payload = payload[:MAX_PAYLOAD_CHARS]
        context.problems.report(
            "module_log_payload_budget",
            "A PowerShell module-logging event (4103) holds a Payload longer than the %d characters read; "
            "the commands and parameters after that were not checked." % MAX_PAYLOAD_CHARS)
    facts = context_facts(context_info)
    actor = (facts.get("Connected User") or facts.get("User")
             or first_field(record, ("user", "UserID", "User")))
    host = first_field(record, ("Computer", "ComputerName", "dest", "host")) or xml_host
    extra = {"host_application": facts.get("Host Application", ""), "path": facts.get("Script Name", "")}
    events = []
    if context.wants(PIPELINE_OPERATION):
        events.append(_event(PIPELINE_OPERATION, {}, actor, host, payload, extra))
    for command, parameters in pipeline_commands(payload, context.problems):
        if not context.wants(command):
            continue  # most 4103 events are commands no rule reads (Out-Default, Write-Verbose, ...)
        event = _event(command, parameters, actor, host, payload, extra)
        event.mailbox = cmdlet_mailbox(command, parameters, actor)
        events.append(event)
    return events


def _event(operation, parameters, actor, host, payload, extra):
    event = MailEvent(SOURCE, operation)
    event.parameters = parameters
    event.actor = actor
    event.dest = host
    event.text = payload
    event.extra = dict(extra)
    return event


def pipeline_commands(payload, problems=None):
    """[(command, {lower-case parameter: value})] in the order of the CommandInvocation lines.
    A command with a TerminatingError line failed and changed nothing: it is left out, as a
    failed Exchange cmdlet is (README). Bindings are matched to commands by name; the bindings
    of a command run twice in one pipeline are read as one."""
    commands = {}
    failed = set()
    items = list(_ITEM.finditer(payload))
    for index, item in enumerate(items):
        kind, command = item.group(1), item.group(2).strip()
        if not command:
            continue
        key = command.lower()
        if kind == "CommandInvocation":
            if key not in commands:
                if len(commands) >= MAX_COMMANDS:
                    if problems is not None:
                        problems.report(
                            "module_log_command_budget",
                            "A PowerShell module-logging event (4103) names more than %d commands; the "
                            "commands after that were not checked." % MAX_COMMANDS)
                    break
                commands[key] = (command, {})
        elif kind == "TerminatingError":
            failed.add(key)
        elif kind == "ParameterBinding" and key in commands:
            end = items[index + 1].start() if index + 1 < len(items) else len(payload)
            binding = _BINDING.match(payload, item.end(), end)
            if binding:
                name = binding.group(1).strip().lower()
                value = _closing_quote_removed(payload[binding.end():end])
                parameters = commands[key][1]
                parameters[name] = parameters[name] + ";" + value if parameters.get(name) else value
    return [(command, parameters) for key, (command, parameters) in commands.items() if key not in failed]


def _closing_quote_removed(value):
    value = value.rstrip("\r\n\t ")
    return value[:-1] if value.endswith('"') else value


def context_facts(context_info):
    """{ContextInfo key: value}: `Host Application`, `User`, `Connected User`, `Command Name`,
    `Script Name`, ... (the `Key = value` lines; a key keeps its first value)."""
    facts = {}
    for found in _CONTEXT_LINE.finditer(context_info[:8000]):
        facts.setdefault(found.group(1), found.group(2).strip())
    return facts


def _payload_and_context(record):
    """(Payload, ContextInfo, the XML's Computer) from the extracted fields, the event XML or the
    classic message."""
    payload = as_text(record.get("Payload"), MAX_PAYLOAD_CHARS + 1)
    if payload:
        return _lines(payload), as_text(record.get("ContextInfo")), ""
    message = as_text(record.get("Message"), MAX_PAYLOAD_CHARS + 1)
    raw = as_text(record.get("_raw"), MAX_PAYLOAD_CHARS + 1)
    if not message and raw.lstrip()[:1] == "<":
        fields = event_xml_fields(raw)
        return _lines(fields.get("Payload", "")), fields.get("ContextInfo", ""), fields.get("Computer", "")
    if not message:
        start = raw.find("\nMessage=")
        message = raw[start + len("\nMessage="):] if start >= 0 else ""
    return _classic_sections(_lines(message)) + ("",)


def _lines(text):
    # Splunk's field extraction gives the Payload with "\n" line ends and no blank line after it,
    # `_raw` keeps Windows' "\r\n" and the message's blank lines: one form, so every shape of an
    # event binds the same values and shows the same text.
    return text.replace("\r\n", "\n").strip()


def _classic_sections(message):
    """The classic message is `<Payload>` `Context:` `<ContextInfo>` `User Data:` `<UserData>`:
    the last `Context:` title ends the Payload, so a bound value holding that word cannot cut
    the real bindings short."""
    cut = message.rfind(_CONTEXT_TITLE)
    if cut < 0:
        return message.strip(), ""
    context_info = message[cut + len(_CONTEXT_TITLE):]
    user_data = context_info.rfind(_USER_DATA_TITLE)
    if user_data >= 0:
        context_info = context_info[:user_data]
    return message[:cut].strip(), context_info


READER = ReaderTable(
    SOURCE,
    facts={SOURCE: ("host_application", "path")},
    fields={
        "recognition": ("sourcetype", "source", "EventCode", "EventID", "Payload", "_raw"),
        "text": ("Payload", "Message", "_raw"),
        "parameters": ("Payload", "Message", "_raw"),
        "actor": ("ContextInfo", "Message", "_raw", "user", "UserID", "User"),
        "dest": ("Computer", "ComputerName", "dest", "host", "_raw"),
        "extra.host_application": ("ContextInfo", "Message", "_raw"),
        "extra.path": ("ContextInfo", "Message", "_raw"),
    },
    operations={SOURCE: (PIPELINE_OPERATION, ANY_CMDLET)},
    windows_event_log=True,
)
