"""The small matching language rules are written in, compiled once into plain functions.

A condition is a mapping. Combinators: `all: [...]`, `any: [...]`, `not: {...}`.
A test names a field path and one operator:

    {field: operation, in: [New-InboxRule, Set-InboxRule]}
    {field: param.forwardto, nonempty: true}
    {field: inbox_rule.actions, contains_any: [forward, redirect]}
    {field: text, matches: '(?i)outlook\\.application'}

Operators: equals, in, nonempty, is_true, contains_any (substring of text, or member of a
list field), startswith_any, endswith_any, matches (regex, searched), gte, lte.
gte and lte also take `{setting: name}`: a number from default/t1114.conf (local/ overrides),
looked up once when the rule compiles.
String comparisons ignore case. Field paths are checked when the rule loads.
"""

import re

from .regex_literals import prefilter
from .values import MAX_VALUE_CHARS, as_text, is_true, lowered

FIELD_HEADS = frozenset((
    "source", "operation", "actor", "mailbox", "src", "dest", "app_id", "client_info",
    "user_type", "logon_type", "organization", "text",
))
PREFIXED_HEADS = frozenset(("param", "prop", "extra", "inbox_rule"))
OPERATORS = frozenset((
    "equals", "in", "nonempty", "is_true", "contains_any", "startswith_any", "endswith_any",
    "matches", "gte", "lte",
))


class RuleError(ValueError):
    """A rule document that cannot be used; the message says what to fix."""


def check_field_path(path, where):
    head, _, rest = path.partition(".")
    if rest and head in PREFIXED_HEADS:
        return path.lower() if head != "inbox_rule" else path
    if not rest and head in FIELD_HEADS:
        return path
    raise RuleError("%s: unknown field %r (use one of %s, or param.X / prop.X / extra.X / "
                    "inbox_rule.actions / inbox_rule.recipients)" % (where, path, ", ".join(sorted(FIELD_HEADS))))


def _lowered(value):
    if isinstance(value, (list, tuple)):
        return tuple(as_text(item).lower() for item in value)
    return as_text(value).lower()


def _as_tuple(value, where, operator):
    if isinstance(value, (list, tuple)):
        return tuple(str(item).lower() for item in value)
    if isinstance(value, (str, int, float)):
        return (str(value).lower(),)
    raise RuleError("%s: `%s` needs a value or a list of values" % (where, operator))


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _limit(operand, where, operator, settings):
    """The number a gte/lte test compares with: given in the rule, or named in the settings."""
    if isinstance(operand, dict) and set(operand) == {"setting"}:
        name = str(operand["setting"]).lower()
        if settings is None or name not in settings:
            raise RuleError("%s: `%s` refers to setting %r, which default/t1114.conf does not define"
                            % (where, operator, name))
        limit = _number(settings[name])
        if limit is None:
            raise RuleError("%s: setting %s = %r in t1114.conf is not a number" % (where, name, settings[name]))
        return limit
    limit = _number(operand)
    if limit is None:
        raise RuleError("%s: `%s` needs a number, not %r" % (where, operator, operand))
    return limit


def _compile_test(spec, where, settings=None):
    path = check_field_path(str(spec["field"]), where)
    operators = [key for key in spec if key != "field"]
    if len(operators) != 1 or operators[0] not in OPERATORS:
        raise RuleError("%s: a test on %r needs exactly one operator from %s"
                        % (where, path, ", ".join(sorted(OPERATORS))))
    operator = operators[0]
    operand = spec[operator]

    value_of = _value_reader(path)

    if operator == "equals":
        expected = str(operand).lower()
        return _on_lowered(value_of, lambda item: item == expected)
    if operator == "in":
        choices = frozenset(_as_tuple(operand, where, operator))
        return _on_lowered(value_of, choices.__contains__)
    if operator == "nonempty":
        wanted = bool(operand)
        found = _on_lowered(value_of, lambda item: item.strip() != "")
        return found if wanted else (lambda event: not found(event))
    if operator == "is_true":
        wanted = bool(operand)
        return lambda event: is_true(value_of(event)) == wanted
    if operator == "contains_any":
        needles = _as_tuple(operand, where, operator)
        if len(needles) == 1:
            needle, = needles
            return _on_lowered(value_of, lambda item: needle in item)
        return _on_lowered(value_of, lambda item: any(n in item for n in needles))
    if operator == "startswith_any":
        prefixes = _as_tuple(operand, where, operator)
        return _on_lowered(value_of, lambda item: item.startswith(prefixes))
    if operator == "endswith_any":
        suffixes = _as_tuple(operand, where, operator)
        return _on_lowered(value_of, lambda item: item.endswith(suffixes))
    if operator == "matches":
        try:
            pattern = re.compile(str(operand))
        except re.error as error:
            raise RuleError("%s: `matches` pattern %r does not compile: %s" % (where, operand, error))
        search = pattern.search
        may_match = prefilter(pattern)   # the literal words every match contains, tested first
        if may_match is None:
            return lambda event: _any_item(
                tuple(as_text(v) for v in _items(value_of(event))), lambda item: search(item) is not None)
        return lambda event: _any_item(
            tuple(as_text(v) for v in _items(value_of(event))),
            lambda item: may_match(item) and search(item) is not None)

    def read(event):
        return _lowered(value_of(event))

    limit = _limit(operand, where, operator, settings)
    if operator == "gte":
        return lambda event: _any_item(read(event), lambda item: (_number(item) or float("-inf")) >= limit)
    return lambda event: _any_item(read(event), lambda item: (_number(item) if _number(item) is not None else float("inf")) <= limit)


def _value_reader(path):
    """event -> the value at `path`: MailEvent.value resolved once, when the rule compiles."""
    head, _, rest = path.partition(".")
    if not rest:
        return lambda event: getattr(event, head, "")
    if head == "param":
        return lambda event: event.parameters.get(rest, "")
    if head == "prop":
        return lambda event: event.properties.get(rest, "")
    if head == "extra":
        return lambda event: event.extra.get(rest, "")
    return lambda event: event.value(path)


def _on_lowered(value_of, predicate):
    """event -> whether any item of the value, as lower-case text, satisfies `predicate`
    (what `_any_item(_lowered(value), predicate)` gives, without the tuple per event)."""
    def test(event):
        value = value_of(event)
        if type(value) is str:
            return predicate(lowered(value) if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS].lower())
        if isinstance(value, (list, tuple)):
            return any(predicate(as_text(item).lower()) for item in value)
        return predicate(as_text(value).lower())
    return test


def _items(value):
    return value if isinstance(value, (list, tuple)) else (value,)


def _any_item(value, predicate):
    return any(predicate(item) for item in _items(value))


def condition_paths(spec):
    """The field paths (as MailEvent.value reads them) a checked condition tests."""
    if "field" in spec:
        return {check_field_path(str(spec["field"]), "condition")}
    (_, body), = spec.items()
    paths = set()
    for item in (body if isinstance(body, list) else [body]):
        paths |= condition_paths(item)
    return paths


def compile_condition(spec, where, settings=None):
    """A condition mapping -> function(MailEvent) -> bool. `settings` names the numbers
    `{setting: name}` operands may use."""
    if not isinstance(spec, dict) or not spec:
        raise RuleError("%s: a condition must be a non-empty mapping" % where)
    if "field" in spec:
        return _compile_test(spec, where, settings)
    if len(spec) != 1:
        raise RuleError("%s: use one of all/any/not per mapping, got %s" % (where, sorted(spec)))
    (combinator, body), = spec.items()
    if combinator == "not":
        inner = compile_condition(body, where + ".not", settings)
        return lambda event: not inner(event)
    if combinator not in ("all", "any") or not isinstance(body, list) or not body:
        raise RuleError("%s: `%s` must be all/any with a non-empty list, or not with a mapping" % (where, combinator))
    parts = tuple(compile_condition(item, "%s.%s[%d]" % (where, combinator, index), settings)
                  for index, item in enumerate(body))
    if len(parts) == 1:
        return parts[0]
    if combinator == "all":
        if len(parts) == 2:
            first, second = parts
            return lambda event: first(event) and second(event)

        def every(event):
            for part in parts:
                if not part(event):
                    return False
            return True
        return every
    if len(parts) == 2:
        first, second = parts
        return lambda event: first(event) or second(event)

    def some(event):
        for part in parts:
            if part(event):
                return True
        return False
    return some

