"""What a reader (one data source's normaliser) declares about itself, in one table.

Each reader module holds one `ReaderTable` beside its code: the sources and facts it produces,
the event fields it reads (by the fact or event attribute they are read for), and the
operations it recognises. Everything else is derived from these tables: the registry's fact
declarations, the rule schema's check of facts and operations, the endpoint gates' facts, and
the record path's probe. tests/test_reader_tables.py holds each reader to its table: it reads
no field and writes no fact the table does not name.
"""

import re

# Operation kinds a reader accepts beyond its named operations.
ANY_CMDLET = "<any cmdlet>"           # a Verb-Noun name a script or command line calls
ANY_OPERATION = "<any operation>"     # whatever the source writes (audit operations, event ids)
_CMDLET = re.compile(r"^\w+-\w+$")   # \w: the cmdlet scan is case-insensitive, so `ſet-Mailbox` is one
# The sourcetypes of Windows event log records (lower case, as RecordView reads them).
WINDOWS_EVENT_LOG_SOURCETYPES = ("xmlwineventlog", "wineventlog")
# Prefixes a field may carry in `| tstats` and data-model results (Processes.process_path).
DATA_MODEL_PREFIXES = ("Processes.", "Filesystem.", "All_Processes.", "All_Filesystem.")


class ReaderTable:
    """One reader's declaration.

    facts:      {source it produces: the extra.<fact> names it writes for it}
    fields:     {what is read (a fact path such as `extra.process_path`, an event attribute
                such as `actor`, or `recognition`): the event field names it is read from}
    operations: {source: operation names it writes, ANY_CMDLET and/or ANY_OPERATION}
    gated:      {source: the fact paths read before the rest, which the endpoint gates
                (app/normalise/endpoint_gate.py) decide on}: the endpoint reader's and the
                script-block reader's
    prefixed:   whether every field is also read with a DATA_MODEL_PREFIXES prefix
    parameter_fields: whether the reader also reads, as event fields, the cmdlet parameters
                rules name (`param.X`), in their spelling and lower-case
    sourcetype_prefixes: sourcetypes that go to this reader alone, decided on the sourcetype
    windows_event_log: whether the reader reads Windows event log records: an event of a
                Windows event log sourcetype (WINDOWS_EVENT_LOG_SOURCETYPES, the Splunk Add-on for
                Windows' XmlWinEventLog and WinEventLog, with or without `:<channel>`) is offered
                to these readers alone
    """

    __slots__ = ("name", "facts", "fields", "operations", "gated", "prefixed", "parameter_fields",
                 "sourcetype_prefixes", "windows_event_log")

    def __init__(self, name, facts, fields, operations, gated=None, prefixed=False, parameter_fields=False,
                 sourcetype_prefixes=(), windows_event_log=False):
        self.name = name
        self.facts = {source: frozenset(names) for source, names in facts.items()}
        self.fields = {what: tuple(names) for what, names in fields.items()}
        self.operations = {source: tuple(names) for source, names in operations.items()}
        self.gated = {source: tuple(paths) for source, paths in (gated or {}).items()}
        self.prefixed = prefixed
        self.parameter_fields = parameter_fields
        self.sourcetype_prefixes = tuple(sourcetype_prefixes)
        self.windows_event_log = windows_event_log
        unknown = set(self.operations) - set(self.facts)
        if unknown:
            raise ValueError("reader %s: operations for sources it does not produce: %s" % (name, sorted(unknown)))

    def field_names(self):
        """Every event field name the reader may read (prefixed forms included)."""
        names = {name for names in self.fields.values() for name in names}
        if self.prefixed:
            names |= {prefix + name for name in names for prefix in DATA_MODEL_PREFIXES}
        return frozenset(names)

    def reads(self, name, parameter_names=()):
        """Whether `name` is a field this table says the reader reads; `parameter_names` are the
        cmdlet parameter names the rules name (NormaliseContext.parameter_fields)."""
        if name in self.field_names():
            return True
        if self.parameter_fields:
            lowered = {parameter.lower() for parameter in parameter_names}
            return name.lower() in lowered
        return False

    def writes_operation(self, source, operation):
        """Whether the reader may write `operation` (any case) on events of `source`."""
        lowered = operation.lower()
        for name in self.operations.get(source, ()):
            if name == ANY_OPERATION:
                return True
            if name == ANY_CMDLET:
                if _CMDLET.match(operation):
                    return True
            elif name.lower() == lowered:
                return True
        return False

    def named_operations(self, source):
        """The operation names the table gives for `source` (not the open kinds)."""
        return frozenset(name for name in self.operations.get(source, ()) if name not in (ANY_CMDLET, ANY_OPERATION))
