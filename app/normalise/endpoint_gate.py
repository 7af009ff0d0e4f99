"""One decision for a Windows endpoint event, taken on its text facts before the rest.

Process creations (Sysmon 1, Security 4688, CIM Processes) and file events (Sysmon 11,
Security 4663/5145, CIM Filesystem) are the busiest Windows events a search hands over, and
almost none has a finding. After the endpoint reader has read the few text facts the rules of
the event's operation test, the rest of the work (the account, host, access rights and
address, the Exchange cmdlet scan of a command line, the event, then each rule's tests and the
event time) is for events some rule can match. Every rule that can fire on them needs words in
those facts: `.pst`/`.ost` in the command line or file path, `outlook.exe` as the process and
a script host as its parent, an Exchange cmdlet's name. An event whose facts hold none of them
cannot fire, and the reader returns no event for it.

`endpoint_gate(...)` derives, when the engine loads, each candidate rule's words from its
`match` (the rule language's tests on those facts; a regex's words from
app/regex_literals.py) as clauses that must all hold, one word of each: the rules' tests with
the most selective first, sharing one lower-cased text. The gate answers "may fire" (the event
is read on as before) unless it can show the opposite, and is None (no gate) when some
candidate rule names no such words. An operation no rule is tried on gets a gate that answers
"no" to every event (but one calling a cmdlet), as the rules would.

Why a word missing from the facts means no match:
- `equals`, `in`, `contains_any`, `startswith_any`, `endswith_any` compare the lower-cased
  value (cut to MAX_VALUE_CHARS) with lower-case operands: the operand is then in the value,
  and lower() maps character by character (but for a final sigma, which no ASCII word holds);
- a `matches` pattern's words are in every match (app/regex_literals.py); a case-insensitive
  regex also matches `s` on `\u017f`, `k` on `\u212a`, `i` on `\u0130`/`\u0131`, letters that
  lower() leaves non-ASCII, so facts holding one of them are not judged;
- an Exchange cmdlet a command line calls becomes an event of every rule indexed on it: facts
  of a process creation holding any cmdlet name the engine scans for are not judged (the
  cmdlet regex is case-insensitive too: the same four letters), nor those where the PowerShell
  reader could find a name not written whole (cmdlet_text.may_hide_a_name); PowerShell's
  default alias of a name (`irm` for Invoke-RestMethod) counts as the name;
- only ASCII words without line ends are used, and the facts are joined by line ends, so a
  word is in the joined text only if it is in one fact.
tests/test_endpoint_gate.py holds the gated reader to the ungated one, event for event.
"""

import re

from ..conditions import check_field_path
from ..values import lowered as lower_once
from ..regex_literals import by_rarest_letter, necessary_word_sets
from .cmdlet_text import holds_a_name, may_hide_a_name, screen_names

# The letters a case-insensitive regex matches for an ASCII one and lower() does not turn into
# it (Python's re documentation names these four: U+0130, U+0131, U+017F, U+212A).
FOLDS_ONTO_ASCII = ("\u0130", "\u0131", "\u017f", "\u212a")
_WORD_OPERATORS = ("equals", "in", "contains_any", "startswith_any", "endswith_any", "matches")


def endpoint_gate(rules_tried, cmdlet_names, gated_fields):
    """facts -> False when no rule can fire on an event with these text facts (the values of
    `gated_fields`, in any order), else True; or None when a rule in `rules_tried` (the rules
    the engine tries on the events gated) names no words in `gated_fields`. `cmdlet_names`
    are the cmdlets the engine finds in the facts (a command line), or empty."""
    rules = []
    for rule in rules_tried:
        clauses = necessary_clauses(rule.match_spec, gated_fields)
        if not clauses:
            return None
        # Fewest words first: the clause most events fail is usually the narrowest.
        rules.append(tuple(tuple(sorted(clause)) for clause in sorted(clauses, key=len)))
    names = screen_names(cmdlet_names)   # with PowerShell's default aliases for them
    if not all(_is_word(name) for name in names):
        return None
    in_text = _text_gate(tuple(rules), names)

    def may_fire(facts):
        return in_text("\n".join(facts))

    may_fire.rules = in_text.rules   # the clauses each rule was given, for tests and the docs
    may_fire.cmdlet_names = names
    return may_fire


def _text_gate(rules, names):
    """text -> whether some rule of `rules` (each a tuple of clauses, a clause a tuple of
    words) has a word of each of its clauses in the lower-cased text, or the text names a
    cmdlet of `names`, or holds a letter that folds onto ASCII."""
    # A clause's words grouped by their rarest character (app/regex_literals.py): a group is
    # searched only when its character is in the text.
    keyed = tuple(tuple(by_rarest_letter(clause) for clause in clauses) for clauses in rules)

    def may_fire(text):
        if not text.isascii():
            for letter in FOLDS_ONTO_ASCII:
                if letter in text:
                    return True
        if names and may_hide_a_name(text, names):
            return True   # a cmdlet name PowerShell would read out of escapes or joined pieces
        lowered = lower_once(text)
        if names and holds_a_name(lowered, names):
            return True
        for clauses in keyed:
            for clause in clauses:
                found = False
                for letter, words in clause:
                    if letter in lowered:
                        for word in words:
                            if word in lowered:
                                found = True
                                break
                        if found:
                            break
                if not found:
                    break   # a clause with none of its words: this rule cannot fire
            else:
                return True
        return False

    may_fire.rules = rules
    return may_fire


def necessary_clauses(spec, fields):
    """Clauses (sets of lower-case words) of a checked match condition: an event it matches
    has, for every clause, one of its words in one of `fields`. An empty list when the
    condition names no such words."""
    if "field" in spec:
        return _test_clauses(spec, fields)
    (combinator, body), = spec.items()
    if combinator == "all":
        return [clause for item in body for clause in necessary_clauses(item, fields)]
    if combinator == "any":
        # Each alternative needs one of its clauses; the narrowest of each (longest shortest
        # word, then fewest words), joined, is one clause every alternative satisfies.
        union = set()
        for item in body:
            clauses = necessary_clauses(item, fields)
            if not clauses:
                return []
            union |= max(clauses, key=lambda clause: (min(len(word) for word in clause), -len(clause)))
        return [frozenset(union)]
    return []   # `not`: what it requires is an absence, which names no word


def _test_clauses(spec, fields):
    """The clauses one test names in `fields`: one for a list of operands, each of a regex's
    necessary word sets (app/regex_literals.py) for `matches`; empty when it names none."""
    path = check_field_path(str(spec["field"]), "condition")
    if path not in fields:
        return []
    operator = next((key for key in spec if key != "field"), None)
    if operator not in _WORD_OPERATORS:
        return []
    operand = spec[operator]
    if operator == "matches":
        word_sets = necessary_word_sets(re.compile(str(operand)))
        if word_sets is None:
            return []
    else:
        word_sets = [operand if isinstance(operand, (list, tuple)) else (operand,)]
    clauses = [frozenset(str(word).lower() for word in words) for words in word_sets]
    # Each clause is necessary on its own: one that is no set of plain words is left out.
    return [clause for clause in clauses if clause and all(_is_word(word) for word in clause)]


def _is_word(word):
    return bool(word) and word.isascii() and "\n" not in word and "\r" not in word
