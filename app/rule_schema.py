"""The rule schema: what a rule document may say, checked before it compiles.

A typed model of a rule (in the spirit of contentctl's detection models and pySigma's
SigmaRule), written in plain Python so the same check runs at build time and when Splunk loads
rules.json, with no library Splunk's Python lacks. Every key, fact, source name, operator and
operand type is checked; each mistake is reported with the rule's file, its key path and the
closest valid name. Open vocabularies (cmdlet parameters `param.X`, audit properties `prop.X`,
operations) stay open. What the engine indexes rules by (operations, sources, parameters,
settings) is read here from the checked document, in one walk.
"""

import difflib
import re

from .conditions import FIELD_HEADS, OPERATORS, RuleError
from .normalise import REGISTRY, declared_facts

# Facts the engine adds to every event before escalations are tested (app/engine.py).
ENGINE_FACTS = {"external_destination": None, "allowlisted_name_elsewhere": ("process", "file")}
INBOX_RULE_FACTS = ("actions", "recipients")
OPEN_HEADS = ("param", "prop")          # any cmdlet parameter or audit property name
SOURCE_OPERATORS = ("equals", "in")
_LIST_OPERATORS = ("in", "contains_any", "startswith_any", "endswith_any")
_BOOL_OPERATORS = ("nonempty", "is_true")
_NUMBER_OPERATORS = ("gte", "lte")
_SCALARS = (str, int, float)
_PARAMETER = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


class Key:
    """One key of a mapping in the model: its kind and whether it must be there."""

    __slots__ = ("kind", "required")

    def __init__(self, kind, required=False):
        self.kind = kind
        self.required = required


# kind: text | text_list | risk | severity | technique | attack_ids | condition | field_list | escalations
RULE_KEYS = {
    "id": Key("text", True),
    "title": Key("text", True),
    "technique": Key("technique", True),
    "also_techniques": Key("attack_ids"),
    "severity": Key("severity", True),
    "risk_score": Key("risk", True),
    "action": Key("text"),
    "description": Key("text", True),
    "data_sources": Key("text_list", True),
    "false_positives": Key("text", True),
    "references": Key("text_list"),
    "match": Key("condition", True),
    "destinations": Key("field_list"),
    "escalate": Key("escalations"),
    "reason": Key("text", True),
    "_file": Key("text"),               # written by the loader: the file the rule came from
}
ESCALATION_KEYS = {
    "when": Key("condition", True),
    "severity": Key("severity"),
    "risk_score": Key("risk"),
    "note": Key("text"),
    "also_techniques": Key("attack_ids"),
}
SEVERITIES = ("informational", "low", "medium", "high", "critical")
TECHNIQUES = ("T1114", "T1114.001", "T1114.002", "T1114.003")
_ATTACK_ID = re.compile(r"^T[0-9]{4}(\.[0-9]{3})?$")


def did_you_mean(name, known):
    """'; did you mean `x`?' for the closest known name, or ''."""
    close = difflib.get_close_matches(str(name), sorted(known), n=1, cutoff=0.6)
    return "; did you mean `%s`?" % close[0] if close else ""


class RuleShape:
    """What the engine indexes a checked rule by."""

    __slots__ = ("operations", "sources", "parameter_names", "settings")

    def __init__(self):
        self.operations = None      # frozenset of lower-case operations the match insists on, or None
        self.sources = None         # frozenset of sources the match is limited to, or None
        self.parameter_names = {}   # {lower-case param name: spelling}
        self.settings = set()       # t1114.conf thresholds named by {setting: name}


class Vocabulary:
    """The names rules may use, from the normaliser registry's declarations."""

    def __init__(self, facts_by_source=None, tables=None):
        facts_by_source = declared_facts() if facts_by_source is None else facts_by_source
        # The readers' tables (app/normalise/reader_table.py): which operations each source has.
        self.tables = tuple(normaliser.table for normaliser in REGISTRY) if tables is None else tuple(tables)
        self.sources = frozenset(facts_by_source)
        self.facts_by_source = dict(facts_by_source)
        for fact, sources in ENGINE_FACTS.items():
            for source in sources or self.sources:
                self.facts_by_source[source] = self.facts_by_source.get(source, frozenset()) | {fact}
        self.facts = frozenset().union(*self.facts_by_source.values())

    def field_paths(self):
        return sorted(FIELD_HEADS) + ["extra." + f for f in sorted(self.facts)] + \
            ["inbox_rule." + f for f in INBOX_RULE_FACTS]


class _Checker:
    def __init__(self, document, vocabulary):
        self.vocabulary = vocabulary
        self.errors = []
        self.shape = RuleShape()
        self.file = document.get("_file") or "rule %s" % document.get("id", "<no id>")
        self.facts_used = []        # (key path, fact) to hold against the rule's sources

    def error(self, path, message):
        self.errors.append("%s: %s: %s" % (self.file, path, message))

    # -- mappings of the model ----------------------------------------------------------
    def mapping(self, value, keys, path):
        if not isinstance(value, dict):
            self.error(path or "(document)", "must be a mapping of %s" % ", ".join(k for k in keys if k != "_file"))
            return
        for key in value:
            if key not in keys:
                self.error(_join(path, key), "unknown key `%s`%s" % (key, did_you_mean(key, keys)))
        for key, spec in keys.items():
            where = _join(path, key)
            if key not in value or value[key] is None:
                if spec.required:
                    self.error(where, "is required")
                continue
            getattr(self, "kind_" + spec.kind)(value[key], where)

    def kind_text(self, value, path):
        if not isinstance(value, str) or not value.strip():
            self.error(path, "must be text, not %s" % _shown(value))

    def kind_text_list(self, value, path):
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
            self.error(path, "must be a non-empty list of text, not %s" % _shown(value))

    def kind_risk(self, value, path):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            self.error(path, "must be a whole number from 0 to 100, not %s" % _shown(value))

    def kind_severity(self, value, path):
        if value not in SEVERITIES:
            self.error(path, "`%s` is not a severity (%s)%s" % (value, ", ".join(SEVERITIES),
                                                                 did_you_mean(value, SEVERITIES)))

    def kind_technique(self, value, path):
        if value not in TECHNIQUES:
            self.error(path, "`%s` is not one of %s%s" % (value, ", ".join(TECHNIQUES), did_you_mean(value, TECHNIQUES)))

    def kind_attack_ids(self, value, path):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and _ATTACK_ID.match(v) for v in value):
            self.error(path, "must be a list of ATT&CK technique ids such as T1098.002, not %s" % _shown(value))

    def kind_field_list(self, value, path):
        if not isinstance(value, list):
            self.error(path, "must be a list of field paths, not %s" % _shown(value))
            return
        for index, item in enumerate(value):
            self.field_path(item, "%s[%d]" % (path, index))

    def kind_escalations(self, value, path):
        if not isinstance(value, list):
            self.error(path, "must be a list of escalations ({when: ..., severity: ...})")
            return
        for index, item in enumerate(value):
            self.mapping(item, ESCALATION_KEYS, "%s[%d]" % (path, index))

    def kind_condition(self, value, path):
        self.condition(value, path, top=path == "match")

    # -- conditions ---------------------------------------------------------------------
    def condition(self, spec, path, top=False, in_top_all=False):
        if not isinstance(spec, dict) or not spec:
            self.error(path, "a condition must be a non-empty mapping (all/any/not, or a test {field: ..., <operator>: ...})")
            return
        if "field" in spec:
            self.test(spec, path, limits_rule=top or in_top_all)
            return
        if len(spec) != 1:
            self.error(path, "use one of all/any/not per mapping, got %s" % ", ".join(sorted(map(str, spec))))
            return
        (combinator, body), = spec.items()
        where = _join(path, combinator)
        if combinator == "not":
            self.condition(body, where)
            return
        if combinator not in ("all", "any"):
            self.error(where, "unknown key `%s`: a condition is all, any, not or a test with `field`%s"
                       % (combinator, did_you_mean(combinator, ("all", "any", "not", "field"))))
            return
        if not isinstance(body, list) or not body:
            self.error(where, "`%s` needs a non-empty list of conditions" % combinator)
            return
        for index, item in enumerate(body):
            self.condition(item, "%s[%d]" % (where, index), in_top_all=top and combinator == "all")

    def test(self, spec, path, limits_rule):
        field = spec["field"]
        operators = [key for key in spec if key != "field"]
        if not isinstance(field, str):
            self.error(_join(path, "field"), "must be a field path, not %s" % _shown(field))
            return
        field_ok = self.field_path(field, _join(path, "field"))
        if len(operators) != 1:
            self.error(path, "a test on `%s` needs exactly one operator (%s), got %s"
                       % (field, ", ".join(sorted(OPERATORS)), ", ".join(operators) or "none"))
            return
        operator = operators[0]
        if operator not in OPERATORS:
            self.error(_join(path, operator), "unknown operator `%s`%s" % (operator, did_you_mean(operator, OPERATORS)))
            return
        operand = spec[operator]
        where = _join(path, operator)
        if operator == "equals" and not isinstance(operand, _SCALARS):
            self.error(where, "`equals` takes one value, not %s; for a list of values use `in`" % _shown(operand))
            return
        if operator in _LIST_OPERATORS and not (isinstance(operand, _SCALARS) or _is_scalar_list(operand)):
            self.error(where, "`%s` takes a value or a non-empty list of values, not %s" % (operator, _shown(operand)))
            return
        if operator in _BOOL_OPERATORS and not isinstance(operand, bool):
            self.error(where, "`%s` takes true or false, not %s" % (operator, _shown(operand)))
            return
        if operator == "matches" and not isinstance(operand, str):
            self.error(where, "`matches` takes a regular expression as text, not %s" % _shown(operand))
            return
        if operator in _NUMBER_OPERATORS:
            self.number_operand(operand, where, operator)
            return
        if field == "source" and field_ok:
            self.source_test(operator, operand, where, limits_rule)

    def number_operand(self, operand, where, operator):
        if isinstance(operand, dict):
            if set(operand) != {"setting"} or not isinstance(operand["setting"], str):
                self.error(where, "`%s` takes a number or {setting: <name in t1114.conf [thresholds]>}" % operator)
                return
            self.shape.settings.add(operand["setting"].lower())
        elif isinstance(operand, bool) or not isinstance(operand, (int, float)):
            self.error(where, "`%s` takes a number, not %s" % (operator, _shown(operand)))

    def source_test(self, operator, operand, where, limits_rule):
        if operator not in SOURCE_OPERATORS:
            self.error(where, "a `source` test uses equals or in, not `%s`" % operator)
            return
        names = [operand] if isinstance(operand, _SCALARS) else list(operand)
        for name in names:
            if name not in self.vocabulary.sources:
                self.error(where, "`%s` is not a source any normaliser produces (%s)%s"
                           % (name, ", ".join(sorted(self.vocabulary.sources)), did_you_mean(name, self.vocabulary.sources)))
        if not limits_rule:
            # The engine limits a rule to the sources of its top-level test; one under not/any
            # would read as the opposite of what it says.
            self.error(where, "a `source` test belongs at the top of `match` (alone or directly in its `all`), "
                              "where it limits the rule to those sources; under not/any it cannot: list the "
                              "sources the rule reads instead")
            return
        if self.shape.sources is not None:
            self.error(where, "the rule already names its sources in another `source` test; use one")
            return
        self.shape.sources = frozenset(names)

    def field_path(self, path_text, where):
        """True when `path_text` is a field a rule may read; otherwise one error with the closest path."""
        if not isinstance(path_text, str):
            self.error(where, "must be a field path, not %s" % _shown(path_text))
            return False
        head, dot, rest = path_text.partition(".")
        if not dot and head in FIELD_HEADS:
            return True
        if dot and rest and head in OPEN_HEADS:
            if head == "param" and _PARAMETER.match(rest):
                self.shape.parameter_names.setdefault(rest.lower(), rest)
            return True
        if dot and head == "extra" and rest.lower() in self.vocabulary.facts:
            self.facts_used.append((where, rest.lower()))
            return True
        if dot and head == "inbox_rule" and rest in INBOX_RULE_FACTS:
            return True
        self.error(where, "`%s`: no such fact%s" % (path_text, did_you_mean(path_text, self.vocabulary.field_paths())))
        return False

    # -- across the document ------------------------------------------------------------
    def reason(self, document):
        template = document.get("reason")
        if not isinstance(template, str):
            return
        from .rules import REASON_SPECIALS, placeholders   # the template syntax lives with rendering
        for text in placeholders(template):
            for name in text.rstrip("?").split("|"):
                if name not in REASON_SPECIALS:
                    self.field_path(name, "reason {%s}" % text)

    def facts_against_sources(self):
        """A fact none of the rule's sources produces can never be there: the rule cannot fire."""
        sources = self.shape.sources
        if sources is None or not sources <= self.vocabulary.sources:
            return
        produced = frozenset().union(*(self.vocabulary.facts_by_source[s] for s in sources))
        for where, fact in self.facts_used:
            if fact not in produced:
                makers = sorted(s for s, facts in self.vocabulary.facts_by_source.items() if fact in facts)
                self.error(where, "`extra.%s` is not produced by the rule's sources (%s), only by %s"
                           % (fact, ", ".join(sorted(sources)), ", ".join(makers)))


    def operations_against_sources(self, match):
        """An operation none of the readers of the rule's sources (all sources, when it names
        none) writes can never be on an event: the rule cannot fire."""
        sources = self.shape.sources if self.shape.sources is not None else self.vocabulary.sources
        tables = [table for table in self.vocabulary.tables if sources & set(table.operations)]
        for where, operation in _operation_tests(match, "match"):
            if not sources <= self.vocabulary.sources:
                return   # a misspelt source, already reported
            if any(table.writes_operation(source, operation) for table in tables for source in sources):
                continue
            named = sorted({name for table in tables for source in sources
                            for name in table.named_operations(source)})
            self.error(where, "operation `%s` is not one the readers of %s write (%s)%s"
                       % (operation, ", ".join(sorted(sources)), ", ".join(named) or "none",
                          did_you_mean(operation, named)))


def _operation_tests(spec, path):
    """(key path, operation) for every `operation` test (equals / in) in a checked condition."""
    if not isinstance(spec, dict):
        return
    if spec.get("field") == "operation":
        for operator in ("equals", "in"):
            if operator in spec:
                operand = spec[operator]
                for value in operand if isinstance(operand, list) else [operand]:
                    yield "%s.%s" % (path, operator), str(value)
        return
    for combinator in ("all", "any"):
        for index, item in enumerate(spec.get(combinator) or ()):
            yield from _operation_tests(item, "%s.%s[%d]" % (path, combinator, index))
    if isinstance(spec.get("not"), dict):
        yield from _operation_tests(spec["not"], path + ".not")


def check_rule(document, vocabulary=None):
    """The RuleShape of a rule document that satisfies the schema; RuleError listing every
    mistake (file, key path, closest valid name) when it does not."""
    if not isinstance(document, dict):
        raise RuleError("a rule document must be a mapping, not %s" % _shown(document))
    checker = _Checker(document, vocabulary or default_vocabulary())
    checker.mapping(document, RULE_KEYS, "")
    checker.reason(document)
    checker.facts_against_sources()
    checker.operations_against_sources(document.get("match"))
    if checker.errors:
        raise RuleError("\n".join(checker.errors))
    checker.shape.operations = _operations_required(document["match"])
    return checker.shape


_DEFAULT = []


def default_vocabulary():
    if not _DEFAULT:
        _DEFAULT.append(Vocabulary())
    return _DEFAULT[0]


def _operations_required(spec):
    """The operations a checked condition insists on (lower-case), or None when it accepts any.
    The engine indexes rules by these, so an event is only tried on rules that can match it."""
    if spec.get("field") == "operation":
        if "in" in spec:
            operand = spec["in"]
            return frozenset(str(v).lower() for v in (operand if isinstance(operand, list) else [operand]))
        if "equals" in spec:
            return frozenset((str(spec["equals"]).lower(),))
        return None
    if "all" in spec:
        for item in spec["all"]:
            found = _operations_required(item)
            if found is not None:
                return found
    if "any" in spec:
        collected = set()
        for item in spec["any"]:
            found = _operations_required(item)
            if found is None:
                return None
            collected |= found
        return frozenset(collected)
    return None


def _is_scalar_list(value):
    return isinstance(value, list) and bool(value) and all(isinstance(v, _SCALARS) for v in value)


def _join(path, key):
    return "%s.%s" % (path, key) if path else str(key)


def _shown(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing"
    return "%r" % (value,)
