"""The chunk body's codec: Splunk's search-command CSV dialect, multivalue cells, where a
chunk's fields sit (ChunkLayout) and the writer of an output body (ChunkWriter).

splunkd sends one column per field and, for a multivalue field, a `__mv_<name>` column
holding `$value$;$value$` (a `$` in a value doubled) beside the newline-joined values.
Never imports splunklib.
"""

import csv
import io
import re
import sys
from operator import itemgetter

from app.finding import CIM_FIELDS, OUTPUT_FIELDS


MULTIVALUE_PREFIX = "__mv_"


# The same pattern splunklib 2.1.1 decodes with (SearchCommand._encoded_value), so both
# record paths read an oddly encoded cell the same way.
_ENCODED_VALUE = re.compile(r"\$(?P<item>(?:\$\$|[^$])*)\$(?:;|$)")


CIM = frozenset(CIM_FIELDS)


class SplunkCsv(csv.Dialect):
    """The dialect splunklib reads and writes chunk bodies with (its CsvDialect)."""

    delimiter = ","
    quotechar = '"'
    doublequote = True
    skipinitialspace = False
    lineterminator = "\n" if sys.platform == "win32" else "\r\n"
    quoting = csv.QUOTE_MINIMAL


def decode_multivalue(encoded):
    """'$a$;$b$$c$' -> ['a', 'b$c']."""
    inner = encoded[1:-1]
    if encoded[:1] == "$" and encoded[-1:] == "$" and len(encoded) > 1 and "$$" not in inner:
        # The usual cell, no `$` in any value: every `$` left is in a `$;$` separator, so a
        # split gives what the pattern gives, at a fraction of the cost.
        items = inner.split("$;$")
        if inner.count("$") == 2 * (len(items) - 1):
            return items
    return [item.replace("$$", "$") for item in _ENCODED_VALUE.findall(encoded)]


def encode_value(value):
    """(value cell, __mv_ cell) for one output value, as splunklib's RecordWriter writes it."""
    if value is None:
        return "", ""
    if isinstance(value, (list, tuple)):
        if not value:
            return "", ""
        if len(value) == 1:
            return encode_value(value[0])
        texts = ["" if item is None else str(item) for item in value]
        return "\n".join(texts), "$" + "$;$".join(text.replace("$", "$$") for text in texts) + "$"
    if isinstance(value, bool):
        return str(int(value)), ""
    return (value if isinstance(value, str) else str(value)), ""


class ChunkLayout:
    """Where a chunk's fields sit: which cells make the engine's record, where the output
    fields go. Built once per chunk from its header row."""

    def __init__(self, header):
        self.width = len(header)
        first = {}
        multivalue = []
        multivalue_column = {}
        for index, name in enumerate(header):
            if name.startswith(MULTIVALUE_PREFIX):
                multivalue.append((index, name[len(MULTIVALUE_PREFIX):]))
                multivalue_column.setdefault(name[len(MULTIVALUE_PREFIX):], index)
            elif name not in first:
                # splunkd sends no repeated column; if one comes, the first counts (splunklib
                # keeps the first too when the chunk has __mv_ columns, the last when not).
                first[name] = index
        self._names = tuple(first)
        self.first = first                          # field -> its (first) value column
        self.multivalue_columns = {}                # field -> its __mv_ columns, in order
        for index, name in multivalue:
            self.multivalue_columns.setdefault(name, []).append(index)
        self.field_names = frozenset(first) | frozenset(self.multivalue_columns)   # the record's possible keys
        indexes = tuple(first.values())
        self._plain = indexes == tuple(range(self.width))
        if len(indexes) == 1:
            only = indexes[0]
            self._pick = lambda row: (row[only],)
        else:
            self._pick = itemgetter(*indexes) if indexes else (lambda row: ())
        self._multivalue = tuple(multivalue)

        # Output: an output field the input already has is rewritten in place (a `__mv_`
        # column is added when it has none); the others are appended as a pair of columns.
        self.columns = list(header)
        self.slots = []                 # (field, value index, __mv_ index), OUTPUT_FIELDS order
        for name in OUTPUT_FIELDS:
            if name in first:
                mv_index = multivalue_column.get(name)
                if mv_index is None:
                    mv_index = len(self.columns)
                    self.columns.append(MULTIVALUE_PREFIX + name)
                self.slots.append((name, first[name], mv_index))
            else:
                self.slots.append((name, len(self.columns), len(self.columns) + 1))
                self.columns.extend((name, MULTIVALUE_PREFIX + name))
        self.tail = [""] * (len(self.columns) - self.width)
        self.empty_tail = "," * len(self.tail) + SplunkCsv.lineterminator
        # With no finding every t1114 field is empty, also where the input already had one
        # (a second `| t1114`); CIM fields the input has keep their value.
        self.blanked = [index for name, value_index, mv_index in self.slots
                         if name not in CIM and value_index < self.width
                         for index in (value_index, mv_index)]

    def fit(self, row):
        """The row padded or cut to the header's width (splunklib's zip() reads it so too)."""
        if len(row) < self.width:
            row.extend([""] * (self.width - len(row)))
        elif len(row) > self.width:
            del row[self.width:]
        return row

    def record(self, row):
        """The mapping the engine reads: field -> string, or list for a multivalue field."""
        if self._plain:
            return dict(zip(self._names, row))
        record = dict(zip(self._names, self._pick(row)))
        for index, name in self._multivalue:
            encoded = row[index]
            if encoded:
                record[name] = decode_multivalue(encoded)
        return record

    def unannotated(self, row):
        """The output row of an event without findings: its cells, the t1114 fields empty."""
        row.extend(self.tail)
        for index in self.blanked:
            row[index] = ""
        return row

    def unannotated_line(self, lines):
        """The same row as CSV text, from the input lines the row was read from, or None
        when it cannot be had by appending empty cells (an input t1114 field to blank)."""
        if self.blanked:
            return None
        # The reader ended the row at this line's end: drop that terminator, add ours.
        return without_line_end(lines[0] if len(lines) == 1 else "".join(lines)) + self.empty_tail

    def annotated_line(self, lines, record, fields):
        """The annotated row as CSV text: the input line with the output cells appended, or
        None when an input cell must change (a t1114 field or a CIM field it already has)."""
        if self.blanked:
            return None
        tail = list(self.tail)
        width = self.width
        for name, value_index, mv_index in self.slots:
            value = fields[name]
            if value_index < width:
                if name in CIM and value == record.get(name):
                    continue
                return None
            tail[value_index - width], tail[mv_index - width] = encode_value(value)
        return without_line_end(lines[0] if len(lines) == 1 else "".join(lines)) + "," + csv_line(tail)

    def annotated(self, row, record, fields):
        """The output row of an event with findings, given output_fields() for it."""
        row.extend(self.tail)
        for name, value_index, mv_index in self.slots:
            value = fields[name]
            if name in CIM and value_index < self.width and value == record.get(name):
                continue  # the event's own value, kept: its cells are already right
            row[value_index], row[mv_index] = encode_value(value)
        return row


_LINE = io.StringIO()


_write_line = csv.writer(_LINE, SplunkCsv).writerow


def csv_line(cells):
    """Cells as one CSV line, quoted as the chunk writer quotes them: a cell holding the
    delimiter, the quote or a line-end character quoted, its quotes doubled (QUOTE_MINIMAL).
    Written with str methods, which look at a long cell (an event's findings as JSON) in one
    pass each; the csv module's writer steps through it a character at a time. Anything else
    (a cell that is not text, a NUL, which Python 3.9's writer quotes and later ones do not,
    one empty cell, which the writer quotes, Windows' line end) is left to the csv module;
    tests/test_csv_line.py holds the two to the same text."""
    if len(cells) > 1 and _LINE_END == "\r\n":   # (on Windows the writer's own rules)
        written = []
        for cell in cells:
            if type(cell) is not str:
                break
            if cell and not cell.isalnum():
                if "\0" in cell:
                    break
                if '"' in cell:
                    cell = '"' + cell.replace('"', '""') + '"'
                elif "," in cell or "\n" in cell or "\r" in cell:
                    cell = '"' + cell + '"'
            written.append(cell)
        else:
            return ",".join(written) + _LINE_END
    _LINE.seek(0)
    _LINE.truncate()
    _write_line(cells)
    return _LINE.getvalue()


_LINE_END = SplunkCsv.lineterminator


class ChunkWriter:
    """An output chunk body, encoded to UTF-8 as rows are written (no second copy as text)."""

    def __init__(self):
        self._bytes = io.BytesIO()
        # Input was decoded with errors="replace"; a lone surrogate can still come out of a
        # JSON `\ud800` escape in _raw, and must not end the search.
        self._text = io.TextIOWrapper(self._bytes, encoding="utf-8", errors="replace", newline="")
        self._writerow = csv.writer(self._text, SplunkCsv).writerow
        self.rows = 0
        self._header = None
        # Lines from write_line, encoded a few hundred at a time: one write per line pays the
        # encoder's bookkeeping per line, a noticeable part of a small row's whole cost.
        self._lines = []

    def write(self, layout, row):
        if self._lines:
            self._write_lines()
        if self._header is None:
            self._header = layout.columns
            self._writerow(layout.columns)
        self._writerow(row)
        self.rows += 1

    def write_line(self, layout, line):
        """A row already in CSV form (from ChunkLayout.unannotated_line)."""
        if self._header is None:
            self._header = layout.columns
            self._writerow(layout.columns)
        lines = self._lines
        lines.append(line)
        self.rows += 1
        if len(lines) >= _LINES_PER_WRITE:
            self._write_lines()

    def _write_lines(self):
        self._text.write("".join(self._lines))
        del self._lines[:]

    def body(self):
        """The encoded body, without copying it (release it before writing more)."""
        if self._lines:
            self._write_lines()
        self._text.flush()
        return self._bytes.getbuffer()


_LINES_PER_WRITE = 256


def cell_text(value):
    """One cell as the chunk writer writes it inside a row."""
    return csv_line((value,))[:-len(SplunkCsv.lineterminator)] if value else ""


def without_line_end(text, start=0, end=None):
    """text[start:end], a row as read, without the line end it was read with."""
    end = len(text) if end is None else end
    if text.endswith("\r\n", start, end):
        return text[start:end - 2]
    if text.endswith(("\n", "\r"), start, end):
        return text[start:end - 1]
    return text[start:end]
