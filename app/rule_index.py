"""The rules an event is tried on, by its operation (the engine's index), each with the match
it needs once the index and the source check have settled what they settle: a rule indexed on
MailItemsAccessed does not test again that the event is a MailItemsAccessed one."""

from .rules import rules_by_operation


class RuleIndex:
    """Candidate rules by lower-case operation, and the rules that accept every operation."""

    def __init__(self, rules):
        self.by_operation, self.any_operation = rules_by_operation(rules)
        self._decisions = {operation: tuple((rule, settled_match(rule, operation)) for rule in indexed)
                           for operation, indexed in self.by_operation.items()}
        self._any_decisions = tuple((rule, settled_match(rule, None)) for rule in self.any_operation)

    def candidates(self, operation):
        """The rules an event of `operation` (any case) is tried on."""
        indexed = self.by_operation.get(operation.lower(), ())
        if not self.any_operation:
            return indexed
        return list(indexed) + self.any_operation

    def decisions(self, operation):
        """candidates(operation) as (rule, its match for this operation) pairs."""
        indexed = self._decisions.get(operation.lower(), ())
        if not self._any_decisions:
            return indexed
        return indexed + self._any_decisions


def settled_match(rule, operation):
    """`rule.matches` for events the engine has already found to be of `operation` (lower-case)
    and of one of the rule's sources: the top-level tests that says are left out (the engine's
    operation index and source check decide them, with the same case-insensitive reading)."""
    spec = _without_settled_tests(rule.match_spec, operation, rule.sources is not None)
    if spec is None:
        return _always
    if spec is rule.match_spec:
        return rule.matches
    return rule.compile(spec)


def _always(event):
    return True


def _settled(test, operation, sources_checked):
    """Whether a top-level test is true of every event the engine tries the rule on for
    `operation`: one on the operation naming it, or (once the engine checked the rule's
    sources, which the schema takes from this very test) one on the source."""
    if not isinstance(test, dict) or "field" not in test:
        return False
    if test["field"] == "source":
        return sources_checked
    if test["field"] != "operation":
        return False
    if "equals" in test:
        return str(test["equals"]).lower() == operation
    if "in" in test:
        operand = test["in"]
        return operation in (str(v).lower() for v in (operand if isinstance(operand, list) else [operand]))
    return False


def _without_settled_tests(spec, operation, sources_checked):
    """The match condition without its settled top-level tests; None when nothing is left."""
    if _settled(spec, operation, sources_checked):
        return None
    if set(spec) != {"all"}:
        return spec
    kept = [test for test in spec["all"] if not _settled(test, operation, sources_checked)]
    if len(kept) == len(spec["all"]):
        return spec
    return {"all": kept} if kept else None
