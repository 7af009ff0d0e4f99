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
import itertools
import re
import sys
from operator import itemgetter

from app.csv_rows import csv_row, csv_rows
from app.finding import CIM_FIELDS, OUTPUT_FIELDS, expanded_fields, output_fields
from app.normalise import O365_SOURCETYPE_PREFIXES

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
        # The reader ended the row at this line's end: drop that terminator, add ours.
        return _without_line_end(lines[0] if len(lines) == 1 else "".join(lines)) + self._empty_tail

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
        return _without_line_end(lines[0] if len(lines) == 1 else "".join(lines)) + "," + _csv_line(tail)

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
        # Lines from write_line, encoded a few hundred at a time: one write per line costs the
        # encoder's bookkeeping per line (about 1 us, a tenth of a small row's whole cost).
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


def annotate_chunk(lines, engine, writer, keep_all, use_allowlist=True, expand=False):
    """Runs every row of one chunk body through the engine, writing the rows to return.

    `lines` is the body as text lines. Rows go out in input order: every row when keep_all
    (mode=all), else only rows with an unsuppressed finding; a dropped row is never
    annotated. With `expand`, a row with findings goes out once per finding it returns
    (expanded_fields), a row without findings once. Returns the number of rows read.
    This is the plain form: every row is parsed by the csv module. annotate_stream() gives
    the same output faster, and falls back to this for a body it does not read.
    """
    held, reader, layout = _header(lines)
    if layout is None:
        return 0
    return _annotate_rows(reader, held, layout, engine, writer, keep_all, use_allowlist, expand)


def _header(lines):
    """(held, row reader, ChunkLayout) of a body's lines, its header row read; the layout is
    None for an empty body. `held` keeps the input lines of the row being read: most rows go
    back out as that text."""
    held = []
    reader = csv_rows(_holding(lines, held), SplunkCsv)
    try:
        header = next(reader)
    except StopIteration:
        return held, reader, None
    del held[:]
    return held, reader, ChunkLayout(header)


def _annotate_rows(reader, held, layout, engine, writer, keep_all, use_allowlist, expand):
    width = layout.width
    findings_of = engine.findings
    write = writer.write
    count = 0
    probe = layout.probe
    if probe is not None:
        sourcetype_index, operation_index, probe_multivalue = probe
        no_rule_wants = engine.no_rule_wants
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


# --- The block path: rows matched by one regex, cells decoded only when read ---------------
#
# Most rows of a chunk go back out unchanged, and the engine reads a handful of a row's 30-90
# cells (an Office 365 record is read from `_raw`). Parsing every cell of every row with the
# csv module is most of what a bare passthrough costs, so annotate_stream() does not: a regex
# built for the chunk's header matches one whole row of exactly `width` cells, capturing only
# the columns the probe and the engine are expected to read; the row's other cells are never
# decoded unless the engine asks for one, and then the row is parsed by the csv module as the
# plain path would (LazyRecord). A row the regex does not match (not exactly `width` cells, a
# bare CR, a quote inside an unquoted cell: nothing splunkd writes) sends the rest of the
# chunk through the plain path, so the output is the plain path's in every case.

# One cell as splunkd and csv.writer write it: quoted (quotes doubled inside) or plain. A
# cell matches in exactly one way, so from Python 3.11 its repeats are possessive (no
# backtracking state kept): the same matches, in about 60 % of the time (10.5 against 18 us
# a MailItemsAccessed row on 3.13).
_POSSESSIVE = "+" if sys.version_info >= (3, 11) else ""
_CELL = r'(?:"[^"]*{0}(?:""[^"]*{0})*{0}"|[^",\r\n]*{0})'.format(_POSSESSIVE)
# A cell not captured. The pattern spells out every cell rather than repeating one with {n}:
# sre's bookkeeping per repeat costs more than the longer pattern (a 5 KB row: 13.7 against
# 14.6 us on 3.9, 9.5 against 10.0 on 3.13; 16 against 20 on the wider tenant header).
_SKIPPED_CELL = "(?:%s,)" % _CELL
_BLOCK_CHARS = 1 << 20
# A whole row as far as quotes go: text up to a line end outside quotes. Where the row
# pattern fails and this matches, the row is there and not one the pattern reads.
_ROW_END = re.compile(r'[^"\n]*(?:"[^"]*"[^"\n]*)*\n')
# Fields read from most rows that reach the engine: the probe's, the o365 reader's (which
# reads an audit record from `_raw` alone), the event time, the recognisers' first looks.
# Others are added per chunk as the engine asks for them (LazyRecord.get).
_FIRST_CAPTURED = ("sourcetype", "Operation", "_raw", "_time", "Workload", "RecordType", "source",
                   "EventCode", "EventID")
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
        return _cells_of(self._text)

    def full(self):
        """The whole record, as the plain path builds it."""
        if self._full is None:
            self._full = self._layout.record(self.cells())
        return self._full


_ABSENT = object()


def _cells_of(row_text):
    """One row's cells, read by the csv module as the plain path reads them."""
    return csv_row(row_text, SplunkCsv)


def _cells_getter(pattern, fields):
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


def annotate_stream(stream, engine, writer, keep_all, use_allowlist=True, expand=False):
    """annotate_chunk() for a chunk body read from a text stream, rows matched by a regex
    instead of parsed cell by cell (see above). The same rows, in the same order, byte for
    byte; returns the number of rows read."""
    held, reader, layout = _header(stream)
    if layout is None:
        return 0
    if layout.width < 2:   # a one-column chunk: an empty line is a row there, not for the regex
        return _annotate_rows(reader, held, layout, engine, writer, keep_all, use_allowlist, expand)
    wanted = set(_FIRST_CAPTURED) | {name for name, _, _ in layout.slots if name in _CIM}
    missed = {}
    findings_of = engine.findings
    no_rule_wants = engine.no_rule_wants
    write, write_line = writer.write, writer.write_line
    empty_tail = layout._empty_tail
    blanked = bool(layout._blanked)
    probe = layout.probe is not None
    pattern = RowPattern(layout, wanted)
    route_cells, sourcetype_of, operation_of = _route_readers(pattern)
    routes = {}   # the sourcetype and Operation cells (route_cells) -> _route()
    count = parsed = 0
    text, position, at_end = "", 0, False
    while True:
        if count == _SAMPLE_ROWS and parsed * 4 > count * 3:
            # The regex pays where the csv module's cost per character is most of a row's: not
            # when most rows are ones the engine reads many fields of (Windows events the gates
            # do not answer from their text), each parsed whole anyway. The plain path takes the rest.
            return count + _rest_by_plain_path(text, position, at_end, stream, held, layout, engine, writer,
                                               keep_all, use_allowlist, expand)
        match = pattern.match(text, position)
        if match is None:
            if position >= len(text) and at_end:
                return count
            if not at_end and _ROW_END.match(text, position) is None:
                # The row runs past what has been read: read on (at least as much again, so a
                # row of many megabytes costs a linear number of tries).
                more = stream.read(max(_BLOCK_CHARS, len(text) - position))
                text = text[position:] + more
                position = 0
                if not more:
                    at_end = True
                    if text and not text.endswith("\n"):
                        text += "\n"   # the body's last row, sent without a line end
                continue
            # A whole row (its quotes balanced before a line end), not one this regex reads:
            # the plain path takes the rest of the chunk from it.
            return count + _rest_by_plain_path(text, position, at_end, stream, held, layout, engine, writer,
                                               keep_all, use_allowlist, expand)
        count += 1
        start, position = position, match.end()
        groups = match.groups()
        matched_by = pattern   # the pattern may widen below; the match's groups are this one's
        cells = record = None
        route_key = route_cells(groups)
        route = routes.get(route_key)
        if route is None:
            route = _route(sourcetype_of(groups), operation_of(groups), probe, no_rule_wants)
            if len(routes) < _MOST_ROUTES:
                routes[route_key] = route
        if route is _UNWANTED:
            findings = ()
        else:
            if route is _LAZY:
                record = LazyRecord(layout, pattern, groups, text[start:position], missed)
                findings = findings_of(record, use_allowlist)
            else:
                parsed += 1
                cells = _cells_of(text[start:position])
                record = layout.record(cells)
                findings = findings_of(record, use_allowlist)
            if missed:
                pattern = _widened(layout, pattern, missed)
                route_cells, sourcetype_of, operation_of = _route_readers(pattern)
        if not findings:
            if keep_all:
                if blanked:
                    if cells is None:
                        cells = _cells_of(text[start:position])
                    write(layout, layout.unannotated(cells))
                else:
                    # The row as read without its line end (\r\n or \n: a cell holds no bare \r).
                    write_line(layout, text[start:position - 2 if text[position - 2] == "\r" else position - 1]
                               + empty_tail)
            continue
        if cells is None:
            cells_of = record.cells
        else:
            cells_of = cells.copy
        if expand:
            for finding in findings:
                if keep_all or finding.returned_by_default:
                    write(layout, layout.annotated(cells_of(), record, expanded_fields(finding, record)))
        elif keep_all or any(finding.returned_by_default for finding in findings):
            fields = output_fields(findings, record)
            line = _spliced_line(layout, matched_by, match, text, start, position, record, fields)
            if line is None:
                write(layout, layout.annotated(cells_of(), record, fields))
            else:
                write_line(layout, line)


# Rows of these sourcetypes get a LazyRecord: their reader takes an audit record from `_raw`
# and reads a few other fields. Others (Windows events: dozens of spellings looked up a row)
# get the plain record, whose lookups cost less than a LazyRecord's.
LAZY_SOURCETYPE_PREFIXES = O365_SOURCETYPE_PREFIXES
# Rows read before the chunk decides whether the regex is worth it (see annotate_stream).
_SAMPLE_ROWS = 200


def _rest_by_plain_path(text, position, at_end, stream, held, layout, engine, writer, keep_all, use_allowlist,
                        expand):
    """The rest of the chunk (text from `position`, then the stream) through the plain path."""
    if not at_end and not text.endswith("\n"):
        text += stream.readline()   # the plain path reads lines: end the text at one
    lines = _lines_of(text, position)
    if not at_end:
        lines = itertools.chain(lines, stream)
    return _annotate_rows(csv_rows(_holding(lines, held), SplunkCsv), held, layout, engine, writer, keep_all,
                          use_allowlist, expand)


def _lines_of(text, position):
    """The text's lines from `position`, each with its \\n, as a stream's readline gives them
    (no StringIO: it would hold the text again at 4 bytes a character)."""
    end = len(text)
    while position < end:
        found = text.find("\n", position)
        stop = end if found < 0 else found + 1
        yield text[position:stop]
        position = stop


def _route_readers(pattern):
    """(groups -> the row's sourcetype and Operation cells, value and __mv_, as sent; and the
    two _single_value_readers): _route() is a function of those cells."""
    return (_cells_getter(pattern, [name for name in ("sourcetype", "Operation") if name in pattern.reader_of]),
            ) + _single_value_readers(pattern)


def _single_value_readers(pattern):
    """Functions of a row's groups giving its sourcetype and Operation cells, or None when the
    chunk lacks the field or the row has several values for it."""
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
    return reader_of("sourcetype"), reader_of("Operation")


# How annotate_stream reads a row, by its sourcetype and Operation (_route).
_UNWANTED, _LAZY, _PARSED = "unwanted", "lazy", "parsed"
_MOST_ROUTES = 4096   # distinct (sourcetype, Operation) pairs remembered in a chunk


def _route(sourcetype, operation, probe, no_rule_wants):
    """_UNWANTED when Engine.no_rule_wants rules the row out on its sourcetype and Operation
    cells (asked as the plain path asks it: only when the chunk has both fields and neither has
    a multivalue cell), else _LAZY for a LazyRecord, else _PARSED. Each is None when the chunk
    lacks the field or the row has several values for it."""
    if probe and sourcetype is not None and operation is not None and no_rule_wants(sourcetype, operation):
        return _UNWANTED
    if sourcetype is not None and sourcetype.lower().startswith(LAZY_SOURCETYPE_PREFIXES):
        return _LAZY
    return _PARSED


def _spliced_line(layout, pattern, match, text, start, end, record, fields):
    """ChunkLayout.annotated_line for a row the pattern matched, also when CIM cells the
    pattern captured change (the event's own `user` differs from the finding's): the row's
    text with those cells replaced, plus the t1114 cells. None when another input cell must
    change (a t1114 field the input already has, a CIM cell not captured)."""
    width = layout.width
    tail = list(layout._tail)
    replaced = []   # (span start, span end, new cell text)
    group_of = pattern.group_of
    for name, value_index, mv_index in layout.slots:
        value = fields[name]
        if value_index >= width:
            tail[value_index - width], tail[mv_index - width] = encode_value(value)
            continue
        if name not in _CIM:
            return None
        if value == record.get(name):
            continue
        cell, mv_cell = encode_value(value)
        for index, new in ((value_index, cell), (mv_index, mv_cell)):
            if index >= width:
                tail[index - width] = new
                continue
            number = group_of.get(index)
            if number is None:
                return None
            span = match.span(number + 1)
            replaced.append((span[0], span[1], _cell_text(new)))
    replaced.sort()
    pieces, at = [], start
    for begin, finish, new in replaced:
        pieces.append(text[at:begin])
        pieces.append(new)
        at = finish
    pieces.append(_without_line_end(text, at, end))
    return "".join(pieces) + "," + _csv_line(tail)


def _cell_text(value):
    """One cell as the chunk writer writes it inside a row."""
    return _csv_line((value,))[:-len(SplunkCsv.lineterminator)] if value else ""


def _without_line_end(text, start=0, end=None):
    """text[start:end], a row as read, without the line end it was read with."""
    end = len(text) if end is None else end
    if text.endswith("\r\n", start, end):
        return text[start:end - 2]
    if text.endswith(("\n", "\r"), start, end):
        return text[start:end - 1]
    return text[start:end]


def _widened(layout, pattern, missed):
    """The row pattern capturing also the fields the engine asked for and did not find
    captured, while that keeps it much cheaper than parsing the whole row."""
    wanted = set(pattern.fields) | set(missed)
    missed.clear()
    if len(wanted) > min(_MOST_CAPTURED, layout.width // 3 + len(_FIRST_CAPTURED)):
        return pattern
    return RowPattern(layout, wanted)
