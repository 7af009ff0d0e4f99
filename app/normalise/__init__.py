"""The normalisers, one per data source, and the registry that chooses one for a Splunk event.

Each `Normaliser` declares the `MailEvent.source` names it produces, the `extra.<fact>` names
it writes for each, how it recognises an event and how it reads one. `REGISTRY` tries them in
its stated order, first match wins; the rule schema (app/rule_schema.py) checks every rule
against these declarations, so a rule cannot name a source or a fact no normaliser makes.

Each source is recognised by sourcetype first and by its tell-tale fields second, so renamed
sourcetypes and `| tstats`/data-model results still reach the right normaliser.
"""

from ..conditions import condition_paths
from ..values import as_text
from . import (defender_xdr, entra, graph_activity, message_tracking, o365, powershell_module_log, windows_endpoint,
               windows_logon, windows_text)
from .defender_xdr import looks_like_defender, normalise_defender
from .entra import looks_like_entra, normalise_entra
from .graph_activity import looks_like_graph_activity, normalise_graph_activity
from .cmdlet_text import cmdlet_pattern
from .endpoint_gate import endpoint_gate
from .message_tracking import looks_like_message_tracking, normalise_message_tracking
from .o365 import PROBE_FIELDS, is_o365_sourcetype, looks_like_o365, normalise_o365, operation_of  # noqa: F401
from .powershell_module_log import looks_like_powershell_module_log, normalise_powershell_module_log
from .reader_table import ANY_CMDLET, WINDOWS_EVENT_LOG_SOURCETYPES
from .windows_classic import looks_like_classic, with_classic_fields
from .windows_endpoint import looks_like_windows_endpoint, normalise_windows_endpoint
from .windows_logon import looks_like_windows_logon, normalise_windows_logon
from .windows_text import (looks_like_exchange_cmdlet_log, looks_like_powershell, normalise_exchange_cmdlet_log,
                           normalise_powershell)


class NormaliseContext:
    """What normalisers need from the loaded rule set, built once per process (for_rules):
    which operations and cmdlets some rule reads, and what lets a reader skip work no rule
    needs (the fact paths rule conditions read, the endpoint gates)."""

    def __init__(self, wanted_operations, cmdlet_pattern, parameter_fields, problems, paths_by_operation=None,
                 paths_of_any_operation=frozenset()):
        self.wanted_operations = wanted_operations   # lower-case operations some rule indexes on
        self.cmdlet_pattern = cmdlet_pattern         # regex of cmdlet names rules ask for
        self.parameter_fields = parameter_fields     # {lower-case parameter: spelling in rules}
        self.problems = problems
        # {lower-case operation: field paths the match conditions of its candidate rules read},
        # or None (every fact is computed at once: what a caller without the engine gets).
        self.paths_by_operation = paths_by_operation
        self.paths_of_any_operation = paths_of_any_operation
        # {endpoint operation: facts -> whether a rule may fire on an event of it with these
        # text facts} (app/normalise/endpoint_gate.py), set by the engine; an operation without one is
        # read whole.
        self.endpoint_gates = {}

    @classmethod
    def for_rules(cls, rules, problems):
        """The context of a rule set (app/rules.py's compiled rules)."""
        from ..rules import rules_by_operation   # app.rules imports this package (its schema reads REGISTRY)
        by_operation, any_operation = rules_by_operation(rules)
        parameter_fields = {}
        for rule in rules:
            parameter_fields.update(rule.parameter_names)
        cmdlets = [operation for operation in by_operation if "-" in operation]
        wanted = frozenset(by_operation) if not any_operation else _AnyOperation()
        any_paths = frozenset().union(*(condition_paths(rule.match_spec) for rule in any_operation))
        paths = {operation: frozenset().union(any_paths, *(condition_paths(rule.match_spec) for rule in indexed))
                 for operation, indexed in by_operation.items()}
        context = cls(wanted, cmdlet_pattern(cmdlets), parameter_fields, problems, paths, any_paths)
        context.endpoint_gates = _endpoint_gates(by_operation, any_operation, cmdlets)
        return context

    def match_paths(self, operation):
        """The field paths rule conditions may read on an event of `operation` before a finding
        is made of it (the normaliser may leave the others to MailEvent.complete()); None: all."""
        if self.paths_by_operation is None:
            return None
        return self.paths_by_operation.get(operation.lower(), self.paths_of_any_operation)

    def wants(self, operation):
        """Whether some rule can match `operation`: every normaliser's early exit, so events of
        operations no rule reads (most audit and logon traffic) cost no MailEvent."""
        return bool(operation) and operation.lower() in self.wanted_operations


class _AnyOperation:
    """Stands in for the wanted-operation set when some rule accepts every operation."""

    def __contains__(self, item):
        return True


def _endpoint_gates(by_operation, any_operation, cmdlets):
    """{endpoint operation: its gate} (app/normalise/endpoint_gate.py): the rules an event of the
    operation is tried against, by the words they need in the facts its reader's table says it
    reads first (ReaderTable.gated: the endpoint reader's process and file events, the
    script-block reader's text). A source whose events may call cmdlets (a process creation's
    command line, a script block), which a cmdlet name in its facts lets through, has its
    events' cmdlet events go to theirs."""
    gates = {}
    for table in (normaliser.table for normaliser in REGISTRY if normaliser.table.gated):
        for source, fields in table.gated.items():
            operations = table.operations[source]
            names = cmdlets if ANY_CMDLET in operations else ()
            for operation in operations:
                if operation == ANY_CMDLET:
                    continue
                tried = [rule for rule in list(by_operation.get(operation.lower(), ())) + list(any_operation)
                         if rule.sources is None or source in rule.sources]
                gate = endpoint_gate(tried, names, frozenset(fields))
                if gate is not None:
                    gates[operation] = gate
    return gates


class RecordView:
    """The Splunk event as recognisers look at it: its sourcetype, source and EventCode read
    once. A classic WinEventLog event that has only `_raw` gets its `Key: value` fields read
    the first time a recogniser asks for the EventCode; `record` is then that richer record."""

    __slots__ = ("record", "sourcetype", "_source", "_event_code")

    def __init__(self, record):
        self.record = record
        self.sourcetype = as_text(record.get("sourcetype")).lower()
        self._source = self._event_code = None   # read when a recogniser first asks (most never do)

    @property
    def source(self):
        if self._source is None:
            self._source = as_text(self.record.get("source")).lower()
        return self._source

    @property
    def raw_head(self):
        """The first character of `_raw` ('' when it has none). Recognisers look at `_raw` through
        this first and read it whole only when it opens a JSON object (or when the event has no
        sourcetype or EventCode), so that an XML or text event is not searched whole for a
        JSON reader's marks."""
        return as_text(self.record.get("_raw"))[:1]

    @property
    def event_code(self):
        if self._event_code is None:
            record = self.record
            code = as_text(record.get("EventCode") or record.get("EventID"))
            if not code and record.get("_raw") and looks_like_classic(record, self.sourcetype, self.source):
                self.record = with_classic_fields(record)
                code = as_text(self.record.get("EventCode"))
            self._event_code = code
        return self._event_code


class Normaliser:
    """One data source's reader: its `table` (app/normalise/reader_table.py: the sources and
    facts it produces, the fields it reads, the operations it recognises), `recognises(view)`
    -> bool (each module's looks_like_*, all taking a RecordView), `normalise(view, context)` ->
    [MailEvent]."""

    __slots__ = ("table", "name", "facts", "recognises", "normalise")

    def __init__(self, table, recognises, normalise):
        self.table = table
        self.name = table.name
        self.facts = table.facts
        self.recognises = recognises
        self.normalise = normalise


def _read_o365(view, context):
    operation = operation_of(view.record)
    if not context.wants(operation):
        return []  # cheap exit for the bulk of audit traffic no rule looks at
    return normalise_o365(view.record, operation, context)


# The order is part of the contract (tests/test_normalise_registry.py holds it):
# - o365 first: most of the traffic, and its cheap exit drops audit records no rule reads;
# - message tracking before the Event Hub sources, which it never resembles but is cheap to tell;
# - Defender XDR and Graph activity before Entra: their Event Hub records also carry
#   operationName and category, which is what Entra is recognised by;
# - the Exchange management log before the EventCode-based readers: its events carry EventID 1;
# - logons, then PowerShell module logging (4103) before the script-block reader, which takes
#   any event of a PowerShell sourcetype, then the endpoint reader, which accepts any process or
#   file event.
REGISTRY = (
    Normaliser(o365.READER, looks_like_o365, _read_o365),
    Normaliser(message_tracking.READER, looks_like_message_tracking,
               lambda view, context: normalise_message_tracking(view.record, context)),
    Normaliser(defender_xdr.READER, looks_like_defender,
               lambda view, context: normalise_defender(view.record, context)),
    Normaliser(graph_activity.READER, looks_like_graph_activity,
               lambda view, context: normalise_graph_activity(view.record, context)),
    Normaliser(entra.READER, looks_like_entra,
               lambda view, context: normalise_entra(view.record, context)),
    Normaliser(windows_text.EXCHANGE_CMDLET_LOG_READER, looks_like_exchange_cmdlet_log,
               lambda view, context: normalise_exchange_cmdlet_log(view.record, context)),
    Normaliser(windows_logon.READER, looks_like_windows_logon,
               lambda view, context: normalise_windows_logon(view.record, view.event_code, context)),
    Normaliser(powershell_module_log.READER, looks_like_powershell_module_log,
               lambda view, context: normalise_powershell_module_log(view.record, context)),
    Normaliser(windows_text.POWERSHELL_READER, looks_like_powershell,
               lambda view, context: normalise_powershell(view.record, context)),
    Normaliser(windows_endpoint.READER, looks_like_windows_endpoint,
               lambda view, context: normalise_windows_endpoint(view.record, context)),
)


def declared_facts(registry=REGISTRY):
    """{source name: frozenset of the extra.<fact> names some reader's table says it writes}."""
    facts = {}
    for normaliser in registry:
        for source, names in normaliser.facts.items():
            facts[source] = facts.get(source, frozenset()) | names
    return facts


def no_rule_wants(sourcetype, operation, context):
    """True when an event whose PROBE_FIELDS (its sourcetype and Operation) have these plain
    values can have no finding, decided before its record is built: an o365 sourcetype goes to
    the o365 reader (first in the registry), whose first step is the same `wants(operation)`
    exit. `operation` is the Operation cell as sent; an empty one is read from `_raw` by the
    reader, so never skipped."""
    operation = as_text(operation)
    return (bool(operation) and is_o365_sourcetype(as_text(sourcetype))
            and not context.wants(operation))


_DISPATCH = tuple((normaliser.recognises, normaliser.normalise) for normaliser in REGISTRY)
# An event of a Windows event log sourcetype is offered to the readers of Windows event logs
# alone (ReaderTable.windows_event_log), in the same order: most of an endpoint search's events,
# which the cloud readers before them would each look at in vain.
_WINDOWS_DISPATCH = tuple((normaliser.recognises, normaliser.normalise) for normaliser in REGISTRY
                          if normaliser.table.windows_event_log)


def normalise(record, context):
    """The MailEvents one Splunk event holds (usually one, several for a script with many cmdlets)."""
    view = RecordView(record)
    dispatch = _WINDOWS_DISPATCH if view.sourcetype.startswith(WINDOWS_EVENT_LOG_SOURCETYPES) else _DISPATCH
    for recognises, read in dispatch:
        if recognises(view):
            return read(view, context)
    return []
