"""How much work a wildcard match does, counted instead of timed.

Wildcard.matches does its scanning in C (str.startswith/str.find, or a regex of plain
characters and `.`), one call per piece of the pattern. Recording those calls gives the
match's cost in character comparisons at most: each call looks at most at `span x piece size`
characters. A clock would measure how busy the machine is as much as the code.
"""

import re

from app import wildcard
from app.wildcard import Wildcard

# What a regex built from a piece may hold besides escaped characters and `.`: nothing that
# repeats or branches, so it cannot backtrack.
_REPEATS_OR_BRANCHES = re.compile(r"[*+?{}|()\[\]]")


def piece_regexes_cannot_backtrack(pattern):
    compiled = Wildcard(pattern)
    pieces = [compiled._head, *compiled._middle] + ([compiled._tail] if compiled._tail else [])
    for piece in pieces:
        if piece._regex is not None:   # a piece holding `?`: its regex, compiled now if not yet
            plain = re.sub(r"\\.", "", piece._compiled().pattern)
            if _REPEATS_OR_BRANCHES.search(plain):
                return False
    return True


class PieceCalls:
    """Context manager recording every piece placement: (start, end, piece size)."""

    def __enter__(self):
        self.calls = []
        self._find, self._at = wildcard._Piece.find, wildcard._Piece.at
        calls, find, at = self.calls, self._find, self._at

        def counted_find(piece, value, start, end):
            calls.append((start, end, piece.size))
            return find(piece, value, start, end)

        def counted_at(piece, value, position):
            calls.append((position, position + piece.size, piece.size))
            return at(piece, value, position)

        wildcard._Piece.find, wildcard._Piece.at = counted_find, counted_at
        return self

    def __exit__(self, *exc):
        wildcard._Piece.find, wildcard._Piece.at = self._find, self._at
        return False

    @property
    def comparisons(self):
        """The most character comparisons the recorded calls can have made."""
        return sum(max(end - start, 0) * max(size, 1) for start, end, size in self.calls)


def match_work(pattern, text):
    """(matched, piece calls, most character comparisons) of one match."""
    compiled = Wildcard(pattern)
    with PieceCalls() as recorded:
        matched = compiled.matches(text)
    return matched, len(recorded.calls), recorded.comparisons
