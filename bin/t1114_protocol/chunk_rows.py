"""The block record path's row reader: a regex per chunk matching one whole row, capturing
only the cells the engine is expected to read (RowPattern), and the record such a row gives,
its other cells decoded only when asked for (LazyRecord).

Most rows of a chunk go back out unchanged, and the engine reads a handful of a row's 30-90
cells (an Office 365 record is read from `_raw`). Parsing every cell of every row with the
csv module is most of what a bare passthrough costs, so the block path does not: a row's
other cells are never decoded unless the engine asks for one, and then the row is parsed by
the csv module as the plain path would. A row the regex does not match (not exactly `width`
cells, a bare CR, a quote inside an unquoted cell: nothing splunkd writes) sends the rest of
the chunk through the plain path (chunk_csv.py), so the output is the plain path's in every case.
"""

import re
import sys
from operator import itemgetter

from app.csv_rows import csv_row
from app.normalise import PROBE_FIELDS
from app.normalise.o365 import READER as O365_READER

from .chunk_codec import SplunkCsv, decode_multivalue


# One cell as splunkd and csv.writer write it: quoted (quotes doubled inside) or plain. A
# cell matches in exactly one way, so from Python 3.11 its repeats are possessive (no
# backtracking state kept): the same matches, with no state kept for retries that cannot
# succeed (docs/performance.md has the measurement).
_POSSESSIVE = "+" if sys.version_info >= (3, 11) else ""
_CELL = r'(?:"[^"]*{0}(?:""[^"]*{0})*{0}"|[^",\r\n]*{0})'.format(_POSSESSIVE)


# A cell not captured. The pattern spells out every cell rather than repeating one with {n}:
# sre's bookkeeping per repeat costs more than reading the longer pattern.
_SKIPPED_CELL = "(?:%s,)" % _CELL


# A whole row as far as quotes go: text up to a line end outside quotes. Where the row
# pattern fails and this matches, the row is there and not one the pattern reads.
ROW_END = re.compile(r'[^"\n]*(?:"[^"]*"[^"\n]*)*\n')


# Fields read from most rows that reach the engine: the o365 reader's recognition fields (the
# probe's among them; it reads an audit record from `_raw` alone), the event time, the other
# recognisers' first looks. Others are added per chunk as the engine asks for them (LazyRecord.get).
FIRST_CAPTURED = O365_READER.fields["recognition"] + ("_time", "source", "EventCode", "EventID")


# Past this many captured columns, or a third of the row, parsing the row whole is as cheap.
_MOST_CAPTURED = 40


def _unquoted(cell):
    return cell[1:-1].replace('""', '"') if cell[:1] == '"' else cell


class RowPattern:
    """A regex matching one whole row of a chunk (exactly `width` cells and its line end),
    capturing the cells of `fields` (their value column and every `__mv_` column)."""

    def __init__(self, layout, fields):
        columns = set()
        self.fields = []
        for name in sorted(fields):
            if name not in layout.field_names:
                continue
            self.fields.append(name)
            if name in layout.first:
                columns.add(layout.first[name])
            columns.update(layout.multivalue_columns.get(name, ()))
        self.columns = sorted(columns)
        group = {index: number for number, index in enumerate(self.columns)}
        self.group_of = group   # column index -> its group number (0-based, as in groups())
        # How each captured field's value is read from the groups: {name: (value group or None,
        # __mv_ groups)}, the record's semantics (ChunkLayout.record): the last non-empty __mv_
        # cell decoded, else the value cell, else no key at all.
        self.reader_of = {name: (group.get(layout.first.get(name)),
                                 tuple(group[index] for index in layout.multivalue_columns.get(name, ())))
                          for name in self.fields}
        parts, previous = [], -1
        for index in self.columns:
            if index - previous - 1:
                parts.append(_SKIPPED_CELL * (index - previous - 1))
            parts.append("(%s)," % _CELL)
            previous = index
        left = layout.width - previous - 1
        if left:
            parts.append(_SKIPPED_CELL * (left - 1) + _CELL)
        else:
            parts[-1] = parts[-1][:-1]   # the last captured cell ends the row: no comma after it
        self.match = re.compile("".join(parts) + r"\r?\n").match

    def value(self, name, groups):
        """A captured field's value in a row's groups, as ChunkLayout.record gives it, or
        _ABSENT when the row has no cell for it."""
        value_group, multivalue_groups = self.reader_of[name]
        for number in reversed(multivalue_groups):
            encoded = groups[number]
            if encoded:
                return decode_multivalue(_unquoted(encoded))
        if value_group is None:
            return _ABSENT
        return _unquoted(groups[value_group])


class LazyRecord:
    """The record ChunkLayout.record() would build for a row, read-only, decoding a cell only
    when the engine asks for it: the captured fields are known, a field the chunk does not
    have is absent, and any other field parses the whole row with the csv module once."""

    __slots__ = ("_known", "_pattern", "_groups", "_layout", "_text", "_full", "_missed")

    def __init__(self, layout, pattern, groups, text, missed):
        self._layout = layout
        self._pattern = pattern     # the RowPattern that matched the row
        self._groups = groups       # its groups: the captured cells, as sent
        self._known = {}            # captured fields decoded so far (most are never asked for)
        self._text = text           # the row as sent, line end included
        self._full = None
        self._missed = missed       # the chunk's tally of fields asked for and not captured

    def get(self, key, default=None):
        known = self._known
        if key in known:
            value = known[key]
        elif key in self._pattern.reader_of:
            value = known[key] = self._pattern.value(key, self._groups)
        elif key not in self._layout.field_names:
            return default
        else:
            self._missed[key] = self._missed.get(key, 0) + 1
            return self.full().get(key, default)
        return default if value is _ABSENT else value

    def __getitem__(self, key):
        value = self.get(key, _ABSENT)
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def __contains__(self, key):
        return self.get(key, _ABSENT) is not _ABSENT

    def __iter__(self):
        return iter(self.full())

    def __len__(self):
        return len(self.full())

    def keys(self):
        return self.full().keys()

    def items(self):
        return self.full().items()

    def values(self):
        return self.full().values()

    def cells(self):
        """The row's cells, parsed by the csv module as the plain path reads them."""
        return cells_of(self._text)

    def full(self):
        """The whole record, as the plain path builds it."""
        if self._full is None:
            self._full = self._layout.record(self.cells())
        return self._full


_ABSENT = object()


def cells_of(row_text):
    """One row's cells, read by the csv module as the plain path reads them."""
    return csv_row(row_text, SplunkCsv)


def cells_getter(pattern, fields):
    """groups -> a tuple of the cells (value and __mv_) of `fields`, which the pattern captures."""
    numbers = []
    for name in fields:
        value_group, multivalue_groups = pattern.reader_of[name]
        if value_group is not None:
            numbers.append(value_group)
        numbers.extend(multivalue_groups)
    if not numbers:
        return lambda groups: ()
    if len(numbers) == 1:
        only = numbers[0]
        return lambda groups: (groups[only],)
    return itemgetter(*numbers)


def route_readers(pattern):
    """(groups -> the row's probe cells (PROBE_FIELDS: sourcetype and Operation), value and
    __mv_, as sent; and the two _single_value_readers): _route() is a function of those cells."""
    return (cells_getter(pattern, [name for name in PROBE_FIELDS if name in pattern.reader_of]),
            ) + _single_value_readers(pattern)


def _single_value_readers(pattern):
    """Functions of a row's groups giving its probe cells (sourcetype, Operation), each None
    when the chunk lacks the field or the row has several values for it."""
    def reader_of(name):
        value_group, multivalue_groups = pattern.reader_of.get(name, (None, ()))
        if value_group is None:
            return lambda groups: None

        def single(groups):
            for number in multivalue_groups:
                if groups[number]:
                    return None
            return _unquoted(groups[value_group])
        return single
    return tuple(reader_of(name) for name in PROBE_FIELDS)


def widened(layout, pattern, missed):
    """The row pattern capturing also the fields the engine asked for and did not find
    captured, while that keeps it much cheaper than parsing the whole row."""
    wanted = set(pattern.fields) | set(missed)
    missed.clear()
    if len(wanted) > min(_MOST_CAPTURED, layout.width // 3 + len(FIRST_CAPTURED)):
        return pattern
    return RowPattern(layout, wanted)
