"""A rule's verdict on one event, and the fields the command writes for it."""

from .rules import severity_rank

# Every record leaves the command with all of these, so splunklib's chunk header (taken
# from the first record) never drops a field that only a later record sets.
FINDING_FIELDS = (
    "t1114_status",                 # finding | report_only | suppressed | "" (nothing matched)
    "mitre_technique_id",
    "t1114_rule",
    "t1114_severity",
    "risk_score",
    "t1114_reason",
    "t1114_destination",
    "t1114_external_destination",
    "t1114_suppressed_rule",
    "t1114_suppressed_by",
)
# CIM fields filled from the finding when the event does not already carry them.
CIM_FIELDS = ("user", "src", "dest", "object", "action")
OUTPUT_FIELDS = FINDING_FIELDS + CIM_FIELDS


class Finding:
    __slots__ = ("rule", "event", "severity", "risk_score", "reason", "destinations", "external", "suppressed_by",
                 "report_only")

    def __init__(self, rule, event, severity, risk_score, reason, destinations, external):
        self.rule = rule
        self.event = event
        self.severity = severity
        self.risk_score = risk_score
        self.reason = reason
        self.destinations = destinations
        self.external = external
        self.suppressed_by = ""
        self.report_only = False   # the site put the rule in report-only state (local/t1114.conf)


def _one_or_many(values):
    unique = list(dict.fromkeys(v for v in values if v))
    if not unique:
        return ""
    return unique[0] if len(unique) == 1 else unique


def output_fields(findings, record):
    """The FINDING_FIELDS and CIM_FIELDS values for a record, given its findings."""
    active = [f for f in findings if not f.suppressed_by]
    suppressed = [f for f in findings if f.suppressed_by]
    fields = dict.fromkeys(FINDING_FIELDS, "")
    if active:
        # Report-only findings are shown, never alerted on: when the event also has a finding
        # of a rule in force, the fields describe that one.
        alerting = [f for f in active if not f.report_only]
        fields["t1114_status"] = "finding" if alerting else "report_only"
        active = alerting or active
        worst = max(active, key=lambda f: (severity_rank(f.severity), f.risk_score))
        fields["mitre_technique_id"] = _one_or_many(sorted(f.rule.technique for f in active))
        fields["t1114_rule"] = _one_or_many(f.rule.id for f in active)
        fields["t1114_severity"] = worst.severity
        fields["risk_score"] = str(max(f.risk_score for f in active))
        fields["t1114_reason"] = _one_or_many(f.reason for f in active)
        fields["t1114_destination"] = _one_or_many(d for f in active for d in f.destinations)
        fields["t1114_external_destination"] = _one_or_many(d for f in active for d in f.external)
    elif suppressed:
        fields["t1114_status"] = "suppressed"
    if suppressed:
        fields["t1114_suppressed_rule"] = _one_or_many(f.rule.id for f in suppressed)
        fields["t1114_suppressed_by"] = _one_or_many(f.suppressed_by for f in suppressed)
    if active or suppressed:
        for name in FINDING_FIELDS:
            fields[name] = _writable(fields[name])
    lead = (active or suppressed or [None])[0]
    for name in CIM_FIELDS:
        existing = record.get(name)
        if existing not in (None, "", []):
            fields[name] = existing
        elif lead is None:
            fields[name] = ""
        else:
            event = lead.event
            fields[name] = _writable({
                "user": event.actor, "src": event.src, "dest": event.dest,
                "object": event.mailbox, "action": lead.rule.action,
            }[name])
    return fields


def _writable(value):
    """Text splunklib can write as UTF-8. A JSON `_raw` may hold escapes such as "\\udce9" that
    decode to lone surrogates; one in an output field made the write fail and ended the search."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, list):
        return [_writable(item) for item in value]
    return value
