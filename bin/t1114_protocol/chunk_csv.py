"""The command's record path: one chunk body in, its output rows out.

Rows are streamed, the record the engine reads is built from the cells, and a row goes back
out as its own cells plus the t1114 columns, so the input fields are never decoded into
Python values and encoded again. annotate_stream() is the block record path (rows matched
by a regex, chunk_rows.py); annotate_chunk() the plain record path (every row parsed by the
csv module), which the block path hands a chunk to when the regex does not pay or does not
read a row. The codec (dialect, multivalue cells, layout, writer) is chunk_codec.py. Never
imports splunklib (splunklib_seam.py beside it joins it to splunklib's protocol handling).
"""

import itertools

from app.csv_rows import csv_rows
from app.finding import expanded_fields, output_fields
from app.normalise import PROBE_FIELDS, is_o365_sourcetype

from .chunk_codec import (CIM, ChunkLayout, ChunkWriter, SplunkCsv, cell_text, csv_line,  # noqa: F401
                          decode_multivalue, encode_value, without_line_end)
from .chunk_rows import (FIRST_CAPTURED, ROW_END, LazyRecord, RowPattern, cells_of,  # noqa: F401
                         route_readers, widened)


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
    return _annotate_rows(_plain_rows(reader, held, layout, engine), layout, engine, writer, keep_all,
                          use_allowlist, expand)


def annotate_stream(stream, engine, writer, keep_all, use_allowlist=True, expand=False):
    """annotate_chunk() for a chunk body read from a text stream, rows matched by a regex
    instead of parsed cell by cell (_block_rows). The same rows, in the same order, byte for
    byte; returns the number of rows read."""
    held, reader, layout = _header(stream)
    if layout is None:
        return 0
    if layout.width < 2:   # a one-column chunk: an empty line is a row there, not for the regex
        rows = _plain_rows(reader, held, layout, engine)
    else:
        rows = _block_rows(stream, held, layout, engine)
    return _annotate_rows(rows, layout, engine, writer, keep_all, use_allowlist, expand)


def _annotate_rows(rows, layout, engine, writer, keep_all, use_allowlist, expand):
    """The one row loop of both record paths: each row of `rows` (_PlainRow or _BlockRow,
    which know how their row was read and how it goes back out) through the engine."""
    findings_of = engine.findings
    count = 0
    for row in rows:
        count += 1
        record = row.record()
        findings = () if record is None else findings_of(record, use_allowlist)
        if not findings:
            if keep_all:
                row.write_unannotated(writer)
            continue
        if expand:
            for finding in findings:
                if keep_all or finding.returned_by_default:
                    writer.write(layout, layout.annotated(row.cells(), record, expanded_fields(finding, record)))
        elif keep_all or any(finding.returned_by_default for finding in findings):
            row.write_annotated(writer, record, output_fields(findings, record))
    return count


def _header(lines):
    """(held, row reader, ChunkLayout) of a body's lines, its header row read; the layout is
    None for an empty body. `held` keeps the input lines of the row being read: most rows go
    back out as that text."""
    held = []
    reader = csv_rows(lines, SplunkCsv, held)
    try:
        header = next(reader)
    except StopIteration:
        return held, reader, None
    del held[:]
    return held, reader, ChunkLayout(header)


def probe_columns(layout):
    """(the value column of each PROBE_FIELDS field, their __mv_ columns) when the chunk has
    them all, else None: the cells Engine.no_rule_wants decides on. A row whose __mv_ cells
    for them are empty has exactly those strings in its record, so it can be decided before
    one is built."""
    if not all(name in layout.first for name in PROBE_FIELDS):
        return None
    return (tuple(layout.first[name] for name in PROBE_FIELDS),
            tuple(index for name in PROBE_FIELDS for index in layout.multivalue_columns.get(name, ())))


# --- The plain path: every row parsed by the csv module -------------------------------------

def _plain_rows(reader, held, layout, engine):
    """Each row the csv reader gives, as one _PlainRow (the same object, moved on)."""
    row = _PlainRow(layout, held, engine)
    for cells in reader:
        row.read(cells)
        yield row
        del held[:]


class _PlainRow:
    """A row parsed by the csv module, with the input lines it was read from."""

    __slots__ = ("_layout", "_held", "_cells", "_ragged", "_probe", "_no_rule_wants")

    def __init__(self, layout, held, engine):
        self._layout = layout
        self._held = held
        self._probe = probe_columns(layout)
        self._no_rule_wants = engine.no_rule_wants
        self._cells = None
        self._ragged = False

    def read(self, cells):
        self._ragged = ragged = len(cells) != self._layout.width
        self._cells = self._layout.fit(cells) if ragged else cells

    def record(self):
        """The record the engine reads, or None when the probe rules every finding out (no
        record is built: no rule reads this row's operation)."""
        cells, probe = self._cells, self._probe
        if probe is not None:
            (sourcetype_index, operation_index), multivalue = probe
            if (not (multivalue and any(cells[index] for index in multivalue))
                    and self._no_rule_wants(cells[sourcetype_index], cells[operation_index])):
                return None
        return self._layout.record(cells)

    def cells(self):
        return list(self._cells)

    def write_unannotated(self, writer):
        layout = self._layout
        line = None if self._ragged else layout.unannotated_line(self._held)
        if line is None:
            writer.write(layout, layout.unannotated(self._cells))
        else:
            writer.write_line(layout, line)

    def write_annotated(self, writer, record, fields):
        layout = self._layout
        line = None if self._ragged else layout.annotated_line(self._held, record, fields)
        if line is None:
            writer.write(layout, layout.annotated(self._cells, record, fields))
        else:
            writer.write_line(layout, line)


# --- The block path: rows matched by one regex, cells decoded only when read ---------------
#
# Most rows of a chunk go back out unchanged, and the engine reads a handful of a row's 30-90
# cells (an Office 365 record is read from `_raw`). Parsing every cell of every row with the
# csv module is most of what a bare passthrough costs, so _block_rows does not: a regex built
# for the chunk's header matches one whole row of exactly `width` cells, capturing only the
# columns the probe and the engine are expected to read; the row's other cells are never
# decoded unless the engine asks for one, and then the row is parsed by the csv module as the
# plain path would (LazyRecord). A row the regex does not match (not exactly `width` cells, a
# bare CR, a quote inside an unquoted cell: nothing splunkd writes) sends the rest of the
# chunk through the plain path, so the output is the plain path's in every case.

_BLOCK_CHARS = 1 << 20


def _block_rows(stream, held, layout, engine):
    """Each row of the body as one _BlockRow (the same object, moved on), then, from a row the
    regex does not read or when it does not pay, the rest as _plain_rows."""
    wanted = set(FIRST_CAPTURED) | {name for name, _, _ in layout.slots if name in CIM}
    missed = {}
    row = _BlockRow(layout, missed)
    no_rule_wants = engine.no_rule_wants
    probe = probe_columns(layout) is not None
    pattern = RowPattern(layout, wanted)
    route_cells, sourcetype_of, operation_of = route_readers(pattern)
    routes = {}   # the sourcetype and Operation cells (route_cells) -> _route()
    count = parsed = 0
    text, position, at_end = "", 0, False
    while True:
        if count == _SAMPLE_ROWS and parsed * 4 > count * 3:
            # The regex pays where the csv module's cost per character is most of a row's: not
            # when most rows are ones the engine reads many fields of (Windows events the gates
            # do not answer from their text), each parsed whole anyway. The plain path takes the rest.
            break
        match = pattern.match(text, position)
        if match is None:
            if position >= len(text) and at_end:
                return
            if not at_end and ROW_END.match(text, position) is None:
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
            break
        count += 1
        start, position = position, match.end()
        groups = match.groups()
        route_key = route_cells(groups)
        route = routes.get(route_key)
        if route is None:
            route = _route(sourcetype_of(groups), operation_of(groups), probe, no_rule_wants)
            if len(routes) < _MOST_ROUTES:
                routes[route_key] = route
        if route is _PARSED:
            parsed += 1
        row.read(pattern, match, groups, text, start, position, route)
        yield row
        if missed:
            pattern = widened(layout, pattern, missed)
            route_cells, sourcetype_of, operation_of = route_readers(pattern)
    yield from _rest_by_plain_path(text, position, at_end, stream, held, layout, engine)


class _BlockRow:
    """A row the chunk's RowPattern matched: its text, the match, and how it was routed."""

    __slots__ = ("_layout", "_missed", "_pattern", "_match", "_groups", "_text", "_start", "_end", "_route",
                 "_cells", "_record")

    def __init__(self, layout, missed):
        self._layout = layout
        self._missed = missed    # the chunk's tally of fields the engine asked for and the pattern did not capture

    def read(self, pattern, match, groups, text, start, end, route):
        self._pattern = pattern   # the pattern that matched the row (it may widen for the next)
        self._match, self._groups = match, groups
        self._text, self._start, self._end = text, start, end
        self._route = route
        self._cells = self._record = None

    def record(self):
        """None when the probe rules every finding out, else a LazyRecord (Office 365 rows) or
        the plain record of the row's parsed cells."""
        route = self._route
        if route is _UNWANTED:
            return None
        if route is _LAZY:
            record = LazyRecord(self._layout, self._pattern, self._groups, self._text[self._start:self._end],
                                self._missed)
        else:
            self._cells = cells_of(self._text[self._start:self._end])
            record = self._layout.record(self._cells)
        self._record = record
        return record

    def cells(self):
        return self._record.cells() if self._cells is None else self._cells.copy()

    def write_unannotated(self, writer):
        layout, text, end = self._layout, self._text, self._end
        if layout.blanked:
            cells = self._cells if self._cells is not None else cells_of(text[self._start:end])
            writer.write(layout, layout.unannotated(cells))
        else:
            # The row as read without its line end (\r\n or \n: a cell holds no bare \r).
            writer.write_line(layout, text[self._start:end - 2 if text[end - 2] == "\r" else end - 1]
                              + layout.empty_tail)

    def write_annotated(self, writer, record, fields):
        layout = self._layout
        line = _spliced_line(layout, self._pattern, self._match, self._text, self._start, self._end, record, fields)
        if line is None:
            writer.write(layout, layout.annotated(self.cells(), record, fields))
        else:
            writer.write_line(layout, line)


# Rows read before the chunk decides whether the regex is worth it (see _block_rows).
_SAMPLE_ROWS = 200


def _rest_by_plain_path(text, position, at_end, stream, held, layout, engine):
    """The rest of the chunk (text from `position`, then the stream) as _plain_rows."""
    if not at_end and not text.endswith("\n"):
        text += stream.readline()   # the plain path reads lines: end the text at one
    lines = _lines_of(text, position)
    if not at_end:
        lines = itertools.chain(lines, stream)
    return _plain_rows(csv_rows(lines, SplunkCsv, held), held, layout, engine)


def _lines_of(text, position):
    """The text's lines from `position`, each with its \\n, as a stream's readline gives them
    (no StringIO: it would hold the text again at 4 bytes a character)."""
    end = len(text)
    while position < end:
        found = text.find("\n", position)
        stop = end if found < 0 else found + 1
        yield text[position:stop]
        position = stop


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
    # Office 365 rows get a LazyRecord: their reader takes an audit record from `_raw` and reads
    # a few other fields. Others (Windows events: dozens of spellings looked up a row) get the
    # plain record, whose lookups cost less than a LazyRecord's.
    if sourcetype is not None and is_o365_sourcetype(sourcetype):
        return _LAZY
    return _PARSED


def _spliced_line(layout, pattern, match, text, start, end, record, fields):
    """ChunkLayout.annotated_line for a row the pattern matched, also when CIM cells the
    pattern captured change (the event's own `user` differs from the finding's): the row's
    text with those cells replaced, plus the t1114 cells. None when another input cell must
    change (a t1114 field the input already has, a CIM cell not captured)."""
    width = layout.width
    tail = list(layout.tail)
    replaced = []   # (span start, span end, new cell text)
    group_of = pattern.group_of
    for name, value_index, mv_index in layout.slots:
        value = fields[name]
        if value_index >= width:
            tail[value_index - width], tail[mv_index - width] = encode_value(value)
            continue
        if name not in CIM:
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
            replaced.append((span[0], span[1], cell_text(new)))
    replaced.sort()
    pieces, at = [], start
    for begin, finish, new in replaced:
        pieces.append(text[at:begin])
        pieces.append(new)
        at = finish
    pieces.append(without_line_end(text, at, end))
    return "".join(pieces) + "," + csv_line(tail)


