"""t1114_protocol.chunk_codec.csv_line: the output cells of an annotated row, written with str
methods, are the text the csv module's writer gives for them, on the Python running the tests
(Python 3.9 and later ones quote a NUL differently: csv_line leaves such cells to the writer)."""

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from t1114_protocol.chunk_codec import SplunkCsv, csv_line

AWKWARD_TEXT = st.text(alphabet=["\x00", '"', ",", "\n", "\r", " ", "$", ";", "a", "Z", "0", ".",
                                 "\u00e9", "\u00b2", "\U0001f600", "\ud800"], max_size=12)
CELLS = st.lists(st.one_of(AWKWARD_TEXT, st.sampled_from(["", "high", "T1114.002", '[{"rule":"x"}]'])),
                 max_size=8)


def _written(cells):
    text = io.StringIO()
    csv.writer(text, SplunkCsv).writerow(cells)
    return text.getvalue()


@given(CELLS)
def test_a_line_is_what_the_csv_writer_writes(cells):
    assert csv_line(cells) == _written(cells)


def test_each_kind_of_cell_is_written_as_the_csv_writer_writes_it():
    cases = [
        ["", ""],                                   # empty cells stay bare
        [""],                                       # one empty cell: the writer quotes it
        [],                                         # no cells: a bare line end
        ["high", "70", "T1114.002"],                # nothing to quote
        ['[{"rule":"a,b"}]', "x"],                  # a quote: quoted, doubled
        ["a,b", "line\nend", "cr\rhere", " lead"],  # delimiter and line ends quoted; a space is not
        ["nul\x00here", "x"],                       # NUL: left to the writer (3.9 quotes it)
        ['nul"\x00', "x"],
        ["\u00b2", "\u00e9t\u00e9", "x"],           # non-ASCII letters and digits
        [5, "x"],                                   # not text: left to the writer
    ]
    for cells in cases:
        assert csv_line(cells) == _written(cells), cells
    assert csv_line(['say "hi"', "b"]) == '"say ""hi""",b\r\n'
