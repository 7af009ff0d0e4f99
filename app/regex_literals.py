"""A cheap test that rules a regex out before it is searched: the literal words every match
must contain.

`(?i)\\.(pst|ost)(?![a-z0-9_])` cannot match a text holding neither `.pst` nor `.ost`, and
`str.__contains__` on a lowered text answers that far faster than a case-insensitive search
with lookarounds walks it. `prefilter(pattern)` reads the pattern's parse tree once, when the
rule compiles, and returns text -> False (certainly no match) / True (search it), or None
when it can name no such words (the condition then searches every text, as before).

Case-insensitive patterns are only pre-checked on ASCII text: Unicode case folding lets `s`
match `\u017f` and `k` match `\u212a`, which a lowered ASCII word would miss.
tests/test_optimisations_differential.py holds the pre-check to the regex on every benchmark mix.
"""

import re

from .values import lowered

try:  # the parser Python's own re module compiles with (sre_parse before 3.11)
    from re import _parser as _sre
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_parse as _sre

_C = _sre  # the opcode names are re-exported by the parser module
_MAX_WORDS = 64
_ZERO_WIDTH = (_C.AT, _C.ASSERT, _C.ASSERT_NOT)


def necessary_words(pattern):
    """The ASCII words one of which every match of `pattern` contains (longest first), or
    None when the parse tree names no such set. Case-insensitive patterns' words are only
    sure on ASCII text (see above)."""
    word_sets = necessary_word_sets(pattern)
    return word_sets[0] if word_sets else None


def necessary_word_sets(pattern):
    """Every such set the pattern's top-level sequence names, the one necessary_words gives
    first: a match holds a word of each (`get-mg(beta)?user...message` needs `get-mg`, `user`
    and `message`). None when there is none."""
    try:
        if pattern.flags & ~(re.IGNORECASE | re.UNICODE):
            return None
        candidates = _candidates(_sre.parse(pattern.pattern, pattern.flags))
    except Exception:  # an unfamiliar parse tree: no pre-check, never a wrong answer
        return None
    word_sets = [tuple(sorted(words, key=len, reverse=True)) for words in sorted(candidates, key=_preference, reverse=True)
                 if all(word and word.isascii() for word in words)]
    return word_sets or None


def prefilter(pattern):
    """text -> bool that is False only where `pattern.search(text)` finds nothing, or None.
    Each of the pattern's necessary word sets must have a word in the text."""
    word_sets = necessary_word_sets(pattern)
    if word_sets is None:
        return None
    if pattern.flags & re.IGNORECASE:
        lowered_sets = tuple(by_rarest_letter(dict.fromkeys(word.lower() for word in words)) for words in word_sets)

        def may_match(text):
            if not text.isascii():
                return True
            return _holds_each(lowered(text), lowered_sets)
        return may_match

    exact_sets = tuple(by_rarest_letter(words) for words in word_sets)
    return lambda text: _holds_each(text, exact_sets)


def _holds_each(text, grouped_sets):
    """Whether `text` holds a word of each set (each grouped by by_rarest_letter)."""
    for groups in grouped_sets:
        found = False
        for letter, group in groups:
            if letter in text:
                for word in group:
                    if word in text:
                        found = True
                        break
                if found:
                    break
        if not found:
            return False
    return True


# Characters of lower-cased command lines, paths and scripts, roughly the most frequent first.
# Only speed depends on this order, never an answer: a word is in a text only if each of its
# characters is, so words are grouped by their rarest character and a group is searched only
# when that character is in the text. Many short words (`?st`, `p*t`, `]st`) then cost one
# character search on a text without `?`, `*` or `]`.
_MOST_FREQUENT_FIRST = ' e\\tsoarinc.lmpdxfgwuh:b-yv0123456789k"/_=,qjz'


def _rarity(char):
    rank = _MOST_FREQUENT_FIRST.find(char)
    return len(_MOST_FREQUENT_FIRST) if rank < 0 else rank


def by_rarest_letter(words):
    """((character, the words whose rarest character it is), ...), rarest character first."""
    groups = {}
    for word in words:
        groups.setdefault(max(word, key=_rarity), []).append(word)
    return tuple((letter, tuple(group)) for letter, group in sorted(groups.items(), key=lambda item: -_rarity(item[0])))


def _finite(item):
    """The set of texts one parse item matches, when small and fixed; else None."""
    op, av = item
    if op == _C.LITERAL:
        return {chr(av)}
    if op == _C.IN:
        chars = set()
        for inner_op, inner_av in av:
            if inner_op != _C.LITERAL:
                return None
            chars.add(chr(inner_av))
        return chars if len(chars) <= 8 else None
    if op == _C.SUBPATTERN:
        group, add_flags, del_flags, body = av
        if add_flags or del_flags:
            raise ValueError("scoped flags")
        return _finite_sequence(body)
    if op == _C.BRANCH:
        union = set()
        for alternative in av[1]:
            texts = _finite_sequence(alternative)
            if texts is None:
                return None
            union |= texts
        return union if len(union) <= _MAX_WORDS else None
    return None


def _finite_sequence(sequence):
    texts = {""}
    for item in sequence:
        if item[0] in _ZERO_WIDTH:
            continue
        part = _finite(item)
        if part is None:
            return None
        texts = {head + tail for head in texts for tail in part}
        if len(texts) > _MAX_WORDS:
            return None
    return texts


def _candidates(sequence):
    """The sets of texts every match of `sequence` contains one of (each set necessary)."""
    candidates = []
    run = {""}
    for item in list(sequence) + [None]:
        if item is not None and item[0] in _ZERO_WIDTH:
            continue  # consumes nothing: the texts either side of it are adjacent in a match
        part = _finite(item) if item is not None else None
        if part is not None:
            joined = {head + tail for head in run for tail in part}
            if len(joined) <= _MAX_WORDS:
                run = joined
                continue
        if run != {""}:
            candidates.append(run)
        run = {""}
        if item is None:
            break
        op, av = item
        inner = None
        if op == _C.SUBPATTERN:
            group, add_flags, del_flags, body = av
            if add_flags or del_flags:
                raise ValueError("scoped flags")
            inner = _necessary(body)
        elif op == _C.BRANCH:
            union = set()
            for alternative in av[1]:
                found = _necessary(alternative)
                if found is None:
                    union = None
                    break
                union |= found
            inner = union if union and len(union) <= _MAX_WORDS else None
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT) and av[0] >= 1:
            inner = _necessary(av[2])   # at least one repetition: its words are in every match
        if inner:
            candidates.append(inner)
    return [c for c in candidates if "" not in c]


def _preference(words):
    """Longer shortest word first, then fewer words: the set a text most often lacks."""
    return min(len(word) for word in words), -len(words)


def _necessary(sequence):
    """A set of texts one of which every match of `sequence` contains, or None."""
    candidates = _candidates(sequence)
    return max(candidates, key=_preference) if candidates else None
