"""Choosing the normaliser for a Splunk event and running it.

Each source is recognised by sourcetype first and by its tell-tale fields second, so
renamed sourcetypes and `| tstats`/data-model results still reach the right normaliser.
"""

from ..values import as_text
from .defender_xdr import looks_like_defender, normalise_defender
from .entra import looks_like_entra, normalise_entra
from .graph_activity import looks_like_graph_activity, normalise_graph_activity
from .message_tracking import looks_like_message_tracking, normalise_message_tracking
from .o365 import normalise_o365, operation_of
from .windows_endpoint import looks_like_windows_endpoint, normalise_windows_endpoint
from .windows_classic import looks_like_classic, with_classic_fields
from .windows_logon import LOGON_EVENT_CODES, normalise_windows_logon
from .windows_text import normalise_exchange_cmdlet_log, normalise_powershell


class NormaliseContext:
    """What normalisers need from the loaded rule set, built once per process."""

    def __init__(self, wanted_operations, cmdlet_pattern, parameter_fields, problems):
        self.wanted_operations = wanted_operations   # lower-case operations some rule indexes on
        self.cmdlet_pattern = cmdlet_pattern         # regex of cmdlet names rules ask for
        self.parameter_fields = parameter_fields     # {lower-case parameter: spelling in rules}
        self.problems = problems


def _is_o365(record, sourcetype):
    if sourcetype.startswith(("o365", "ms:o365", "ms365")):
        return True
    # Values, not keys: in a chunk every record carries every field the chunk has, most empty.
    if record.get("Operation") and (record.get("Workload") or record.get("RecordType")):
        return True
    raw = record.get("_raw")
    if raw and not sourcetype:
        text = as_text(raw)
        return text.lstrip().startswith("{") and '"Operation"' in text
    return False


def normalise(record, context):
    """The MailEvents one Splunk event holds (usually one, several for a script with many cmdlets)."""
    sourcetype = as_text(record.get("sourcetype")).lower()
    if _is_o365(record, sourcetype):
        operation = operation_of(record)
        if not operation or operation.lower() not in context.wanted_operations:
            return []  # cheap exit for the bulk of audit traffic no rule looks at
        return normalise_o365(record, operation, context)
    if "messagetracking" in sourcetype or "message_tracking" in sourcetype or looks_like_message_tracking(record):
        return normalise_message_tracking(record, context)
    # Before Entra: Event Hub records of these sources also carry operationName and category.
    if looks_like_defender(record, sourcetype):
        return normalise_defender(record, context)
    if looks_like_graph_activity(record, sourcetype):
        return normalise_graph_activity(record, context)
    if looks_like_entra(record, sourcetype):
        return normalise_entra(record, context)
    source = as_text(record.get("source")).lower()
    if "msexchange" in sourcetype and "management" in sourcetype or "msexchange management" in source:
        return normalise_exchange_cmdlet_log(record, context)
    event_code = as_text(record.get("EventCode") or record.get("EventID"))
    if not event_code and record.get("_raw") and looks_like_classic(record, sourcetype, source):
        record = with_classic_fields(record)  # classic WinEventLog with only _raw: read its Key: value text
        event_code = as_text(record.get("EventCode"))
    if event_code in LOGON_EVENT_CODES:
        return normalise_windows_logon(record, event_code, context)
    if event_code == "4104" or record.get("ScriptBlockText") or "powershell" in sourcetype:
        return normalise_powershell(record, context)
    if looks_like_windows_endpoint(record, sourcetype, source, event_code):
        return normalise_windows_endpoint(record, context)
    return []
