"""Windows endpoint rows answered from their text (chunk_csv.annotate_stream with
Engine.endpoint_row_gate) against the same rows parsed and read whole: the same output, byte
for byte, on every benchmark mix, the rule test events, the 23,371 real Windows events and the
endpoint events built to slip past a word check (tests/test_endpoint_gate.py's), each also in
rows the lane answers (a second copy, after the first has taught the memo its reader). Then the
pieces: the reader memo agrees with the registry on every row it answers, recognition reads
`_raw` of an XML event only through its first character, the row gate's words and its
refusals, and, counted, that the lane answers the Windows rows of the mixes it is for.
"""

import io

import pytest

from app.endpoint_gate import _without_implied, record_text_gate
from app.normalise import REGISTRY, RecordView, recognition_reads
from app.normalise.windows_endpoint import FILE_OPERATIONS, PROCESS_CREATE, facts_hidden_in
from t1114_protocol import chunk_csv
from t1114_protocol.chunk_csv import (_UNKNOWN, ChunkLayout, ChunkWriter, GatedCells, ReaderMemo, RowPattern,
                                      annotate_chunk, annotate_stream)
from tests.test_endpoint_gate import AWKWARD_CASES, AWKWARD_EVENTS, _encoded, _sysmon, hayabusa_windows_events
from tests.test_optimisations_differential import MIXES, mix_records, rule_test_records
from tools.bench import make_records
from tools.chunked_client import encode_records


def _body(records):
    body = encode_records(records)
    return body.decode("utf-8") if isinstance(body, bytes) else body


def _output(annotate, engine, body, keep_all=True, expand=False):
    writer = ChunkWriter()
    rows = annotate(io.StringIO(body, newline="\n"), engine, writer, keep_all, True, expand)
    return rows, writer.rows, bytes(writer.body())


class _Counting:
    """The engine's row gate, counting the rows it is asked about and those it answers."""

    def __init__(self, gate):
        self.gate, self.asked, self.answered = gate, 0, 0

    def __call__(self, text):
        self.asked += 1
        may_fire = self.gate(text)
        self.answered += not may_fire
        return may_fire


def assert_lane_changes_nothing(engine, monkeypatch, records):
    """annotate_stream with the row gate, without it, and the plain path: the same bytes, in
    every mode. Returns the counting gate of the last run (mode=all, not expanded)."""
    body = _body(records)
    counting = _Counting(engine.endpoint_row_gate)
    for keep_all, expand in ((False, False), (False, True), (True, True), (True, False)):
        monkeypatch.setattr(engine, "endpoint_row_gate", None)
        without = _output(annotate_stream, engine, body, keep_all, expand)
        plain = _output(annotate_chunk, engine, body, keep_all, expand)
        counting.asked = counting.answered = 0
        monkeypatch.setattr(engine, "endpoint_row_gate", counting)
        with_lane = _output(annotate_stream, engine, body, keep_all, expand)
        assert with_lane == without == plain, (keep_all, expand)
    return counting


@pytest.fixture
def no_handover(monkeypatch):
    """Every row through the regex, none handed to the plain path after the sample."""
    monkeypatch.setattr(chunk_csv, "_SAMPLE_ROWS", -1)


@pytest.mark.parametrize("source", MIXES + ("light", "rule_tests"))
def test_rows_answered_from_text_give_the_output_of_rows_read_whole(engine, monkeypatch, no_handover, source):
    records = {"light": lambda: make_records(5, 1500, 0.05), "rule_tests": rule_test_records}.get(
        source, lambda: mix_records(source))()
    counting = assert_lane_changes_nothing(engine, monkeypatch, records)
    if source in ("light", "endpoint"):
        assert counting.answered, "the lane answered rows: the comparison is not vacuous"


def test_awkward_endpoint_events_in_rows_the_lane_answers(engine, monkeypatch, no_handover):
    """Each awkward event twice over (all of them, then all again), and beside its rule's
    finding-free twin: the second copies are rows the memo knows, asked of the row gate."""
    benign = _sysmon(r'"C:\Windows\System32\cmd.exe" /c dir')
    records = AWKWARD_EVENTS + [benign] + AWKWARD_EVENTS + [benign]
    counting = assert_lane_changes_nothing(engine, monkeypatch, records)
    assert counting.asked >= len(AWKWARD_EVENTS) // 2
    assert counting.answered, "some rows were answered"
    # And they fire where their rules say, through the lane.
    writer = ChunkWriter()
    annotate_stream(io.StringIO(_body(records), newline="\n"), engine, writer, False)
    fired = sum(1 for _, rule_id in AWKWARD_CASES if rule_id)
    assert writer.rows == 2 * fired


def test_real_windows_events_through_the_lane(engine, monkeypatch, no_handover):
    records = hayabusa_windows_events()
    answered = 0
    for start in range(0, len(records), 3000):
        counting = assert_lane_changes_nothing(engine, monkeypatch, records[start:start + 3000])
        answered += counting.answered
    assert answered > 1000


def _layout_pattern(records):
    """The chunk's layout and its rows, each as sent (line end included)."""
    body = _body(records)
    header_end = body.index("\n") + 1
    layout = ChunkLayout(chunk_csv._cells_of(body[:header_end]))
    rows = [found.group(0) for found in chunk_csv._ROW_END.finditer(body, header_end)]
    assert len(rows) == len(records)
    return layout, rows


def test_memo_answers_as_the_registry_on_every_row(engine):
    """Learn from each row the memo does not know; every row it does know gets the reader the
    registry gives the row's whole record."""
    recognised = {}
    for source in MIXES + ("light",):
        records = make_records(6, 1200, 0.05) if source == "light" else mix_records(source, 1200)
        records += AWKWARD_EVENTS
        layout, rows = _layout_pattern(records)
        memo = ReaderMemo(layout)
        pattern = RowPattern(layout, set(chunk_csv._FIRST_CAPTURED))
        for row in rows:
            match = pattern.match(row)
            assert match is not None
            record = layout.record(chunk_csv._cells_of(row))
            view = RecordView(record)
            truth = next((normaliser.name for normaliser in REGISTRY if normaliser.recognises(view)), None)
            taken = memo.reader(pattern, match.groups())
            if taken is _UNKNOWN:
                pattern = memo.learn(pattern, row, record)
            else:
                assert taken == truth, record
                recognised[source] = recognised.get(source, 0) + 1
    assert recognised.get("light", 0) > 1000, recognised


def test_recognising_an_xml_event_reads_raw_only_through_its_first_character():
    record = dict(_sysmon("cmd /c dir"), _raw="<Event><System><EventID>1</EventID></System></Event>",
                  Operation="", category="")
    taken, names, raw_head = recognition_reads(record)
    assert taken == "windows_endpoint"
    assert "_raw" not in names and raw_head
    # An event without an EventCode has its `_raw` read: it is then in the key, as it must be.
    taken, names, _ = recognition_reads({"_raw": "<Event>...</Event>", "sourcetype": ""})
    assert "_raw" in names


def test_memo_forgets_nothing_it_should_not_and_gives_up_on_unique_keys():
    """A field recognition reads that differs on every row (no EventCode: `_raw` is read whole)
    makes every key new: the memo stops after MOST_ENTRIES rows rather than grow."""
    records = [{"sourcetype": "", "_raw": "<Event>%d</Event>" % index} for index in range(ReaderMemo.MOST_ENTRIES + 20)]
    layout, rows = _layout_pattern(records)
    memo = ReaderMemo(layout)
    pattern = RowPattern(layout, set(chunk_csv._FIRST_CAPTURED))
    for row in rows:
        if not memo.on:
            break
        match = pattern.match(row)
        if memo.reader(pattern, match.groups()) is _UNKNOWN:
            pattern = memo.learn(pattern, row, layout.record(chunk_csv._cells_of(row)))
    assert not memo.on and len(memo.known) == ReaderMemo.MOST_ENTRIES


def test_gated_cells_leave_raw_out_only_when_a_tell_tale_field_has_a_value():
    with_image = _sysmon("cmd /c copy a b", _raw="<Event><Data Name='CommandLine'>a&#46;pst</Data></Event>")
    xml_only = {"sourcetype": "XmlWinEventLog", "EventCode": "1", "Image": "", "_raw": with_image["_raw"]}
    layout, rows = _layout_pattern([with_image, xml_only])
    gated = GatedCells(layout)
    pattern = RowPattern(layout, gated.needed() | {"sourcetype"})
    texts = [gated.text(pattern, pattern.match(row).groups()) for row in rows]
    assert "&#46;" not in texts[0] and "cmd /c copy a b" in texts[0]
    assert "&#46;" in texts[1]


def test_row_gate_words_are_cut_where_a_row_may_differ_from_a_fact(engine):
    gate = engine.endpoint_row_gate
    words = {word for clauses in gate.rules for clause in clauses for word in clause}
    assert "unistore" in words and not any(char in word for word in words for char in '\\"$')
    assert not gate("notepad.exe\nC:\\Users\\bob\\notes.txt")
    assert gate('copy ""C:\\mail\\a.pst"" d:\\')                  # a quoted cell
    assert gate("C:\\Users\\bob\\AppData\\Local\\Comms\nUnistore")   # a folder and a name, joined by the reader
    assert gate("powershell -enc " + _encoded("dir"))                 # a script the reader decodes
    assert gate("powershell\t-EC\t" + _encoded("dir"))
    assert gate("<Data Name='CommandLine'>copy a&#46;pst</Data>")   # XML the reader unescapes
    assert gate("copy C:\\mail\\a.p\u017ft x")                        # a letter (?i) reads as ASCII
    assert gate("powershell -c Set-Mailbox bob")                      # a cmdlet
    assert not gate("</EventData></Event> -k netsvcs")                # `/e` of XML is no option


def test_hidden_facts_on_lowered_ascii_agree_with_the_case_insensitive_regex():
    from app.normalise.windows_endpoint import _ENCODED_COMMAND_OPTION
    for text in ("a -e b", "a -Enc b", "a\t/EC\tb", "-e x", "x -e", "a /eventdata b", "</Event> -k",
                 "a -encodedcommand\nb", "a -ex b", "a --e b", "a -e\u00a0b", "x\u00a0-E b"):
        assert facts_hidden_in(text, text.lower()) == (_ENCODED_COMMAND_OPTION.search(text) is not None), text


def test_implied_rules_are_dropped_and_one_of_two_equal_ones_kept():
    a = (("x", "y"),)
    b = (("x",),)                     # fires only where a does: dropped
    c = (("z",), ("w",))
    d = (("w",), ("z",))              # c and d imply each other: one stays
    assert _without_implied((a, b, c, d, a)) == (a, d)


def test_no_row_gate_when_an_operation_has_no_gate(engine):
    gates = dict(engine.context.endpoint_gates)
    del gates[PROCESS_CREATE]
    assert record_text_gate(gates, (PROCESS_CREATE,) + FILE_OPERATIONS, facts_hidden_in) is None
