"""The detection engine: Splunk event in, annotated event out.

normalise -> candidate rules (indexed by operation) -> findings -> allowlists -> output fields.
Built once per process from the app's rules and lookups; keeps no state between events.
"""

import difflib
import os
import time

from .allowlist import ORG_DOMAINS_FILE, AllowlistIndex, ProcessIdentities, check_rule_references, switch_off_shipped
from .finding import Finding, output_fields
from .normalise import NormaliseContext, no_rule_wants, normalise
from .problems import ProblemLog
from .rule_index import RuleIndex
from .rules import compile_rules, read_rule_documents, severity_rank
from .site_data import load_site_data
from .values import as_text, domain_of, split_addresses


def app_paths(app_root):
    return os.path.join(app_root, "app", "rules"), os.path.join(app_root, "lookups")


class Engine:
    def __init__(self, rules, allowlist_rows, org_domains, problems, rule_controls=None):
        self.rules = rules
        self.rule_controls = rule_controls or {}   # {rule id: settings.RuleControl} from t1114.conf
        self.allowlist_rows = allowlist_rows
        self.org_domains = org_domains
        self.problems = problems
        self.process_identities = ProcessIdentities(allowlist_rows)
        self._allowlist_index = AllowlistIndex(allowlist_rows)
        self.rule_index = RuleIndex(rules)
        self._by_operation = self.rule_index.by_operation   # read by tools/fuzz.py and tests
        self.context = NormaliseContext.for_rules(rules, problems)

    @classmethod
    def load(cls, app_root, problems=None):
        problems = problems or ProblemLog()
        rules_dir, _ = app_paths(app_root)
        try:
            documents = read_rule_documents(rules_dir)
        except (OSError, ValueError) as error:
            problems.report("rules_unreadable", "The detection rules could not be read (%s); no rule is on." % error)
            documents = []
        site = load_site_data(app_root, problems)
        config = site.config
        rules = compile_rules(documents, problems, config.thresholds)
        _report_unused_thresholds(config.thresholds, rules, problems)
        rule_ids = {rule.id for rule in rules}
        controls = config.rule_controls(rule_ids, problems)
        rules = [rule for rule in rules if rule.id not in controls or controls[rule.id].state != "off"]
        rows = switch_off_shipped(site.allowlist_rows, config.disabled_shipped_rows, problems,
                                  config.enabled_shipped_rows)
        check_rule_references(rows, rule_ids, problems)
        domains = site.org_domains
        if not len(domains):
            problems.report(
                "org_domains_empty",
                "t1114_org_domains lists no domains yet: a destination counts as internal only when it shares the "
                "acting account's or the organisation's own domain. Add your mail domains to lookups/%s "
                "(| outputlookup t1114_org_domains)." % ORG_DOMAINS_FILE)
        return cls(rules, rows, domains, problems, controls)

    def candidate_rules(self, event):
        return self.rule_index.candidates(event.operation)

    def _candidate_decisions(self, event):
        """candidate_rules(event) as (rule, its match for this operation) pairs (app/rule_index.py)."""
        return self.rule_index.decisions(event.operation)

    def no_rule_wants(self, sourcetype, operation):
        """True when an event whose sourcetype and Operation fields are these plain strings
        has no finding whatever its other fields: the record path then builds no record for
        it (most of a tenant's audit traffic). False means only "build it and see"."""
        return no_rule_wants(sourcetype, operation, self.context)

    def detect(self, record, use_allowlist=True):
        """Findings for one Splunk event (empty for most), each marked if an allowlist row suppresses it."""
        findings = []
        events = normalise(record, self.context)
        when = _event_time(record) if events else None
        for event in events:
            event.time = when
            for rule, matches in self._candidate_decisions(event):
                if rule.sources is not None and event.source not in rule.sources:
                    continue
                if matches(event):
                    findings.append(self._finding(rule, event))
        if use_allowlist and findings and self.allowlist_rows:
            for finding in findings:
                row = self._suppressor(finding)
                if row is not None:
                    finding.suppress(row)
        return findings

    def findings(self, record, use_allowlist=True):
        """detect() that never raises: a failure on one event is reported once and the event
        has no findings (the command's record path writes the output fields itself)."""
        try:
            return self.detect(record, use_allowlist)
        except Exception as error:  # one bad event must not end the user's search
            self.problems.report("internal:%s" % type(error).__name__,
                                 "An event could not be checked (%s: %s); it was passed through unannotated."
                                 % (type(error).__name__, as_text(str(error))[:300]))
            return []

    def annotate(self, record, use_allowlist=True):
        """Write the output fields onto `record`; True when it carries an unsuppressed finding.

        Never raises: a failure on one event is reported once and the event passes through.
        """
        findings = self.findings(record, use_allowlist)
        record.update(output_fields(findings, record))
        return any(f.returned_by_default for f in findings)

    @staticmethod
    def annotate_empty(record):
        """Write the output fields of an event without findings onto `record`."""
        record.update(output_fields((), record))

    def _finding(self, rule, event):
        event.complete()   # what follows may read any fact, not only those the conditions read
        destinations = {}  # ordered set: thousands of addresses must not cost their square
        for path in rule.destination_fields:
            for address in split_addresses(event.value(path)):
                destinations[address] = None
        destinations = list(destinations)
        external = [d for d in destinations if self._is_external(d, event)]
        # Escalations may test this like any other fact of the event.
        event.extra["external_destination"] = "true" if external else ""
        if event.extra.get("process_name"):
            # From the processes lookup: the name is an allowlisted reader's, the path is not.
            event.extra["allowlisted_name_elsewhere"] = "true" if self.process_identities.name_elsewhere(
                event.extra["process_name"], event.extra.get("process_path", "")) else ""
        severity, risk = rule.severity, rule.risk_score
        notes = []
        techniques = [rule.technique]
        techniques.extend(rule.also_techniques)
        for escalation in rule.escalations:
            if escalation.condition(event):
                if severity_rank(escalation.severity) > severity_rank(severity):
                    severity = escalation.severity
                risk = max(risk, escalation.risk_score)
                if escalation.note:
                    notes.append(escalation.note)
                techniques.extend(escalation.also_techniques)
        reason = rule.render_reason(event, destinations, external)
        if notes:
            reason = "%s (%s)" % (reason, "; ".join(notes))
        finding = Finding(rule, event, severity, risk, reason, tuple(destinations), tuple(external),
                          tuple(dict.fromkeys(techniques)))
        control = self.rule_controls.get(rule.id)
        if control is not None:
            # The site's word is final: an override replaces what the rule and its escalations say.
            finding.severity = control.severity or finding.severity
            finding.risk_score = finding.risk_score if control.risk_score is None else control.risk_score
            finding.report_only = control.state == "report_only"
        return finding

    def _is_external(self, address, event):
        domain = domain_of(address)
        if not domain:
            return False  # a recipient name without a domain resolves inside Exchange
        if self.org_domains.contains(domain):
            return False
        own = {domain_of(event.actor), domain_of(event.mailbox), event.organization.lower()}
        own.discard("")
        return not any(domain == d or domain.endswith("." + d) for d in own)

    def _suppressor(self, finding):
        when = finding.event.time if finding.event.time is not None else time.time()
        return self._allowlist_index.first_applying(finding.rule.id, finding.event, when)


def _report_unused_thresholds(thresholds, rules, problems):
    """A threshold no rule reads is most likely a misspelt one: say so, with the closest name."""
    used = set().union(*(rule.settings for rule in rules))
    for name in sorted(set(thresholds) - used):
        close = difflib.get_close_matches(name, sorted(used), n=1, cutoff=0.6)
        problems.report("settings_threshold_unknown:" + name,
                        "t1114.conf [thresholds]: no rule reads %s%s; it has no effect."
                        % (name, " (did you mean %s?)" % close[0] if close else ""))


def _event_time(record):
    try:
        return float(as_text(record.get("_time")))
    except ValueError:
        return None
