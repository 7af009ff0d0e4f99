"""Splunk's search-command CSV (the body of an SCP v2 chunk), read and written row by row.

splunkd sends one column per field and, for a multivalue field, a `__mv_<name>` column
holding `$value$;$value$` (a `$` in a value doubled) beside the newline-joined values.
This is the command's record path: rows are streamed, the record the engine reads is built
from the cells, and a row goes back out as its own cells plus the t1114 columns, so the
input fields are never decoded into Python values and encoded again. Never imports
splunklib (splunklib_seam.py beside it joins it to splunklib's protocol handling).
"""

import csv
import io
import re
import sys
from operator import itemgetter

from app.finding import CIM_FIELDS, OUTPUT_FIELDS, expanded_fields, output_fields

MULTIVALUE_PREFIX = "__mv_"
# The same pattern splunklib 2.1.1 decodes with (SearchCommand._encoded_value), so both
# record paths read an oddly encoded cell the same way.
_ENCODED_VALUE = re.compile(r"\$(?P<item>(?:\$\$|[^$])*)\$(?:;|$)")
_CIM = frozenset(CIM_FIELDS)


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
        indexes = tuple(first.values())
        self._plain = indexes == tuple(range(self.width))
        if len(indexes) == 1:
            only = indexes[0]
            self._pick = lambda row: (row[only],)
        else:
            self._pick = itemgetter(*indexes) if indexes else (lambda row: ())
        self._multivalue = tuple(multivalue)
        # The cells Engine.no_rule_wants reads, when the chunk has both fields: (sourcetype
        # index, Operation index, their __mv_ indexes). A row whose __mv_ cells for them are
        # empty has exactly these strings in its record, so it can be decided before one is built.
        self.probe = None
        if "sourcetype" in first and "Operation" in first:
            self.probe = (first["sourcetype"], first["Operation"],
                          tuple(index for index, name in multivalue if name in ("sourcetype", "Operation")))

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
        self._tail = [""] * (len(self.columns) - self.width)
        self._empty_tail = "," * len(self._tail) + SplunkCsv.lineterminator
        # With no finding every t1114 field is empty, also where the input already had one
        # (a second `| t1114`); CIM fields the input has keep their value.
        self._blanked = [index for name, value_index, mv_index in self.slots
                         if name not in _CIM and value_index < self.width
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
        row.extend(self._tail)
        for index in self._blanked:
            row[index] = ""
        return row

    def unannotated_line(self, lines):
        """The same row as CSV text, from the input lines the row was read from, or None
        when it cannot be had by appending empty cells (an input t1114 field to blank)."""
        if self._blanked:
            return None
        text = lines[0] if len(lines) == 1 else "".join(lines)
        # The reader ended the row at this line's end: drop that terminator, add ours.
        if text.endswith("\r\n"):
            text = text[:-2]
        elif text.endswith(("\n", "\r")):
            text = text[:-1]
        return text + self._empty_tail

    def annotated_line(self, lines, record, fields):
        """The annotated row as CSV text: the input line with the output cells appended, or
        None when an input cell must change (a t1114 field or a CIM field it already has)."""
        if self._blanked:
            return None
        tail = list(self._tail)
        width = self.width
        for name, value_index, mv_index in self.slots:
            value = fields[name]
            if value_index < width:
                if name in _CIM and value == record.get(name):
                    continue
                return None
            tail[value_index - width], tail[mv_index - width] = encode_value(value)
        text = lines[0] if len(lines) == 1 else "".join(lines)
        if text.endswith("\r\n"):
            text = text[:-2]
        elif text.endswith(("\n", "\r")):
            text = text[:-1]
        return text + "," + _csv_line(tail)

    def annotated(self, row, record, fields):
        """The output row of an event with findings, given output_fields() for it."""
        row.extend(self._tail)
        for name, value_index, mv_index in self.slots:
            value = fields[name]
            if name in _CIM and value_index < self.width and value == record.get(name):
                continue  # the event's own value, kept: its cells are already right
            row[value_index], row[mv_index] = encode_value(value)
        return row


_LINE = io.StringIO()
_write_line = csv.writer(_LINE, SplunkCsv).writerow


def _csv_line(cells):
    """Cells as one CSV line, quoted as the chunk writer quotes them."""
    _LINE.seek(0)
    _LINE.truncate()
    _write_line(cells)
    return _LINE.getvalue()


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

    def write(self, layout, row):
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
        self._text.write(line)
        self.rows += 1

    def body(self):
        """The encoded body, without copying it (release it before writing more)."""
        self._text.flush()
        return self._bytes.getbuffer()


def annotate_chunk(lines, engine, writer, keep_all, use_allowlist=True, expand=False):
    """Runs every row of one chunk body through the engine, writing the rows to return.

    `lines` is the body as text lines. Rows go out in input order: every row when keep_all
    (mode=all), else only rows with an unsuppressed finding; a dropped row is never
    annotated. With `expand`, a row with findings goes out once per finding it returns
    (expanded_fields), a row without findings once. Returns the number of rows read.
    """
    held = []   # the input lines of the row being read: most rows go back out as that text
    reader = csv.reader(_holding(lines, held), SplunkCsv)
    try:
        header = next(reader)
    except StopIteration:
        return 0
    layout = ChunkLayout(header)
    width = layout.width
    findings_of = engine.findings
    write = writer.write
    count = 0
    probe = layout.probe
    if probe is not None:
        sourcetype_index, operation_index, probe_multivalue = probe
        no_rule_wants = engine.no_rule_wants
    del held[:]
    for row in reader:
        count += 1
        ragged = len(row) != width
        if ragged:
            row = layout.fit(row)
        if (probe is not None and not (probe_multivalue and any(row[index] for index in probe_multivalue))
                and no_rule_wants(row[sourcetype_index], row[operation_index])):
            findings = ()   # no record built: no rule reads this row's operation
        else:
            record = layout.record(row)
            findings = findings_of(record, use_allowlist)
        if not findings:
            if keep_all:
                line = None if ragged else layout.unannotated_line(held)
                if line is None:
                    write(layout, layout.unannotated(row))
                else:
                    writer.write_line(layout, line)
            del held[:]
            continue
        if expand:
            del held[:]
            for finding in findings:
                if keep_all or finding.returned_by_default:
                    write(layout, layout.annotated(list(row), record, expanded_fields(finding, record)))
        elif keep_all or any(finding.returned_by_default for finding in findings):
            fields = output_fields(findings, record)
            line = None if ragged else layout.annotated_line(held, record, fields)
            if line is None:
                write(layout, layout.annotated(row, record, fields))
            else:
                writer.write_line(layout, line)
            del held[:]
        else:
            del held[:]
    return count


def _holding(lines, held):
    """The lines, each also kept in `held` until the caller has used the row it ends."""
    append = held.append
    for line in lines:
        append(line)
        yield line
