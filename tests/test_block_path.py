"""The block record path (chunk_csv.annotate_stream: rows matched by a regex, cells decoded
only when read) against the plain path it replaces (annotate_chunk: every row parsed by the csv
module): the same output, byte for byte, on every benchmark mix, the rule test events and
bodies built to trip a regex reader (ragged rows, a bare CR, quotes in plain cells, a row
without a line end, rows cut by the read size, megabyte cells, one-column chunks, multivalue
and repeated columns, input that already carries t1114 fields). Through the real protocol, the
block path is what tests/test_fastpath.py holds against splunklib's own record path.
"""

import csv
import io

import pytest

from t1114_protocol import chunk_csv, chunk_rows
from t1114_protocol.chunk_csv import ChunkLayout, ChunkWriter, LazyRecord, RowPattern, annotate_chunk, annotate_stream
from tools.bench import make_records
from tools.chunked_client import encode_records
from tests.helpers import AWKWARD_EVENTS, AWKWARD_RECORDS, MIXES, hayabusa_windows_events, mix_records, rule_test_records

MODES = [(keep_all, expand) for keep_all in (True, False) for expand in (False, True)]


def _outputs(engine, body, keep_all, expand, use_allowlist=True):
    results = []
    for annotate in (annotate_chunk, annotate_stream):
        writer = ChunkWriter()
        try:
            rows = annotate(io.StringIO(body, newline="\n"), engine, writer, keep_all, use_allowlist, expand)
        except Exception as error:  # the csv module's refusal (a bare CR): both paths must refuse alike
            rows = "%s: %s" % (type(error).__name__, error)
        results.append((rows, writer.rows, bytes(writer.body())))
    return results


def assert_same_output(engine, body, modes=MODES):
    for keep_all, expand in modes:
        for use_allowlist in (True, False):
            plain, block = _outputs(engine, body, keep_all, expand, use_allowlist)
            assert block == plain, (keep_all, expand, use_allowlist)


def _body(records):
    body = encode_records(records)
    return body.decode("utf-8") if isinstance(body, bytes) else body


@pytest.mark.parametrize("source", MIXES + ("light", "rule_tests", "awkward_endpoint"))
@pytest.mark.parametrize("hand_over", [True, False], ids=["as-shipped", "block-path-only"])
def test_block_path_writes_what_the_plain_path_writes(engine, monkeypatch, source, hand_over):
    """As shipped, and with the hand-over to the plain path after the sample switched off, so
    every row of every mix goes through the regex. The awkward endpoint events (built to slip
    past the endpoint gates' words) come twice, the second copies after rows of every reader."""
    if not hand_over:
        monkeypatch.setattr(chunk_csv, "_SAMPLE_ROWS", -1)
    records = {"light": lambda: make_records(3, 1500, 0.05), "rule_tests": rule_test_records,
               "awkward_endpoint": lambda: AWKWARD_EVENTS + rule_test_records() + AWKWARD_EVENTS}.get(
        source, lambda: mix_records(source))()
    body = _body(records)
    assert_same_output(engine, body)
    writer = ChunkWriter()
    assert annotate_stream(io.StringIO(body, newline="\n"), engine, writer, True) == len(records)
    assert writer.rows == len(records)


def test_real_windows_events_give_the_plain_output_through_the_block_path(engine, monkeypatch):
    """The real Windows events (../shared/datasets), every row through the regex."""
    monkeypatch.setattr(chunk_csv, "_SAMPLE_ROWS", -1)
    records = hayabusa_windows_events()
    for start in range(0, len(records), 4000):
        assert_same_output(engine, _body(records[start:start + 4000]), modes=[(True, False), (False, True)])


@pytest.mark.parametrize("source", MIXES + ("light",))
def test_rows_cut_by_the_read_size_are_read_whole(engine, monkeypatch, source):
    """Reads of 1 KiB, so most rows (4-5 KB) span several: the regex must wait for the rest."""
    monkeypatch.setattr(chunk_csv, "_BLOCK_CHARS", 1024)
    records = make_records(4, 400, 0.05) if source == "light" else mix_records(source, 400)
    assert_same_output(engine, _body(records), modes=[(True, False), (False, True)])


def test_findings_rows_whose_cim_cells_change_are_spliced_not_rewritten(engine):
    """A finding whose `user` differs from the event's own `user` cell: the plain path rewrites
    the row with csv.writer, the block path splices the cell; same bytes either way."""
    records = [
        {"sourcetype": "o365:management:activity", "Operation": "Set-Mailbox", "user": 'someone "else", really',
         "__extra": "x", "_raw": '{"Operation":"Set-Mailbox","UserId":"mallory@contoso.com","Parameters":'
                                 '[{"Name":"ForwardingSmtpAddress","Value":"smtp:drop@evil.example"},'
                                 '{"Name":"Identity","Value":"bob@contoso.com"}]}'},
        {"sourcetype": "o365:management:activity", "Operation": "Set-Mailbox", "user": ["a", "b"],
         "_raw": '{"Operation":"Set-Mailbox","UserId":"mallory@contoso.com","Parameters":'
                 '[{"Name":"ForwardingSmtpAddress","Value":"smtp:drop@evil.example"}]}'},
    ]
    assert_same_output(engine, _body(records))


def test_a_row_that_widens_the_pattern_and_is_spliced(engine):
    """The engine asks for fields the pattern did not capture (extracted fields, no JSON _raw),
    the pattern widens, and the same row's CIM cell is spliced: with the groups of the pattern
    that matched it, not the widened one."""
    assert_same_output(engine, _body(AWKWARD_RECORDS * 3))


AWKWARD_ROWS = [
    # (why, the body's rows after the header "sourcetype,Operation,_raw,user")
    ("ragged: too few cells", ['o365:management:activity,Set-Mailbox']),
    ("ragged: too many cells", ['o365:management:activity,Set-Mailbox,{},bob,extra']),
    ("a bare CR inside a plain cell", ['o365:management:activity,Set\rMailbox,{},bob']),
    ("a quote inside a plain cell", ['o365:management:activity,Set-Mailbox,ab"c,bob']),
    ("text after a quoted cell", ['o365:management:activity,"Set-Mailbox"x,{},bob']),
    ("an empty line", ['']),
    ("a newline inside a quoted cell", ['o365:management:activity,New-InboxRule,"{""Operation"":\n'
                                        '""New-InboxRule""}",bob']),
]


@pytest.mark.parametrize("why,rows", AWKWARD_ROWS, ids=[why for why, _ in AWKWARD_ROWS])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_rows_the_regex_does_not_read_give_the_plain_output(engine, why, rows, where):
    """The plain path takes the rest of the chunk from the row the regex does not match."""
    good = ['o365:management:activity,UserLoggedIn,"{""Operation"":""UserLoggedIn""}",bob',
            'o365:management:activity,Set-Mailbox,"{""Operation"":""Set-Mailbox"",""UserId"":""m@contoso.com"","'
            '""Parameters"":[{""Name"":""ForwardingSmtpAddress"",""Value"":""x@evil.example""}]}",bob']
    lines = {"first": rows + good * 3, "middle": good * 2 + rows + good, "last": good * 3 + rows}[where]
    body = "sourcetype,Operation,_raw,user\r\n" + "".join(line + "\r\n" for line in lines)
    assert_same_output(engine, body)
    assert_same_output(engine, body.rstrip("\r\n"))   # the last row sent without a line end


def test_one_column_chunks_multivalue_and_repeated_columns(engine):
    bodies = [
        "_raw\r\n\r\nabc\r\n\r\n",
        "sourcetype,__mv_sourcetype,Operation,__mv_Operation,_raw\r\n"
        "o365:management:activity,,UserLoggedIn,,{}\r\n"
        '"o365:management:activity\nx","$o365:management:activity$;$x$",UserLoggedIn,,{}\r\n'
        'o365:management:activity,,"UserLoggedIn\nNew-InboxRule","$UserLoggedIn$;$New-InboxRule$",{}\r\n',
        # a repeated column (the first counts) and an __mv_ column without its value column
        "sourcetype,Operation,sourcetype,__mv_tag,_raw\r\n"
        "o365:management:activity,Set-Mailbox,x,$a$;$b$,\"{\"\"Operation\"\":\"\"Set-Mailbox\"\","
        "\"\"Parameters\"\":[{\"\"Name\"\":\"\"ForwardingSmtpAddress\"\",\"\"Value\"\":\"\"x@evil.example\"\"}]}\"\r\n",
        "",
        "sourcetype,Operation\r\n",
    ]
    for body in bodies:
        assert_same_output(engine, body)


def test_input_that_already_carries_t1114_fields(engine):
    """A second `| t1114`: every t1114 cell of a row without findings is blanked."""
    writer = ChunkWriter()
    first = _body(make_records(6, 300, 0.1))
    annotate_chunk(io.StringIO(first, newline="\n"), engine, writer, True)
    assert_same_output(engine, bytes(writer.body()).decode("utf-8"))


def test_a_megabyte_cell_and_a_row_larger_than_a_read(engine, monkeypatch):
    monkeypatch.setattr(chunk_csv, "_BLOCK_CHARS", 4096)
    big = "x" * (1 << 20)
    body = _body([
        {"sourcetype": "o365:management:activity", "Operation": "New-InboxRule", "_raw": '{"Operation":"' + big},
        {"sourcetype": "XmlWinEventLog", "EventCode": "1", "CommandLine": big + " robocopy C:\\u\\a.pst \\\\x\\y",
         "Image": "C:\\Windows\\System32\\Robocopy.exe"},
        {"sourcetype": "o365:management:activity", "Operation": "UserLoggedIn", "_raw": big},
    ])
    assert_same_output(engine, body, modes=[(True, False)])


def test_chunks_the_regex_does_not_pay_on_go_to_the_plain_path_after_the_sample(engine, monkeypatch):
    """Past _SAMPLE_ROWS rows, a chunk of mostly parsed rows (Windows events) is handed to the
    plain path; o365 rows, small or large, stay: the output is the same either way, and the
    handover is counted through the plain path's row readers."""
    monkeypatch.setattr(chunk_csv, "_SAMPLE_ROWS", 20)
    calls = []
    plain = chunk_csv._plain_rows

    def counting(*args):
        calls.append(1)
        return plain(*args)
    monkeypatch.setattr(chunk_csv, "_plain_rows", counting)
    light = make_records(8, 400, 0.05)
    windows = [r for r in light if r.get("sourcetype", "").startswith("Xml")]
    small_o365 = [r for r in light if r.get("sourcetype", "").startswith("o365")]
    large_o365 = [dict(r, padding="p" * 2500) for r in small_o365]
    for records, handed_over in ((windows, True), (small_o365, False), (large_o365, False)):
        body = _body(records)
        assert_same_output(engine, body, modes=[(True, False)])
        calls.clear()
        annotate_stream(io.StringIO(body, newline="\n"), engine, ChunkWriter(), True)
        assert calls == ([1] if handed_over else []), records[0]["sourcetype"]


def _pattern_and_match(header, row):
    layout = ChunkLayout(header)
    pattern = RowPattern(layout, set(header))
    match = pattern.match(row)
    return layout, pattern, match


def test_lazy_record_reads_as_the_plain_record():
    """Every way the engine may read a record gives what ChunkLayout.record gives; a field not
    captured parses the row once, and is tallied so the chunk's pattern can capture it."""
    header = ["sourcetype", "Operation", "__mv_Operation", "Image", "tag", "__mv_tag", "__mv_only", "_raw"]
    row = 'o365:x,"a\nb","$a$;$b$",C:\\x.exe,t,,"$p$;$q$$$","{""k"":1}"\r\n'
    layout = ChunkLayout(header)
    plain = layout.record(next(iter(csv.reader([row], chunk_csv.SplunkCsv))))
    for captured in ([], ["sourcetype"], ["Operation", "only"], header):
        pattern = RowPattern(layout, set(captured))
        match = pattern.match(row)
        assert match is not None and match.end() == len(row)
        missed = {}
        lazy = LazyRecord(layout, pattern, match.groups(), row, missed)
        for key in ("sourcetype", "Operation", "Image", "tag", "only", "_raw", "absent", "__mv_tag"):
            assert lazy.get(key) == plain.get(key), (captured, key)
            assert lazy.get(key, "dflt") == plain.get(key, "dflt")
            assert (key in lazy) == (key in plain)
            if key in plain:
                assert lazy[key] == plain[key]
            else:
                with pytest.raises(KeyError):
                    lazy[key]
        assert dict(lazy) == plain and len(lazy) == len(plain) and sorted(lazy.keys()) == sorted(plain)
        assert dict(lazy.items()) == plain and sorted(map(str, lazy.values())) == sorted(map(str, plain.values()))
        assert lazy.cells() == next(iter(csv.reader([row], chunk_csv.SplunkCsv)))
        uncaptured = {"Image", "tag", "only", "_raw", "sourcetype", "Operation"} - set(pattern.fields)
        assert set(missed) == uncaptured


def test_row_pattern_matches_whole_rows_only():
    header = ["a", "b", "c"]
    for row, whole in [('1,2,3\r\n', True), ('1,"2,""x""\r\ny",3\n', True), (',,\r\n', True),
                       ('1,2\r\n', False), ('1,2,3,4\r\n', False), ('1,2"x,3\r\n', False), ('1,2,3', False),
                       ('1,"2,3\r\n', False), ('1,2\r3,4\r\n', False)]:
        _, _, match = _pattern_and_match(header, row)
        assert (match is not None and match.end() == len(row)) == whole, row


@pytest.mark.skipif(chunk_rows._POSSESSIVE == "", reason="possessive repeats need Python 3.11+")
@pytest.mark.parametrize("source", MIXES + ("light", "awkward"))
def test_possessive_and_backtracking_row_patterns_match_alike(monkeypatch, source):
    """From 3.11 the row pattern's repeats are possessive; a cell matches one way only, so
    the backtracking form must give the same match (or none) at every row start."""
    if source == "awkward":
        body = "a,b,c\r\n" + "".join(row + "\r\n" for row in [
            '1,2,3', '"1""",2,3', '"a"",b",2,3', '"x"y,2,3', '1,"2,3', '1,2,"3""', '"""",,', ',,', '1,2',
            '1,2,3,4', '"a\r\nb",2,3', '"a""', 'a"b,2,3', '"",2,"3"""""'])
    else:
        records = make_records(2, 300, 0.05) if source == "light" else mix_records(source, 300)
        body = _body(records)
    header = next(iter(csv.reader([body.split("\r\n", 1)[0]])))
    layout = ChunkLayout(header)
    fields = set(header[::3])
    possessive = RowPattern(layout, fields)
    monkeypatch.setattr(chunk_rows, "_POSSESSIVE", "")
    monkeypatch.setattr(chunk_rows, "_CELL", chunk_rows._CELL.replace("*+", "*"))
    monkeypatch.setattr(chunk_rows, "_SKIPPED_CELL", "(?:%s,)" % chunk_rows._CELL)
    assert "+" not in chunk_rows._SKIPPED_CELL
    backtracking = RowPattern(layout, fields)
    starts = [0] + [index + 1 for index, char in enumerate(body) if char == "\n"]
    matched = 0
    for start in starts[1:]:
        ours, theirs = possessive.match(body, start), backtracking.match(body, start)
        assert (ours and (ours.end(), ours.groups())) == (theirs and (theirs.end(), theirs.groups())), start
        matched += ours is not None
    assert matched


def test_a_row_the_regex_does_not_read_is_handed_over_without_reading_the_rest_first(engine, monkeypatch):
    """A whole row (quotes balanced up to its line end) that the pattern does not match goes to
    the plain path from where it is; the body after it is not read into memory first."""
    monkeypatch.setattr(chunk_csv, "_BLOCK_CHARS", 4096)
    good = 'o365:management:activity,UserLoggedIn,"{""Operation"":""UserLoggedIn""}",bob\r\n'
    body = "sourcetype,Operation,_raw,user\r\n" + good * 20 + "o365:x,Set-Mailbox,ragged\r\n" + good * 3000

    class CountingStream(io.StringIO):
        reads = 0

        def read(self, size=-1):
            CountingStream.reads += 1
            return super().read(size)
    stream = CountingStream(body, newline="\n")
    writer = ChunkWriter()
    assert annotate_stream(stream, engine, writer, True) == 3021
    assert CountingStream.reads == 1
    plain = ChunkWriter()
    annotate_chunk(io.StringIO(body, newline="\n"), engine, plain, True)
    assert bytes(writer.body()) == bytes(plain.body())
