"""Wildcard patterns from lookups: `*` any run of characters, `?` one character, case-insensitive.

Matched by a linear two-pointer scan, not a regex, so no row can make matching slow.
"""


class Wildcard:
    __slots__ = ("pattern", "_lowered", "_literal")

    def __init__(self, pattern):
        self.pattern = pattern
        self._lowered = pattern.strip().lower()
        self._literal = "*" not in self._lowered and "?" not in self._lowered

    def matches(self, value):
        text = value.strip().lower()
        if self._literal:
            return text == self._lowered
        return _glob(self._lowered, text)

    def __repr__(self):
        return "Wildcard(%r)" % self.pattern


def _glob(pattern, text):
    p = t = 0
    star = -1
    resume = 0
    while t < len(text):
        if p < len(pattern) and (pattern[p] == "?" or pattern[p] == text[t]):
            p += 1
            t += 1
        elif p < len(pattern) and pattern[p] == "*":
            star = p
            resume = t
            p += 1
        elif star >= 0:
            p = star + 1
            resume += 1
            t = resume
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)
