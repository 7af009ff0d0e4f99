"""CSV rows read the same on every Python the app runs on, NUL characters included.

Before Python 3.11 the csv module refuses a line holding a NUL character ("line contains
NUL") and the reader cannot go on after it; from 3.11 it reads NUL as any other character.
Splunk runs app Python on 3.9 and 3.13, and an event may carry a NUL (a binary-ish `_raw`,
an extracted field), so on 3.9 one such event would stop the whole chunk. Here a line holding
NUL is given to the csv module with each NUL written as a stand-in and read back as NUL, which
is what 3.11 and later read.
"""

import collections
import csv
import re
import sys

# Whether this Python's csv reader takes NUL as it takes any other character (3.11 and later).
CSV_READS_NUL = sys.version_info >= (3, 11)

# A noncharacter (U+FDD0), never meant to be interchanged, stands in for NUL. The stand-in
# itself is written as two stand-ins' worth of text so that a line already holding it reads
# back exactly: stand-in + "0" is NUL, stand-in + "1" is the stand-in.
_STAND_IN = "\ufdd0"
_ESCAPED = re.compile(_STAND_IN + "([01])")
_UNESCAPED = {"0": "\x00", "1": _STAND_IN}


def _escape(line):
    return line.replace(_STAND_IN, _STAND_IN + "1").replace("\x00", _STAND_IN + "0")


def _unescape(cell):
    return _ESCAPED.sub(lambda match: _UNESCAPED[match.group(1)], cell) if _STAND_IN in cell else cell


def csv_rows(lines, dialect="excel", held=None):
    """csv.reader(lines, dialect), rows holding NUL read as Python 3.11 reads them. Each line
    read is also appended to the list `held`, when one is given (the chunk reader keeps a
    row's lines to write it back as it came, and empties the list after each row)."""
    if CSV_READS_NUL:
        return csv.reader(lines if held is None else _holding(lines, held), dialect)
    return _rows_with_nul(lines, dialect, held)


def _holding(lines, held):
    append = held.append
    for line in lines:
        append(line)
        yield line


def csv_row(text, dialect="excel"):
    """The first row of one text, next(csv.reader((text,), dialect)), NUL read as 3.11 reads it.
    No generator around the reader: the block path reads its parsed rows one text at a time."""
    if CSV_READS_NUL or "\x00" not in text:
        return next(csv.reader((text,), dialect))
    return [_unescape(cell) for cell in next(csv.reader((_escape(text),), dialect))]


def _rows_with_nul(lines, dialect, held=None):
    escaped = []   # set while the lines of the row being read were escaped
    # One generator both keeps and escapes the lines: a Windows event's row is a dozen lines
    # or more, each passing through every generator stacked here.
    keep = _DISCARD if held is None else held.append

    def stand_ins(lines):
        for line in lines:
            keep(line)
            if "\x00" in line or _STAND_IN in line:
                escaped.append(True)
                line = _escape(line)
            yield line

    for row in csv.reader(stand_ins(lines), dialect):
        if escaped:
            del escaped[:]
            row = [_unescape(cell) for cell in row]
        yield row


_DISCARD = collections.deque(maxlen=0).append   # takes a line and keeps nothing
