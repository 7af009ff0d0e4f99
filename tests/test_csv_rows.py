"""app/csv_rows.py: CSV rows holding NUL read on Python 3.9 as Python 3.11 and later read them.

Before 3.11 the csv module stops at a NUL with "line contains NUL"; splunkd may send one in any
value. The escaping that lets 3.9 read them runs on every Python here (`_rows_with_nul`), so
3.13 checks it against its own csv module's reading and 3.9 against the rows written.
"""

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from app.csv_rows import _STAND_IN, CSV_READS_NUL, _rows_with_nul, csv_row, csv_rows
from t1114_protocol.chunk_csv import SplunkCsv

AWKWARD_TEXT = st.text(alphabet=["\x00", _STAND_IN, '"', ",", "\n", "\r", "$",
                                 "a", "0", "1", "\u00e9", "\U0001f600"], max_size=12)
ROWS = st.lists(st.lists(AWKWARD_TEXT, min_size=1, max_size=5), max_size=6)


def _written(rows, dialect):
    text = io.StringIO()
    csv.writer(text, dialect).writerows(rows)
    return text.getvalue()


@given(ROWS)
def test_rows_written_with_nul_and_the_stand_in_read_back_as_written(rows):
    for dialect in (SplunkCsv, "excel"):
        text = _written(rows, dialect)
        assert list(_rows_with_nul(io.StringIO(text, newline=""), dialect)) == rows
        assert list(csv_rows(io.StringIO(text, newline=""), dialect)) == rows
        if CSV_READS_NUL:
            assert list(csv.reader(io.StringIO(text, newline=""), dialect)) == rows
        for row in rows:
            assert csv_row(_written([row], dialect), dialect) == row


def test_unquoted_nul_and_a_quoted_cell_across_lines():
    lines = ["a\x00b,c\r\n", '"x\r\n', "y\x00" + _STAND_IN + '0",z\r\n', "plain," + _STAND_IN + "1\r\n"]
    assert list(csv_rows(lines, SplunkCsv)) == [
        ["a\x00b", "c"], ["x\r\ny\x00" + _STAND_IN + "0", "z"], ["plain", _STAND_IN + "1"]]


def test_rows_without_nul_are_the_csv_modules():
    text = 'a,b\r\n"c,d",e\r\n'
    assert list(csv_rows(io.StringIO(text, newline=""))) == list(csv.reader(io.StringIO(text, newline="")))


@given(ROWS)
def test_the_lines_of_each_row_are_held_as_they_came(rows):
    """csv_rows(..., held): when a row is given, `held` holds exactly the lines it was read
    from, unescaped (the chunk reader writes them back), on the escaping path and the other."""
    text = _written(rows, SplunkCsv)
    lines = io.StringIO(text, newline="").readlines()
    for read in (lambda held: csv_rows(iter(lines), SplunkCsv, held),
                 lambda held: _rows_with_nul(iter(lines), SplunkCsv, held)):
        held, rows_held = [], []
        for row in read(held):
            rows_held.append(("".join(held), row))
            del held[:]
        assert [row for _, row in rows_held] == rows
        assert "".join(text for text, _ in rows_held) == text
        for text_held, row in rows_held:
            assert csv_row(text_held, SplunkCsv) == row
