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
from .chunk_rows import (FIRST_CAPTURED, ROW_END, LazyRecord, RowPattern, cells_getter, cells_of,  # noqa: F401
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
    probe = probe_columns(layout)
    if probe is not None:
        (sourcetype_index, operation_index), probe_multivalue = probe
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


def probe_columns(layout):
    """(the value column of each PROBE_FIELDS field, their __mv_ columns) when the chunk has
    them all, else None: the cells Engine.no_rule_wants decides on. A row whose __mv_ cells
    for them are empty has exactly those strings in its record, so it can be decided before
    one is built."""
    if not all(name in layout.first for name in PROBE_FIELDS):
        return None
    return (tuple(layout.first[name] for name in PROBE_FIELDS),
            tuple(index for name in PROBE_FIELDS for index in layout.multivalue_columns.get(name, ())))


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

_BLOCK_CHARS = 1 << 20


def annotate_stream(stream, engine, writer, keep_all, use_allowlist=True, expand=False):
    """annotate_chunk() for a chunk body read from a text stream, rows matched by a regex
    instead of parsed cell by cell (see above). The same rows, in the same order, byte for
    byte; returns the number of rows read."""
    held, reader, layout = _header(stream)
    if layout is None:
        return 0
    if layout.width < 2:   # a one-column chunk: an empty line is a row there, not for the regex
        return _annotate_rows(reader, held, layout, engine, writer, keep_all, use_allowlist, expand)
    wanted = set(FIRST_CAPTURED) | {name for name, _, _ in layout.slots if name in CIM}
    missed = {}
    findings_of = engine.findings
    no_rule_wants = engine.no_rule_wants
    write, write_line = writer.write, writer.write_line
    empty_tail = layout.empty_tail
    blanked = bool(layout.blanked)
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
            return count + _rest_by_plain_path(text, position, at_end, stream, held, layout, engine, writer,
                                               keep_all, use_allowlist, expand)
        match = pattern.match(text, position)
        if match is None:
            if position >= len(text) and at_end:
                return count
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
                cells = cells_of(text[start:position])
                record = layout.record(cells)
                findings = findings_of(record, use_allowlist)
            if missed:
                pattern = widened(layout, pattern, missed)
                route_cells, sourcetype_of, operation_of = route_readers(pattern)
        if not findings:
            if keep_all:
                if blanked:
                    if cells is None:
                        cells = cells_of(text[start:position])
                    write(layout, layout.unannotated(cells))
                else:
                    # The row as read without its line end (\r\n or \n: a cell holds no bare \r).
                    write_line(layout, text[start:position - 2 if text[position - 2] == "\r" else position - 1]
                               + empty_tail)
            continue
        if cells is None:
            copy_cells = record.cells
        else:
            copy_cells = cells.copy
        if expand:
            for finding in findings:
                if keep_all or finding.returned_by_default:
                    write(layout, layout.annotated(copy_cells(), record, expanded_fields(finding, record)))
        elif keep_all or any(finding.returned_by_default for finding in findings):
            fields = output_fields(findings, record)
            line = _spliced_line(layout, matched_by, match, text, start, position, record, fields)
            if line is None:
                write(layout, layout.annotated(copy_cells(), record, fields))
            else:
                write_line(layout, line)


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


