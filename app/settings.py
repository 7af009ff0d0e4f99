"""The site's settings: thresholds rules refer to by name, per-rule control and shipped allowlist
rows switched off. Read once per process from default/t1114.conf with local/t1114.conf overriding
it key by key, the way Splunk layers .conf files (README/t1114.conf.spec documents every setting),
then from the site's lookup t1114_overrides, which a Splunk Cloud admin edits from inside Splunk
(| outputlookup or the Lookup Editor) and which wins where both set the same thing. A setting the
command does not know is a warning, never an error: the rest still applies."""

import difflib
import os

from .allowlist import OVERRIDES, OVERRIDES_FILE, lookup_cell, read_lookup_csv, report_unsigned
from .conf_files import CONF_ERRORS, error_text, read_conf
from .rules import SEVERITIES

SETTINGS_FILE = "t1114.conf"
SETTINGS_SECTION = "thresholds"
ALLOWLIST_SECTION = "allowlist"
RULE_PREFIX = "rule:"
RULE_STATES = ("on", "report_only", "off")
RULE_KEYS = ("state", "severity", "risk_score")
ALLOWLIST_KEYS = ("disabled_shipped_rows",)
# The site's overrides lookup: one row per rule or shipped allowlist row it changes.
OVERRIDE_TARGET_TYPES = ("rule", "shipped_row")
OVERRIDE_COLUMNS = ("target_type", "target", "state", "severity", "risk_score", "reason", "added_by", "added_at")


class RuleControl:
    """What a site set for one rule: state (on, report_only, off), severity and risk score overrides."""
    __slots__ = ("state", "severity", "risk_score")

    def __init__(self, state="on", severity=None, risk_score=None):
        self.state = state
        self.severity = severity
        self.risk_score = risk_score


class SiteConfig:
    def __init__(self):
        self.thresholds = {}          # {lower-case name: value text}
        self.rules = {}               # {rule id: {key: (value, "local/t1114.conf")}}
        self.disabled_shipped_rows = []  # [(row id, where it was set)]
        self.enabled_shipped_rows = []   # [(row id, where)]: switched back on by an override row

    def rule_controls(self, rule_ids, problems):
        """{rule id: RuleControl} for the rules a site configured; a stanza naming a rule that
        does not exist, or a value the command cannot use, is reported and left out."""
        controls = {}
        for rule_id, values in sorted(self.rules.items()):
            if rule_id not in rule_ids:
                close = difflib.get_close_matches(rule_id, sorted(rule_ids), n=1, cutoff=0.6)
                problems.report("settings_rule_unknown:" + rule_id,
                                "%s [rule:%s]: there is no rule %s%s; its settings do not apply."
                                % (_where(values), rule_id, rule_id,
                                   " (did you mean %s?)" % close[0] if close else ""))
                continue
            control = RuleControl()
            state, where = values.get("state", ("on", ""))
            if state.lower() in RULE_STATES:
                control.state = state.lower()
            else:
                problems.report("settings_rule_value:%s:state" % rule_id,
                                "%s [rule:%s] state = %r: use on, report_only or off; the rule stays on."
                                % (where, rule_id, state))
            if "severity" in values:
                severity, where = values["severity"]
                if severity.lower() in SEVERITIES:
                    control.severity = severity.lower()
                else:
                    problems.report("settings_rule_value:%s:severity" % rule_id,
                                    "%s [rule:%s] severity = %r: use one of %s; the rule's own severity applies."
                                    % (where, rule_id, severity, ", ".join(SEVERITIES)))
            if "risk_score" in values:
                risk, where = values["risk_score"]
                if risk.isdigit() and 0 <= int(risk) <= 100:
                    control.risk_score = int(risk)
                else:
                    problems.report("settings_rule_value:%s:risk_score" % rule_id,
                                    "%s [rule:%s] risk_score = %r: use a whole number from 0 to 100; the rule's "
                                    "own risk score applies." % (where, rule_id, risk))
            controls[rule_id] = control
        return controls


def _where(values):
    layers = sorted({where for _, where in values.values()})
    return " and ".join(layers) or "t1114.conf"


def load_settings(app_root, problems):
    """{lower-case name: value text} from the [thresholds] stanza of default/ then local/."""
    return load_site_config(app_root, problems).thresholds


def load_site_config(app_root, problems, lookup_files=None):
    """Every stanza of default/t1114.conf then local/t1114.conf, then the rows of the overrides
    lookup when `lookup_files` (app/lookup_files.py) is given; unknown stanzas, keys and values
    are reported (with the closest known name) and ignored."""
    config = SiteConfig()
    disabled = {}
    for layer in ("default", "local"):
        path = os.path.join(app_root, layer, SETTINGS_FILE)
        where = "%s/%s" % (layer, SETTINGS_FILE)
        if not os.path.exists(path):
            if layer == "default":
                problems.report("settings_missing",
                                "default/%s is missing; rules that use a threshold from it are off." % SETTINGS_FILE)
            continue
        try:
            parser = read_conf(path)  # keys keep their case; compared lower-case below
        except CONF_ERRORS as error:
            problems.report("settings_unreadable:" + layer,
                            "%s could not be read (%s); its settings do not apply." % (where, error_text(error)))
            continue
        for section in parser.sections():
            items = [(name.strip().lower(), value.strip()) for name, value in parser.items(section)]
            if section == SETTINGS_SECTION:
                for name, value in items:
                    config.thresholds[name] = value
            elif section.lower().startswith(RULE_PREFIX):
                rule_id = section[len(RULE_PREFIX):].strip().lower()
                values = config.rules.setdefault(rule_id, {})
                for name, value in items:
                    if name in RULE_KEYS:
                        values[name] = (value, where)
                    else:
                        _unknown_key(problems, where, section, name, RULE_KEYS)
            elif section == ALLOWLIST_SECTION:
                for name, value in items:
                    if name not in ALLOWLIST_KEYS:
                        _unknown_key(problems, where, section, name, ALLOWLIST_KEYS)
                        continue
                    # local/ replaces default/'s list, as Splunk's layering does for a key.
                    disabled = {}
                    for row_id in (item.strip().lower() for item in value.replace(";", ",").split(",")):
                        if not row_id:
                            continue
                        if row_id in disabled:
                            problems.report("settings_row_twice:" + row_id,
                                            "%s [allowlist] disabled_shipped_rows lists %s twice; once is enough."
                                            % (where, row_id))
                            continue
                        disabled[row_id] = where
            else:
                known = [SETTINGS_SECTION, ALLOWLIST_SECTION, RULE_PREFIX + "<rule id>"]
                close = difflib.get_close_matches(section.lower(), [SETTINGS_SECTION, ALLOWLIST_SECTION], n=1)
                if not close and section.lower().startswith("rule"):
                    close = [RULE_PREFIX + "<rule id>"]
                problems.report("settings_stanza:%s:%s" % (layer, section),
                                "%s: stanza [%s] is not one the t1114 command reads (%s)%s; it was ignored."
                                % (where, section, ", ".join("[%s]" % k for k in known),
                                   "; did you mean [%s]?" % close[0] if close else ""))
    if lookup_files is not None:
        _apply_overrides(config, lookup_files, disabled, problems)
    config.disabled_shipped_rows = list(disabled.items())
    return config


def _apply_overrides(config, lookup_files, disabled, problems):
    """The rows of t1114_overrides over what t1114.conf set: per rule its state, severity and
    risk score, per shipped allowlist row on or off. A later row for the same target wins."""
    filename = lookup_files.filename(OVERRIDES, OVERRIDES_FILE)
    header, rows = read_lookup_csv(os.path.join(lookup_files.lookups_dir, filename), problems, missing_ok=True)
    if header is None:
        return
    missing = [column for column in ("target_type", "target") if column not in header]
    if missing:
        problems.report("lookup_header:" + filename,
                        "lookups/%s lacks the column(s) %s (expected %s); no override applies."
                        % (filename, ", ".join(missing), ",".join(OVERRIDE_COLUMNS)))
        return
    unsigned = []
    enabled = {}
    for line, row in rows:
        cell = {column: lookup_cell(row, column) for column in OVERRIDE_COLUMNS}
        where = "lookups/%s line %d" % (filename, line)
        target_type, target = cell["target_type"].lower(), cell["target"].lower()
        if target_type not in OVERRIDE_TARGET_TYPES:
            close = difflib.get_close_matches(target_type, OVERRIDE_TARGET_TYPES, n=1, cutoff=0.5)
            problems.report("override_type:%s:%d" % (filename, line),
                            "%s: target_type %r is not rule or shipped_row%s; the row was skipped."
                            % (where, cell["target_type"], " (did you mean %s?)" % close[0] if close else ""))
            continue
        if not target:
            problems.report("override_target:%s:%d" % (filename, line),
                            "%s: `target` is empty; name the %s it changes. The row was skipped."
                            % (where, "rule id" if target_type == "rule" else "shipped row_id"))
            continue
        if not (cell["added_by"] and cell["added_at"]):
            unsigned.append(line)
        if target_type == "rule":
            values = config.rules.setdefault(target, {})
            for key in RULE_KEYS:
                if cell[key]:
                    values[key] = (cell[key], where)
            if not any(cell[key] for key in RULE_KEYS):
                problems.report("override_empty:%s:%d" % (filename, line),
                                "%s: the row for rule %s sets none of state, severity, risk_score; it changes nothing."
                                % (where, target))
            continue
        for key in ("severity", "risk_score"):
            if cell[key]:
                problems.report("override_row_key:%s:%d:%s" % (filename, line, key),
                                "%s: %s applies to rules, not to shipped row %s; it was ignored." % (where, key, target))
        state = cell["state"].lower()
        if state == "off":
            disabled[target] = where
            enabled.pop(target, None)
        elif state == "on":
            disabled.pop(target, None)
            enabled[target] = where
        else:
            problems.report("override_row_state:%s:%d" % (filename, line),
                            "%s: state %r for shipped row %s: use on or off; the row was skipped."
                            % (where, cell["state"], target))
    config.enabled_shipped_rows = list(enabled.items())
    report_unsigned(problems, "lookups", filename, unsigned)


def _unknown_key(problems, where, section, name, known):
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    problems.report("settings_key:%s:%s:%s" % (where, section, name),
                    "%s [%s]: %s is not a setting of this stanza (%s)%s; it was ignored."
                    % (where, section, name, ", ".join(known), "; did you mean %s?" % close[0] if close else ""))
