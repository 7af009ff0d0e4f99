"""Every use of splunklib's private names, in one place, checked against the splunklib it was
written for.

The command's fast record path (chunk_csv.py) replaces SearchCommand._execute_v2 and reuses
splunklib's chunk header pattern, metadata decoder and record writer state; its argument check
replaces SearchCommand._protocol_v2_option_parser. Those are internals: a splunklib upgrade may
rename any of them. `seam_problem()` says when the vendored splunklib is not the version this
was written for, or lacks a name it uses; the command then runs splunklib's own record path
(same output, slower) and says so once in the job inspector, instead of failing a chunk.
"""

import io
import json

import splunklib
from splunklib.searchcommands import internals
from splunklib.searchcommands.search_command import SearchCommand

from t1114_protocol.chunk_csv import ChunkWriter, annotate_chunk, annotate_stream

# The splunklib this module was written and tested against (tools/build.py pins it).
WRITTEN_FOR = "2.1.1"
# (owner, name) of every splunklib internal used below; instance attributes are checked on
# the running command in `seam_problem`.
CLASS_INTERNALS = (
    (SearchCommand, "_execute_v2"),
    (SearchCommand, "_as_binary_stream"),
    (SearchCommand, "_protocol_v2_option_parser"),
    (SearchCommand, "_header"),
    (internals, "MetadataDecoder"),
    (internals.RecordWriterV2, "_clear"),
    (internals.RecordWriterV2, "is_flushed"),
)
COMMAND_INTERNALS = ("_record_writer", "_metadata", "_allow_empty_input")
WRITER_INTERNALS = ("_inspector", "ofile")


def seam_problem(command, version=None):
    """'' when the fast record path fits the splunklib running `command`, else why not."""
    version = splunklib.__version__ if version is None else version
    if version != WRITTEN_FOR:
        return "splunklib %s is not %s, which the fast record path was written for" % (version, WRITTEN_FOR)
    missing = ["%s.%s" % (getattr(owner, "__name__", owner), name) for owner, name in CLASS_INTERNALS
               if not hasattr(owner, name)]
    missing += ["SearchCommand.%s" % name for name in COMMAND_INTERNALS if not hasattr(command, name)]
    writer = getattr(command, "_record_writer", None)
    missing += ["RecordWriterV2.%s" % name for name in WRITER_INTERNALS if not hasattr(writer, name)]
    if missing:
        return "splunklib %s lacks %s, which the fast record path uses" % (version, ", ".join(missing))
    return ""


class FastRecordPath:
    """Mixed into the StreamingCommand: execute chunks go through chunk_csv.py unless
    `use_splunklib_records` is set (T1114_RECORD_PATH=splunklib, `record=true`, or a splunklib
    this seam does not fit). Needs from the command: engine, mode, allowlist, expand,
    declared_options(), _events, _returned, _log_progress() and _report_problems()."""

    use_splunklib_records = False
    annotate = staticmethod(annotate_stream)   # chunk_csv's block path; annotate_chunk is its plain form

    def choose_record_path(self, forced_splunklib=False, plain_rows=False):
        """Decide once, at prepare(): '' or the inspector message saying why splunklib's path runs."""
        if plain_rows:
            self.annotate = annotate_chunk
        problem = seam_problem(self)
        self.use_splunklib_records = bool(forced_splunklib or problem or self.record)
        if problem:
            return "%s; this search runs splunklib's own record path instead (the same results, slower)." % problem
        return ""

    def _protocol_v2_option_parser(self, arg):
        """splunklib's hook for reading one search argument: only this command's own options
        are read as options. Anything else, a bare word (`| t1114 all`) or a name=value this
        command does not declare, or a value its option does not take, is handed back as a
        positional word, never set, and prepare() refuses it with the valid options named."""
        name, equals, value = arg.partition("=")
        option = self.declared_options().get(name) if equals else None
        if option is None:
            return [arg]
        if option.validate is not None:
            try:
                option.validate(value)
            except ValueError:
                return [arg]  # refused in prepare() with the values it takes: `mode=bogus`
        return [name, value]

    # Why not splunklib's record path: it reads a whole chunk body into one string and through
    # a StringIO (4 bytes a character), builds an OrderedDict per record decoding every `__mv_`
    # column, materialises all output records in a list and type-checks and re-encodes every
    # field of every record. That costs more than the detection itself and about 8 times the
    # chunk's size in memory. Here the body is streamed from stdin, each row becomes the plain
    # dict the engine reads, and it goes out as its own cells plus the t1114 columns; messages
    # and metadata stay splunklib's. The protocol tests run both paths.

    def _execute_v2(self, ifile, process):
        if self.use_splunklib_records:
            return super()._execute_v2(ifile, process)
        istream = self._as_binary_stream(ifile)
        keep_all = self.mode == "all"
        use_allowlist = bool(self.allowlist)
        while True:
            chunk = _read_chunk_head(istream)
            if chunk is None:
                return
            metadata, body_length = chunk
            action = getattr(metadata, "action", None)
            if action != "execute":
                raise RuntimeError("Expected execute action, not {}".format(action))
            if body_length <= 0 and not self._allow_empty_input:
                raise ValueError("No records found to process. Set allow_empty_input=True in dispatch function "
                                 "to move forward with empty records.")
            # What splunklib's _execute_v2 does per chunk, before and after the records.
            self._finished = getattr(metadata, "finished", False)
            self._record_writer.is_flushed = False
            self._metadata.update(metadata)
            body = _ChunkBody(istream, body_length)
            lines = io.TextIOWrapper(io.BufferedReader(body, 1 << 16), encoding="utf-8", errors="replace",
                                     newline="\n")  # lines end at \n only, as in splunklib's StringIO
            writer = ChunkWriter()
            self._events += self.annotate(lines, self.engine, writer, keep_all, use_allowlist, bool(self.expand))
            self._returned += writer.rows
            body.drain()
            self._log_progress()
            self._report_problems()
            self._write_chunk_bytes(writer.body(), self._finished)

    def _write_chunk_bytes(self, body, finished):
        """RecordWriterV2.write_chunk for a body that is already UTF-8 bytes."""
        writer = self._record_writer
        inspector = dict(writer._inspector) or None  # splunklib keeps the pending messages there
        metadata = {"finished": finished} if inspector is None else {"inspector": inspector, "finished": finished}
        metadata = json.dumps(metadata, separators=(",", ":")).encode("utf-8")
        ofile = writer.ofile
        ofile.write(b"chunked 1.0,%d,%d\n" % (len(metadata), len(body)))
        ofile.write(metadata)
        ofile.write(body)
        ofile.flush()
        body.release()
        writer._clear()
        writer.is_flushed = True


def _read_chunk_head(istream):
    """(metadata, body length) of the next chunk, the body left unread; None at the end."""
    header = istream.readline()
    if not header:
        return None
    match = SearchCommand._header.match(header.decode("utf-8", "replace"))
    if match is None:
        raise RuntimeError("Failed to parse transport header: {!r}".format(header))
    metadata_length, body_length = (int(group) for group in match.groups())
    metadata = internals.MetadataDecoder().decode(istream.read(metadata_length).decode("utf-8", "replace"))
    return metadata, body_length


class _ChunkBody(io.RawIOBase):
    """Exactly one chunk body of the input stream, read as the CSV reader asks for it."""

    def __init__(self, istream, length):
        super().__init__()
        self._istream = istream
        self._left = length

    def readable(self):
        return True

    def readinto(self, buffer):
        if self._left <= 0:
            return 0
        size = min(len(buffer), self._left)
        data = self._istream.read(size)
        if not data:
            raise RuntimeError("Failed to read body: the input ended %d bytes early" % self._left)
        buffer[:len(data)] = data
        self._left -= len(data)
        return len(data)

    def drain(self):
        while self._left > 0:
            data = self._istream.read(min(self._left, 1 << 20))
            if not data:
                break
            self._left -= len(data)
