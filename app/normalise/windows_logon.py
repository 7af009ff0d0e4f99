"""Windows logon and credential-validation events (Security 4624, 4625, 4776) -> MailEvent.

Only the facts remote-collection rules use: the workstation name the client announced
(NTLM carries it; tools such as Ruler send their own), the account and the source address.
"""

from ..event import MailEvent
from ..values import as_list, as_text, clean_ip, first_field
from .windows_xml import event_xml_fields
from .reader_table import ReaderTable

LOGON_OPERATION = "WindowsLogon"
LOGON_EVENT_CODES = frozenset(("4624", "4625", "4776"))


def _xml_fields(record):
    return event_xml_fields(as_text(record.get("_raw")))


def looks_like_windows_logon(view):
    return view.event_code in LOGON_EVENT_CODES


class _Fields:
    """Extracted fields first, the event XML in _raw second (parsed only when needed)."""

    def __init__(self, record):
        self.record = record
        self._xml = None

    def get(self, *names):
        value = first_field(self.record, names)
        if value:
            return value
        if self._xml is None:
            self._xml = _xml_fields(self.record)
        for name in names:
            if self._xml.get(name):
                return self._xml[name]
        return ""


def _last(value):
    values = [v for v in as_list(value) if v.strip() not in ("", "-")]
    return values[-1].strip() if values else ""


def normalise_windows_logon(record, event_code, context):
    if not context.wants(LOGON_OPERATION):
        return []  # a logon feed is large; when no rule asks for it, build nothing
    fields = _Fields(record)
    event = MailEvent("windows_logon", LOGON_OPERATION)
    # Classic WinEventLog: Account_Name lists the subject, then the account logged on.
    event.actor = fields.get(*_ACTOR) or _last(record.get(_CLASSIC_ACCOUNTS))
    event.src = clean_ip(fields.get(*_SOURCE_ADDRESS))
    event.dest = fields.get(*_HOST)
    event.extra = {
        "event_code": event_code,
        "workstation": fields.get(*_WORKSTATION).strip().lstrip("\\"),
        "logon_type": fields.get(*_LOGON_TYPE),
        "status": fields.get(*_STATUS),
    }
    return [event]


# The fields each fact is read from, extracted or (XmlWinEventLog without extractions) in _raw.
_ACTOR = ("TargetUserName", "user", "Logon_Account")
_CLASSIC_ACCOUNTS = "Account_Name"   # classic rendering: the subject, then the account logged on
_SOURCE_ADDRESS = ("IpAddress", "src_ip", "Source_Network_Address")
_HOST = ("Computer", "ComputerName", "dest", "host")
# The name the client announced (NTLM carries it; tools such as Ruler send their own).
_WORKSTATION = ("WorkstationName", "Workstation", "Workstation_Name", "src_nt_host", "Source_Workstation")
_LOGON_TYPE = ("LogonType", "Logon_Type")
_STATUS = ("Status", "Error_Code")

READER = ReaderTable(
    "windows_logon",
    facts={"windows_logon": ("event_code", "logon_type", "status", "workstation")},
    fields={
        # Recognised by its EventCode alone (RecordView.event_code: EventCode or EventID, or the
        # classic header in _raw of a WinEventLog source).
        "recognition": ("source", "EventCode", "EventID", "_raw"),
        "extra.event_code": ("EventCode", "EventID"),
        "event xml": ("_raw",),
        "actor": _ACTOR + (_CLASSIC_ACCOUNTS,),
        "src": _SOURCE_ADDRESS,
        "dest": _HOST,
        "extra.workstation": _WORKSTATION,
        "extra.logon_type": _LOGON_TYPE,
        "extra.status": _STATUS,
    },
    operations={"windows_logon": (LOGON_OPERATION,)},
    windows_event_log=True,
)
