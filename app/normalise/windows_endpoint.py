"""Windows endpoint events: Sysmon 1/11, Security 4663/4688/5145 and the CIM Endpoint
data model (Processes, Filesystem), with vendor or CIM field names, `| tstats` prefixes
(`Processes.process_path`) or only an XML `_raw`.

Each event becomes one MailEvent (source `process` or `file`) carrying the process, parent,
command line, file and access facts in `extra`; process command lines also yield one
cmdlet MailEvent per Exchange cmdlet they call, as 4104 script blocks do.
"""

import base64
import binascii
import re

from ..event import MailEvent
from ..values import MAX_VALUE_CHARS, as_list, as_text, clean_ip
from ..windows_path import canonical_path, main_stream_path, path_in_profile
from .cmdlet_events import cmdlet_events
from .reader_table import ANY_CMDLET, DATA_MODEL_PREFIXES, ReaderTable
from .windows_xml import event_xml_fields

PROCESS_CREATE = "ProcessCreate"
FILE_CREATE = "FileCreate"
FILE_ACCESS = "FileAccess"
SHARE_ACCESS = "ShareAccess"
FILE_CHANGE = "FileChange"   # CIM Filesystem deleted / acl_modified: no rule reads it today

SECURITY_EVENT_CODES = frozenset(("4663", "4688", "5145"))
SYSMON_EVENT_CODES = frozenset(("1", "11"))
_DATA_MODEL_PREFIXES = DATA_MODEL_PREFIXES
# CIM Filesystem actions (Endpoint data model): created, modified, deleted, read, acl_modified.
_CIM_READ_ACTIONS = frozenset(("read", "accessed", "access"))
_CIM_WRITE_ACTIONS = frozenset(("created", "modified", "write", "written", "create"))

# powershell -enc/-EncodedCommand <base64 of UTF-16LE>: the script is only readable decoded.
_ENCODED_COMMAND = re.compile(r"(?i)\s[-/]e(?:c|n[a-z]*)?\s+['\"]?([A-Za-z0-9+/]{8,}={0,2})")
_MAX_DECODED = 100000
_ACCESS_CODE = re.compile(r"%%(\d{4})")
_ACCESS_WORD = re.compile(r"[A-Za-z_]+")

# Object access rights as Security events write them: %%codes in XML, words when rendered,
# bits in AccessMask. Names are lower-case so rules can test `extra.access`.
_ACCESS_CODES = {
    "1537": "delete", "1538": "read_control", "1539": "write_dac", "1540": "write_owner",
    "1541": "synchronize", "1542": "access_sys_sec", "4416": "readdata", "4417": "writedata",
    "4418": "appenddata", "4419": "readea", "4420": "writeea", "4421": "execute",
    "4422": "deletechild", "4423": "readattributes", "4424": "writeattributes",
}
_ACCESS_WORDS = frozenset(_ACCESS_CODES.values()) | frozenset(("generic_read", "generic_write", "generic_all", "generic_execute"))
_ACCESS_BITS = (
    (0x1, "readdata"), (0x2, "writedata"), (0x4, "appenddata"), (0x8, "readea"), (0x10, "writeea"),
    (0x20, "execute"), (0x40, "deletechild"), (0x80, "readattributes"), (0x100, "writeattributes"),
    (0x10000, "delete"), (0x20000, "read_control"), (0x40000, "write_dac"), (0x80000, "write_owner"),
    (0x100000, "synchronize"), (0x1000000, "access_sys_sec"), (0x10000000, "generic_all"),
    (0x20000000, "generic_execute"), (0x40000000, "generic_write"), (0x80000000, "generic_read"),
)
_EMPTY_VALUES = frozenset(("", "-", "n/a", "unknown", "not_translated", "null sid"))
# A longer text is none of them: lower() never shortens a string (its only multi-character
# mappings lengthen it), so the lower-casing of a long command line can be skipped.
_LONGEST_EMPTY_VALUE = max(len(value) for value in _EMPTY_VALUES)
# {field name: (name, Processes.name, ...)}: filled on first use from the fixed names this module reads.
_CANDIDATE_KEYS = {}
# The field names facts are read from (each also with a _DATA_MODEL_PREFIXES prefix).
# Classic WinEventLog 4688 (the add-on's names): New_Process_Name, Process_Command_Line,
# Creator_Process_Name; 4663/5145: Object_Name, Relative_Target_Name.
_PROCESS_PATH = ("Image", "NewProcessName", "New_Process_Name", "process_path")
_PROCESS_NAME = ("process_name",)
_COMMAND_LINE = ("CommandLine", "Process_Command_Line", "process", "process_command_line")
_PARENT_PATH = ("ParentImage", "ParentProcessName", "Creator_Process_Name", "parent_process_path")
_PARENT_NAME = ("parent_process_name",)
_ORIGINAL_FILE_NAME = ("OriginalFileName", "original_file_name")
_FILE_PATH = ("TargetFilename", "ObjectName", "Object_Name", "RelativeTargetName", "Relative_Target_Name", "file_path")
_FILE_NAME = ("file_name",)
# The path a file had before a rename (Defender XDR FileRenamed: PreviousFolderPath and
# PreviousFileName, joined by the Defender reader); Sysmon, Security and CIM have no rename,
# so the one record that has it is read directly, never its prefixed or XML forms.
_PREVIOUS_FILE_PATH = "PreviousFilePath"
_FILE_PROCESS_PATH = ("Image", "ProcessName", "Process_Name", "process_path")
_EVENT_CODE = ("EventCode", "EventID", "signature_id")
_HOST = ("Computer", "dest", "ComputerName", "DeviceName", "host")
_USER = ("User", "user", "SubjectUserName", "Account_Name")
_DOMAIN = ("SubjectDomainName", "Account_Domain")
_ACCESS_MASK = ("AccessMask", "Access_Mask")
_SHARE = ("ShareName", "Share_Name", "share")
_SOURCE_ADDRESS = ("IpAddress", "Source_Address", "src", "src_ip")

PROCESS_FACTS = ("account_name", "canonical_process_path", "command_line", "decoded_command", "event_code",
                 "original_file_name", "parent_process_name", "parent_process_path", "process_name", "process_path")
FILE_FACTS = ("access", "account_name", "action", "event_code", "file_name", "file_path", "file_path_in_profile",
              "previous_file_path", "process_name", "process_path", "share_name")

READER = ReaderTable(
    "windows_endpoint",
    facts={"process": PROCESS_FACTS, "file": FILE_FACTS},
    fields={
        # Field names only the endpoint sources use: finding one is enough to take the event
        # (looks_like_windows_endpoint reads exactly these, as TELL_TALE_FIELDS).
        "recognition": ("Image", "TargetFilename", "NewProcessName", "ObjectName", "RelativeTargetName",
                        "process_path", "process_name", "file_path", "file_name",
                        "Processes.process_name", "Processes.process_path", "Processes.process",
                        "Filesystem.file_path", "Filesystem.file_name"),
        # An XmlWinEventLog event without extracted fields: recognised and read from its XML.
        "event xml": ("_raw",),
        "extra.event_code": _EVENT_CODE,
        "dest": _HOST,
        "actor": _USER + _DOMAIN,
        # process creations
        "extra.process_path": _PROCESS_PATH + _FILE_PROCESS_PATH,
        "extra.process_name": _PROCESS_NAME,
        "extra.command_line": _COMMAND_LINE,
        "extra.parent_process_path": _PARENT_PATH,
        "extra.parent_process_name": _PARENT_NAME,
        "extra.original_file_name": _ORIGINAL_FILE_NAME,
        # file events
        "extra.file_path": _FILE_PATH,
        "extra.file_name": _FILE_NAME,
        "extra.file_path_in_profile": _FILE_PATH + _FILE_NAME,
        "extra.previous_file_path": (_PREVIOUS_FILE_PATH,),
        "extra.canonical_process_path": _PROCESS_PATH,
        "extra.access": ("AccessList", "Accesses") + _ACCESS_MASK,
        "extra.share_name": _SHARE,
        "extra.action": ("action",),
        "src": _SOURCE_ADDRESS,
    },
    operations={"process": (PROCESS_CREATE, ANY_CMDLET),
                "file": (FILE_CREATE, FILE_ACCESS, SHARE_ACCESS, FILE_CHANGE)},
    # The text facts of a process creation and of a file event, read before the rest: the
    # engine's gates (app/normalise/endpoint_gate.py) decide from these alone whether any rule can fire.
    # The reader builds exactly these facts, by these paths, before it asks the gate, and the
    # event carries what the gate was given.
    gated={"process": ("text", "extra.command_line", "extra.process_path", "extra.process_name",
                       "extra.parent_process_path", "extra.parent_process_name", "extra.original_file_name"),
           "file": ("extra.file_path", "extra.file_name", "mailbox", "extra.previous_file_path")},
    prefixed=True,
    windows_event_log=True,
)
TELL_TALE_FIELDS = READER.fields["recognition"]
GATED_PROCESS_FIELDS = frozenset(READER.gated["process"])


class _Fields:
    """Read-only view of a record: vendor names, CIM names, tstats prefixes and XML `_raw`."""

    __slots__ = ("record", "parsed")

    def __init__(self, record, parsed):
        self.record = record
        self.parsed = parsed

    def get(self, *names):
        # Empty counts as missing: in a chunk every record carries every field, most empty.
        record = self.record
        for name in names:
            candidates = _CANDIDATE_KEYS.get(name)
            if candidates is None:
                candidates = _CANDIDATE_KEYS[name] = (name,) + tuple(prefix + name for prefix in _DATA_MODEL_PREFIXES)
            for candidate in candidates:
                value = record.get(candidate)
                if value:
                    if type(value) is str:   # the usual case: what the loop below does for one item
                        text = (value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS]).strip()
                        if text and (len(text) > _LONGEST_EMPTY_VALUE or text.lower() not in _EMPTY_VALUES):
                            return text
                        continue
                    # A multivalue field (classic Account_Name, or User with the header's
                    # NOT_TRANSLATED beside Sysmon's own) gives its first meaningful item.
                    for item in value if isinstance(value, list) else (value,):
                        text = as_text(item).strip()
                        if text and text.lower() not in _EMPTY_VALUES:
                            return text
            if self.parsed:
                text = as_text(self.parsed.get(name)).strip()
                if text and text.lower() not in _EMPTY_VALUES:
                    return text
        return ""


def _parse_xml_raw(record):
    """Fields of an XmlWinEventLog `_raw` when Splunk extracted none (Fast mode)."""
    raw = as_text(record.get("_raw"))
    return event_xml_fields(raw) if "<Event" in raw else {}


def looks_like_windows_endpoint(view):
    """True for Sysmon 1/11, Security 4663/4688/5145 and CIM Endpoint results."""
    event_code = view.event_code
    if event_code in SECURITY_EVENT_CODES:
        return True
    record, sourcetype, source = view.record, view.sourcetype, view.source
    if event_code in SYSMON_EVENT_CODES and ("sysmon" in sourcetype or "sysmon" in source):
        return True
    if any(record.get(name) for name in TELL_TALE_FIELDS):
        return True
    if not event_code:   # before `_raw` is read: see RecordView.raw_head
        text = as_text(record.get("_raw"))
        return "<Event" in text and ("Microsoft-Windows-Sysmon" in text or "Microsoft-Windows-Security-Auditing" in text)
    return False


def base_name(path):
    """'C:\\Windows\\System32\\cmd.exe' -> 'cmd.exe' (either slash)."""
    cut = max(path.rfind("\\"), path.rfind("/"))
    return path[cut + 1:] if cut >= 0 else path


def bare_account(account):
    """'CONTOSO\\svc_backup' or 'svc_backup@contoso.com' -> 'svc_backup', for allowlist rows."""
    name = account.rsplit("\\", 1)[-1]
    at = name.find("@")
    return name[:at] if at > 0 else name


def access_names(access_list, access_mask):
    """The access rights an object-access event names, from AccessList and AccessMask."""
    names = []
    for code in _ACCESS_CODE.findall(access_list):
        name = _ACCESS_CODES.get(code)
        if name and name not in names:
            names.append(name)
    for word in _ACCESS_WORD.findall(access_list):
        lowered = word.lower()
        if lowered in _ACCESS_WORDS and lowered not in names:
            names.append(lowered)
    mask_text = access_mask.strip().lower()
    if mask_text:
        try:
            mask = int(mask_text, 16) if mask_text.startswith("0x") else int(mask_text)
        except ValueError:
            mask = 0
        for bit, name in _ACCESS_BITS:
            if mask & bit and name not in names:
                names.append(name)
    return tuple(names)


def _account(fields, user_names, domain_names):
    user = fields.get(*user_names)
    if not user:
        return ""
    domain = fields.get(*domain_names) if domain_names else ""
    if domain and "\\" not in user and "@" not in user:
        return "%s\\%s" % (domain, user)
    return user


def _endpoint_event(source, operation, fields, facts):
    """The event of an endpoint record its gate let through: the gated facts it was given, and
    the host and account every process and file event carries."""
    event = MailEvent(source, operation)
    for path, value in facts.items():
        head, _, fact = path.partition(".")
        if fact:
            event.extra[fact] = value
        else:
            setattr(event, head, value)
    event.dest = fields.get(*_HOST)
    event.actor = _account(fields, _USER, _DOMAIN)
    return event


def _operation(fields, event_code):
    if event_code in ("1", "4688"):
        return PROCESS_CREATE
    if event_code == "11":
        return FILE_CREATE
    if event_code == "4663":
        return FILE_ACCESS
    if event_code == "5145":
        return SHARE_ACCESS
    if fields.get("file_path", "file_name", "TargetFilename", "ObjectName"):
        action = fields.get("action").lower()
        if action in _CIM_READ_ACTIONS:
            return FILE_ACCESS
        # Most Filesystem data comes from Sysmon 11, which has no action: treat that as a create.
        return FILE_CREATE if not action or action in _CIM_WRITE_ACTIONS else FILE_CHANGE
    if fields.get("process_path", "process_name", "process", "Image", "NewProcessName"):
        return PROCESS_CREATE
    return ""


def _process_facts(fields):
    """The gated facts of a process creation (READER.gated["process"]), by path."""
    process_path = fields.get(*_PROCESS_PATH)
    parent_path = fields.get(*_PARENT_PATH)
    command_line = fields.get(*_COMMAND_LINE)
    decoded = decoded_command(command_line)
    return {
        # Rules reading `text` see the decoded script too, as 4104 would show it.
        "text": command_line + ("\n" + decoded if decoded else ""),
        "extra.command_line": command_line,
        "extra.process_path": process_path,
        "extra.process_name": base_name(fields.get(*_PROCESS_NAME) or process_path),
        "extra.parent_process_path": parent_path,
        "extra.parent_process_name": base_name(fields.get(*_PARENT_NAME) or parent_path),
        # Sysmon's PE OriginalFileName survives renaming a tool (7z.exe copied as svc.exe).
        "extra.original_file_name": fields.get(*_ORIGINAL_FILE_NAME),
    }, decoded


def _file_facts(fields, record):
    """The gated facts of a file event (READER.gated["file"]), by path."""
    # A `::$DATA` suffix names the file itself (app/windows_path.py): read without it, so that
    # `bob.pst::$DATA` is bob.pst; a named stream (`bob.pst:Zone.Identifier`) stays on.
    file_path = main_stream_path(fields.get(*_FILE_PATH))
    file_name = fields.get(*_FILE_NAME)
    if file_name:
        file_name = main_stream_path(file_name)
    if file_name and file_path and not file_path.lower().endswith(file_name.lower()):
        file_path = file_path.rstrip("\\/") + "\\" + file_name  # CIM file_path may be the folder
    file_path, file_name = file_path or file_name, file_name or base_name(file_path)
    # The mail store is the object acted on.
    return {"extra.file_path": file_path, "extra.file_name": file_name, "mailbox": file_path,
            "extra.previous_file_path": main_stream_path(as_text(record.get(_PREVIOUS_FILE_PATH)).strip())}


def _gated(facts, source, operation, context):
    """The facts in the order the table declares them, or None when the operation's gate says
    no rule can fire on them. A fact the table names and the reader did not build is a KeyError
    on every event, never a fact the gate silently does not see."""
    gate = context.endpoint_gates.get(operation)
    values = tuple(facts[path] for path in READER.gated[source])
    return values if gate is None or gate(values) else None


def normalise_windows_endpoint(record, context):
    parsed = {}
    if record.get("_raw") and not any(record.get(name) for name in TELL_TALE_FIELDS):
        parsed = _parse_xml_raw(record)
    fields = _Fields(record, parsed)
    event_code = fields.get(*_EVENT_CODE)
    operation = _operation(fields, event_code)
    if not operation:
        return []
    if operation == PROCESS_CREATE:
        facts, decoded = _process_facts(fields)
        if _gated(facts, "process", operation, context) is None:
            return []   # no rule can fire: the facts hold none of the words each rule needs
        event = _endpoint_event("process", operation, fields, facts)
        event.extra["decoded_command"] = decoded
        # The path as allowlists compare it: a rule telling Outlook itself by its folder cannot
        # be met by `..` or a `\\?\` prefix (app/windows_path.py).
        event.extra["canonical_process_path"] = canonical_path(event.extra["process_path"])
    else:
        facts = _file_facts(fields, record)
        if _gated(facts, "file", operation, context) is None:
            return []   # no rule can fire: the path holds none of the words each rule needs
        event = _endpoint_event("file", operation, fields, facts)
        process_path = fields.get(*_FILE_PROCESS_PATH)
        access_list = fields.get("AccessList") or " ".join(as_list(record.get("Accesses")))
        event.extra["access"] = access_names(access_list, fields.get(*_ACCESS_MASK))
        event.extra["share_name"] = fields.get(*_SHARE)
        event.src = clean_ip(fields.get(*_SOURCE_ADDRESS))
        event.extra["action"] = fields.get("action").lower()
        event.extra["process_path"] = process_path
        event.extra["process_name"] = base_name(fields.get(*_PROCESS_NAME) or process_path)
        # Whether (and where) the file is inside a real user profile, for rules that tell the
        # Outlook folders from copies of them elsewhere (`E:\Backup\Documents\Outlook Files`).
        event.extra["file_path_in_profile"] = path_in_profile(event.extra["file_path"])
    event.extra["account_name"] = bare_account(event.actor)
    event.extra["event_code"] = event_code
    events = [event]
    if operation == PROCESS_CREATE and event.text:
        events.extend(_cmdlet_events(event, context))
    return events


def decoded_command(command_line):
    """The script a `powershell -EncodedCommand` line carries, or ''."""
    for dash in "\u2013\u2014\u2015":   # PowerShell takes these dashes for - in its options too
        command_line = command_line.replace(dash, "-")
    if "-e" not in command_line.lower() and "/e" not in command_line.lower():
        return ""
    found = _ENCODED_COMMAND.search(command_line)
    if not found:
        return ""
    try:
        data = base64.b64decode(found.group(1)[:_MAX_DECODED * 2], validate=True)
    except (binascii.Error, ValueError):
        return ""
    text = data.decode("utf-16-le", "replace").replace("\x00", "")
    # A word that merely looks like base64 decodes to noise; a script is mostly printable ASCII.
    printable = sum(1 for char in text if " " <= char <= "~" or char in "\r\n\t")
    return text if text and printable >= 0.9 * len(text) else ""


def _strip_outer_quote(value):
    """`powershell -c "... -FilePath x.pst"` leaves the closing quote of the whole script on the last value."""
    if value.endswith(("\"", "'")) and value.count(value[-1]) % 2 == 1:
        return value[:-1]
    return value


def _cmdlet_events(process_event, context):
    """Exchange cmdlets called on a command line, as the same events 4104 script blocks give."""
    events = cmdlet_events("process", process_event.text, context, process_event.actor, process_event.dest,
                           process_event.text, clean_value=_strip_outer_quote)
    for event in events:
        event.extra = dict(process_event.extra)
    return events
