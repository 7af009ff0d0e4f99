"""Detection rules: YAML documents in app/rules/, compiled once into Rule objects.

The build turns the YAML into one JSON file (app/rules/rules.json) so Splunk's Python needs
no YAML library; from a source checkout the YAML is read directly.
"""

import json
import os
import re

from .conditions import RuleError, check_field_path, compile_condition
from .rule_schema import SEVERITIES, check_rule

COMPILED_RULES_FILE = "rules.json"
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_]{2,80}$")
# {field} or {field|other|...}: the first of them with a value.
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.|]*\??)\}")
# A trailing `?` ({extra.folders?}) leaves a missing value out instead of writing "unknown";
# the brackets or spaces it stood in are tidied away.
_EMPTY_BRACKETS = re.compile(r"\s*\(\s*\)|\s*\[\s*\]")
# The same brackets without the spaces before them: any text _EMPTY_BRACKETS matches in holds one.
# Searched first, as the regex engine skips to a bracket at once (the pattern above has to try
# every position of a 300-character reason: ten times slower, and most reasons have none).
_AN_EMPTY_BRACKET = re.compile(r"\(\s*\)|\[\s*\]")
_RUNS_OF_SPACES = re.compile(r"  +")
REASON_SPECIALS = ("destinations", "external_destinations")
_SHOWN_CHARS = 200


def placeholders(template):
    """The {...} texts of a reason template, without their braces."""
    return _PLACEHOLDER.findall(template)


def severity_rank(severity):
    return SEVERITIES.index(severity)


class Escalation:
    __slots__ = ("condition", "severity", "risk_score", "note", "also_techniques")

    def __init__(self, condition, severity, risk_score, note, also_techniques=()):
        self.condition = condition
        self.severity = severity
        self.risk_score = risk_score
        self.note = note
        self.also_techniques = also_techniques   # ATT&CK ids the behaviour also is when this applies


class Rule:
    """One detection, compiled from its YAML document once app/rule_schema.py accepts it."""

    def __init__(self, document, settings=None):
        shape = check_rule(document)   # every key, fact, source and operand type; RuleError names each mistake
        self._settings = settings
        self.id = document["id"].strip()
        where = "rule %s" % self.id
        if not _RULE_ID.match(self.id):
            raise RuleError("%s: `id` must be lower-case letters, digits and underscores" % where)
        self.title = document["title"].strip()
        self.technique = document["technique"]
        # Other ATT&CK techniques the behaviour also is (a mailbox grant is T1098.002 too).
        self.also_techniques = _attack_ids(document.get("also_techniques"))
        self.severity = document["severity"]
        self.risk_score = document["risk_score"]
        self.action = str(document.get("action", ""))
        self.matches = compile_condition(document["match"], where + ".match", settings)
        self.match_spec = document["match"]   # the checked document (app/rule_index.py, app/normalise/endpoint_gate.py)
        self.operations = shape.operations
        self.sources = shape.sources
        self.settings = frozenset(shape.settings)   # t1114.conf thresholds it reads
        self.destination_fields = tuple(
            check_field_path(str(path), where + ".destinations") for path in document.get("destinations", ()) or ())
        self.escalations = tuple(self._escalation(item, "%s.escalate[%d]" % (where, index))
                                 for index, item in enumerate(document.get("escalate", ()) or ()))
        self.reason_template = document["reason"].strip()
        self._placeholder_paths = {
            text: tuple(name if name in REASON_SPECIALS else check_field_path(name, where + ".reason")
                        for name in text.rstrip("?").split("|"))
            for text in _PLACEHOLDER.findall(self.reason_template)}
        self._reason_head, self._reason_fills = _reason_parts(self.reason_template, self._placeholder_paths)
        self.parameter_names = shape.parameter_names

    def compile(self, spec):
        """A condition compiled as this rule's `match` is, with its settings (app/rule_index.py
        compiles the part of `match_spec` its index leaves to test)."""
        return compile_condition(spec, "rule %s.match" % self.id, self._settings)

    def _escalation(self, item, where):
        condition = compile_condition(item["when"], where + ".when", self._settings)
        return Escalation(condition, item.get("severity", self.severity), item.get("risk_score", self.risk_score),
                          str(item.get("note", "")), _attack_ids(item.get("also_techniques")))

    def render_reason(self, event, destinations, external):
        """The reason template with each {placeholder} filled: the first of its fields with a
        value, else "unknown" ("" for a `?` one), then empty brackets and double spaces tidied."""
        text = [self._reason_head]
        for paths, optional, tail in self._reason_fills:
            for path in paths:
                value = _shown(path, event, destinations, external)
                if value:
                    break
            else:
                value = "" if optional else "unknown"
            text.append(value)
            text.append(tail)
        text = "".join(text)
        if _AN_EMPTY_BRACKET.search(text) is not None:
            text = _EMPTY_BRACKETS.sub("", text)
        return _RUNS_OF_SPACES.sub(" ", text).strip()


def rules_by_operation(rules):
    """({lower-case operation: the rules indexed on it, in rule order}, [the rules that accept
    every operation]): the index the engine tries an event's rules by."""
    by_operation, any_operation = {}, []
    for rule in rules:
        if rule.operations is None:
            any_operation.append(rule)
        else:
            for operation in rule.operations:
                by_operation.setdefault(operation, []).append(rule)
    return by_operation, any_operation


def _reason_parts(template, placeholder_paths):
    """A reason template as (its text before the first placeholder, ((field paths, optional,
    text after), ...) per placeholder): split once, when the rule loads."""
    pieces = _PLACEHOLDER.split(template)   # text, placeholder, text, ..., text
    fills = tuple((placeholder_paths[pieces[index]], pieces[index].endswith("?"), pieces[index + 1])
                  for index in range(1, len(pieces), 2))
    return pieces[0], fills


def _shown(path, event, destinations, external):
    """One placeholder field's value as the reason shows it: lists joined, at most 200 characters."""
    if path == "destinations":
        value = destinations
    elif path == "external_destinations":
        value = external
    else:
        value = event.value(path)
    if isinstance(value, (list, tuple)):
        value = ", ".join(value)
    value = str(value).strip()
    return value[:_SHOWN_CHARS] + "..." if len(value) > _SHOWN_CHARS else value


def _attack_ids(value):
    """A checked also_techniques value as a tuple (one id may be written without a list)."""
    if value in (None, ""):
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def read_rule_documents(rules_dir):
    """Rule documents from the compiled JSON when shipped, else from the YAML sources."""
    compiled = os.path.join(rules_dir, COMPILED_RULES_FILE)
    if os.path.exists(compiled):
        with open(compiled, encoding="utf-8") as handle:
            return json.load(handle)
    return read_rule_sources(rules_dir)


def rule_source_files(rules_dir):
    return sorted(os.path.join(rules_dir, name) for name in os.listdir(rules_dir)
                  if name.endswith(".yml") and not name.endswith(".test.yml"))


def read_rule_sources(rules_dir):
    import yaml  # only for source checkouts and the build; Splunk reads rules.json

    documents = []
    for path in rule_source_files(rules_dir):
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
        if isinstance(document, dict):
            document.setdefault("_file", os.path.basename(path))
        documents.append(document)
    return documents


def compile_rules(documents, problems, settings=None):
    """Rules that compile; each one that does not is reported and left out.
    `settings` ({name: value}, app/settings.py) feeds `{setting: name}` operands."""
    rules = []
    seen = set()
    for document in documents:
        try:
            if not isinstance(document, dict):
                raise RuleError("a rule document must be a mapping")
            rule = Rule(document, settings)
            if rule.id in seen:
                raise RuleError("rule %s: the id is used twice" % rule.id)
        except RuleError as error:
            problems.report("rule:%s" % error, "A detection rule could not be loaded and is off: %s." % error)
            continue
        seen.add(rule.id)
        rules.append(rule)
    return rules
