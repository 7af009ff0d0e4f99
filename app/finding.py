"""A rule's verdict on one event, and the fields the command writes for it.

One event can hold several findings (a script block with three cmdlets, an audit record two
rules match). `t1114_findings` lists them all, one JSON object each, so nothing is paired up
by position; the other t1114 fields summarise the event for the search bar. With
`expand=true` the command writes one row per finding instead (expanded_fields).
"""

import json
import time

from .rules import severity_rank

# A finding's status, and the order the event summary picks its status in: an event with
# any alerting finding is a `finding` event. Scheduled searches alert on `finding` only.
STATUS_FINDING = "finding"
STATUS_REPORT_ONLY = "report_only"
STATUS_SUPPRESSED = "suppressed"
STATUS_ORDER = (STATUS_FINDING, STATUS_REPORT_ONLY, STATUS_SUPPRESSED)

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
    "t1114_findings",               # JSON array, one object per finding
)
# CIM fields filled from the finding when the event does not already carry them.
CIM_FIELDS = ("user", "src", "dest", "object", "action", "app")
OUTPUT_FIELDS = FINDING_FIELDS + CIM_FIELDS
# CIM fields a finding always sets, empty included, over the event's own value. `app` is the
# risk object of an application: an add-on's `app` on the event (a workload, a client name)
# would make every finding of every user add up on one "application".
FINDING_DECIDES = frozenset(("app",))
# Office 365 UserType values of an application acting with no user (5 Application, 6
# ServicePrincipal; Defender's CloudAppEvents spell them out).
_APPLICATION_USER_TYPES = frozenset(("5", "6", "application", "serviceprincipal"))


class Finding:
    __slots__ = ("rule", "event", "severity", "risk_score", "reason", "destinations", "external",
                 "techniques", "suppressed_by", "suppressing_row", "report_only")

    def __init__(self, rule, event, severity, risk_score, reason, destinations, external, techniques=None):
        self.rule = rule
        self.event = event
        self.severity = severity
        self.risk_score = risk_score
        self.reason = reason
        self.destinations = destinations
        self.external = external
        # Every ATT&CK id this finding is: the rule's sub-technique first, then the others
        # (T1098.002 for a mailbox grant, T1564.008 when an inbox rule also hides mail).
        self.techniques = tuple(techniques) if techniques else (rule.technique,)
        self.suppressing_row = None     # the AllowlistRow that suppressed it, set by suppress()
        self.suppressed_by = ""         # that row as the search bar shows it
        self.report_only = False        # the site put the rule in report-only state (local/t1114.conf)

    def suppress(self, row):
        self.suppressing_row = row
        self.suppressed_by = row.describe()

    @property
    def status(self):
        if self.suppressing_row is not None:
            return STATUS_SUPPRESSED
        # Report-only findings are shown, never alerted on (the saved searches alert on "finding").
        return STATUS_REPORT_ONLY if self.report_only else STATUS_FINDING

    @property
    def returned_by_default(self):
        """mode=findings returns what an allowlist did not suppress."""
        return self.status != STATUS_SUPPRESSED

    def cim(self):
        event = self.event
        return {"user": event.actor, "src": event.src, "dest": event.dest, "object": event.mailbox,
                "action": self.rule.action, "app": application_id(event)}

    def as_dict(self):
        """The finding as one object of `t1114_findings`."""
        cim = self.cim()
        external = set(self.external)
        return {
            "rule": self.rule.id,
            "mitre_technique_id": self.rule.technique,
            "mitre_attack": list(self.techniques),
            "severity": self.severity,
            "risk_score": self.risk_score,
            "status": self.status,
            "reason": self.reason,
            "actor": cim["user"],
            "mailbox": cim["object"],
            "src": cim["src"],
            "dest": cim["dest"],
            "action": cim["action"],
            "app": cim["app"],
            "app_name": application_name(self.event) if cim["app"] else "",
            "destinations": [{"address": d, "external": d in external} for d in self.destinations],
            "suppressed_by": _row_object(self.suppressing_row, self.suppressed_by),
        }


def application_id(event):
    """The application a finding is about, by its id in lower case, or "": an application
    acting with no user (an app-only token: Office 365 UserType 5 or 6, a Graph request that
    names no user), or the application a directory change gave permissions to (Entra audit
    and Office 365 directory records, whose calling_app_id is the change's target). A client a
    person signed in with (Outlook, a browser) gives "": the person is the actor, and one mail
    client used by everyone must not add up as one actor. The id is calling_app_id, which the
    applications allowlist matches too, so one application is one identity everywhere."""
    extra = event.extra
    app_id = extra.get("calling_app_id") or event.app_id
    if not app_id:
        return ""
    if (extra.get("app_only") == "true" or event.user_type.lower() in _APPLICATION_USER_TYPES
            or "added_values" in extra):
        return app_id.lower()
    return ""


def application_name(event):
    """The application's display name when the event names the application itself (Entra's
    appDisplayName). A directory change's target display name is not used: for an app role
    assignment it is the resource (Office 365 Exchange Online), not the application granted."""
    return event.extra.get("app_display_name", "")


def _row_object(row, described):
    """The suppressing lookup row as an object, so columns can be added to it later."""
    if row is None:
        return None
    found = {"lookup": row.filename, "line": row.line, "row": row.text, "reason": row.reason,
             "row_id": row.row_id or None, "class": row.row_class or None}
    if row.valid_until is not None:
        found["valid_until"] = time.strftime("%Y-%m-%d", time.gmtime(row.valid_until))
    found["description"] = described
    return found


# json.dumps(..., ensure_ascii=False, separators=(",", ":")) without a new encoder per call.
_FINDINGS_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def findings_json(findings):
    return _FINDINGS_ENCODER.encode([f.as_dict() for f in findings])


def _one_or_many(values):
    unique = list(dict.fromkeys(v for v in values if v))
    if not unique:
        return ""
    return unique[0] if len(unique) == 1 else unique


def summary_status(findings):
    present = {f.status for f in findings}
    for status in STATUS_ORDER:
        if status in present:
            return status
    return ""


def output_fields(findings, record):
    """The OUTPUT_FIELDS values for a record, given its findings: the event summary.

    Status, sub-technique, rule, severity (the worst), risk score (the highest), reason and
    destinations describe the findings of the event's status (its unsuppressed findings when
    it has any, else its suppressed ones); t1114_suppressed_* list the suppressed ones;
    t1114_findings holds every finding whole."""
    if len(findings) == 1:
        return _one_finding_fields(findings[0], record)
    return summary_fields(findings, record)


def _one(value):
    """_one_or_many((value,)) for one text value."""
    if type(value) is str:
        return value
    return _one_or_many((value,))


def _one_finding_fields(finding, record):
    """summary_fields([finding], record), the usual case, without the grouping."""
    status = finding.status
    rule = finding.rule
    suppressed = status == STATUS_SUPPRESSED
    fields = {
        "t1114_status": status,
        "mitre_technique_id": _writable(_one(rule.technique)),
        "t1114_rule": _writable(_one(rule.id)),
        "t1114_severity": _writable(finding.severity),
        "risk_score": str(finding.risk_score),
        "t1114_reason": _writable(_one(finding.reason)),
        "t1114_destination": _writable(_one_or_many(finding.destinations)),
        "t1114_external_destination": _writable(_one_or_many(finding.external)),
        "t1114_suppressed_rule": _writable(_one(rule.id)) if suppressed else "",
        "t1114_suppressed_by": _writable(_one(finding.suppressed_by)) if suppressed else "",
        "t1114_findings": _writable(findings_json((finding,))),
    }
    for name, value in finding.cim().items():
        existing = record.get(name)
        if existing in (None, "", []) or name in FINDING_DECIDES:
            fields[name] = _writable(_one(value))
        else:
            fields[name] = existing
    return fields


def summary_fields(findings, record):
    """output_fields for any number of findings."""
    fields = dict.fromkeys(FINDING_FIELDS, "")
    if not findings:
        for name in CIM_FIELDS:
            existing = record.get(name)
            fields[name] = existing if existing not in (None, "", []) else ""
        return fields
    status = summary_status(findings)
    group = [f for f in findings if f.status == status]
    worst = max(group, key=lambda f: (severity_rank(f.severity), f.risk_score))
    suppressed = [f for f in findings if f.status == STATUS_SUPPRESSED]
    fields.update({
        "t1114_status": status,
        "mitre_technique_id": _one_or_many(sorted(f.rule.technique for f in group)),
        "t1114_rule": _one_or_many(f.rule.id for f in group),
        "t1114_severity": worst.severity,
        "risk_score": str(max(f.risk_score for f in group)),
        "t1114_reason": _one_or_many(f.reason for f in group),
        "t1114_destination": _one_or_many(d for f in group for d in f.destinations),
        "t1114_external_destination": _one_or_many(d for f in group for d in f.external),
        "t1114_suppressed_rule": _one_or_many(f.rule.id for f in suppressed),
        "t1114_suppressed_by": _one_or_many(f.suppressed_by for f in suppressed),
        "t1114_findings": findings_json(findings),
    })
    for name in FINDING_FIELDS:
        fields[name] = _writable(fields[name])
    cims = [f.cim() for f in group]
    for name in CIM_FIELDS:
        existing = record.get(name)
        if existing not in (None, "", []) and name not in FINDING_DECIDES:
            fields[name] = existing
        else:
            fields[name] = _writable(_one_or_many(c[name] for c in cims))
    return fields


def expanded_fields(finding, record):
    """The OUTPUT_FIELDS values for one row of `expand=true`: this finding alone. CIM fields
    are the finding's (its own mailbox in `object`); the event's value stays where the
    finding has none."""
    suppressed = finding.status == STATUS_SUPPRESSED
    fields = {
        "t1114_status": finding.status,
        "mitre_technique_id": finding.rule.technique,
        "t1114_rule": finding.rule.id,
        "t1114_severity": finding.severity,
        "risk_score": str(finding.risk_score),
        "t1114_reason": finding.reason,
        "t1114_destination": _one_or_many(finding.destinations),
        "t1114_external_destination": _one_or_many(finding.external),
        "t1114_suppressed_rule": finding.rule.id if suppressed else "",
        "t1114_suppressed_by": finding.suppressed_by if suppressed else "",
        "t1114_findings": findings_json([finding]),
    }
    for name, value in finding.cim().items():
        if value or name in FINDING_DECIDES:
            fields[name] = value
        else:
            existing = record.get(name)
            fields[name] = existing if existing not in (None, "", []) else ""
    return {name: _writable(value) for name, value in fields.items()}


def _writable(value):
    """Text splunklib can write as UTF-8. A JSON `_raw` may hold escapes such as "\\udce9" that
    decode to lone surrogates; one in an output field made the write fail and ended the search."""
    if isinstance(value, str):
        if value.isascii():
            return value
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, list):
        return [_writable(item) for item in value]
    return value
