"""Wildcard patterns from lookups: `*` any run of characters, `?` one character, case-insensitive;
in a Windows path column (PathWildcard) neither ever spans a `\\`: `*` is any run within one folder.

A pattern is split at its stars into fixed-length pieces, placed left to right at their first
fit: literal pieces with str.find, pieces holding `?` with a regex made of escaped characters
and `.` (no quantifier, so nothing to backtrack into). One match costs at most about
len(value) x len(pattern) steps in C, whatever a lookup row contains.
"""

import re

from .windows_path import canonical_path

# Longer than any account, address, domain or path a lookup needs; allowlist rows past it are refused.
MAX_PATTERN_CHARS = 1024


class _Piece:
    """The text between two stars."""

    __slots__ = ("text", "size", "_regex")

    def __init__(self, text):
        self.text = text
        self.size = len(text)
        # A piece holding `?` is matched by a regex, compiled when first tried: a site's
        # allowlist can hold thousands of such rows, most of which no event ever reaches
        # (AllowlistIndex files them by their literal parts), and compiling each one at
        # start-up cost more than loading the rest of its row.
        self._regex = False if "?" in text else None

    def _compiled(self):
        if self._regex is False:
            self._regex = re.compile("".join("." if char == "?" else re.escape(char) for char in self.text),
                                     re.DOTALL)
        return self._regex

    def at(self, value, position):
        if self._regex is None:
            return value.startswith(self.text, position)
        return position + self.size <= len(value) and self._compiled().match(value, position) is not None

    def find(self, value, start, end):
        """First position in [start, end - size] where the piece fits, or -1."""
        if self._regex is None:
            return value.find(self.text, start, end)
        found = self._compiled().search(value, start, end)
        return found.start() if found else -1


def lowered_value(value):
    """The text of an event value a Wildcard compares."""
    return value.strip().lower()


class Wildcard:
    __slots__ = ("pattern", "_lowered", "_literal", "_head", "_middle", "_tail")
    value_key = staticmethod(lowered_value)   # what an index files an event value under

    def __init__(self, pattern, strip=True):
        self.pattern = pattern
        self._lowered = (pattern.strip() if strip else pattern).lower()
        self._literal = "*" not in self._lowered and "?" not in self._lowered
        pieces = [_Piece(text) for text in self._lowered.split("*")]
        self._head = pieces[0]
        self._middle = tuple(pieces[1:-1])
        self._tail = pieces[-1] if len(pieces) > 1 else None

    @property
    def index_text(self):
        """The pattern as the values it matches are written (lower case): its literal parts are
        in every value it matches."""
        return self._lowered

    def matches(self, value):
        return self.matches_lowered(value.strip().lower())

    def matches_lowered(self, text):
        if self._literal:
            return text == self._lowered
        if self._tail is None:  # `?` but no star: the value has the pattern's exact length
            return len(text) == self._head.size and self._head.at(text, 0)
        end = len(text) - self._tail.size
        if end < self._head.size or not self._head.at(text, 0) or not self._tail.at(text, end):
            return False
        start = self._head.size
        for piece in self._middle:
            found = piece.find(text, start, end)
            if found < 0:
                return False
            start = found + piece.size
        return True

    def __repr__(self):
        return "Wildcard(%r)" % self.pattern


class PathWildcard:
    """A Windows path pattern (an allowlist's process_path): pattern and value are both made
    canonical (app/windows_path.py), then matched folder by folder, so `*` is any run of
    characters within one folder and `?` one character other than `\\`: `C:\\Tools\\*\\x.exe`
    matches `C:\\Tools\\v2\\x.exe`, never `C:\\Tools\\uploads\\bob\\x.exe`."""

    __slots__ = ("pattern", "index_text", "_folders")
    value_key = staticmethod(canonical_path)

    def __init__(self, pattern):
        self.pattern = pattern
        self.index_text = canonical_path(pattern)
        self._folders = tuple(Wildcard(folder, strip=False) for folder in self.index_text.split("\\"))

    def matches(self, value):
        folders = canonical_path(value).split("\\")
        if len(folders) != len(self._folders):
            return False
        return all(pattern.matches_lowered(folder) for pattern, folder in zip(self._folders, folders))

    def __repr__(self):
        return "PathWildcard(%r)" % self.pattern
