"""Runs a search command the way splunkd does: a subprocess speaking the chunked protocol
(SCP v2) on stdin/stdout, started with no arguments, given splunkd's getinfo metadata, then
execute chunks of CSV records, the last one marked finished.

Used by the protocol tests, the demo and the benchmark; never shipped. From the command line
it runs t1114 over events in a JSON-lines file (one JSON object per line, as Splunk would
hand the event over: values are text, multivalue fields are lists):

    python tools/chunked_client.py samples/sample_events.jsonl mode=all allowlist=false

Output records go to stdout, one JSON object a line; the job inspector's messages go to
stderr as `LEVEL: text`; the exit code is the command's.
"""

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)
from app.csv_rows import csv_rows  # noqa: E402  (splunkd reads NUL in a value; Python 3.9's csv does not)

HEADER_PREFIX = b"chunked 1.0,"
# Splunk values can be megabytes long (a whole _raw); the csv module refuses > 128 KiB by default.
csv.field_size_limit(2 ** 31 - 1)


def getinfo_metadata(args, dispatch_dir, search="| t1114", app="t1114_email_collection"):
    """The getinfo metadata splunkd sends (Splunk 9.x/10.x field set)."""
    return {
        "action": "getinfo",
        "preview": False,
        "streaming_command_will_restart": False,
        "searchinfo": {
            "args": list(args),
            "raw_args": list(args),
            "dispatch_dir": dispatch_dir,
            "sid": "1764216000.42",
            "app": app,
            "owner": "admin",
            "username": "admin",
            "session_key": "0123456789abcdef-not-a-real-session-key",
            "splunkd_uri": "https://127.0.0.1:8089",
            "splunk_version": "10.0.0",
            "search": search.replace(" ", "%20").replace("|", "%7C"),
            "command": "t1114",
            "maxresultrows": 50000,
            "earliest_time": "0",
            "latest_time": "0",
        },
    }


def encode_records(records):
    """CSV body with splunkd's multivalue encoding (value lines + __mv_ column)."""
    fieldnames = []
    seen = set()
    multivalue = set()
    for record in records:
        for name, value in record.items():
            if name not in seen:
                seen.add(name)
                fieldnames.append(name)
            if isinstance(value, (list, tuple)):
                multivalue.add(name)
    columns = []
    for name in fieldnames:
        columns.append(name)
        if name in multivalue:
            columns.append("__mv_" + name)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for record in records:
        row = []
        for name in fieldnames:
            value = record.get(name, "")
            if isinstance(value, (list, tuple)):
                row.append("\n".join(str(v) for v in value))
                row.append(";".join("$" + str(v).replace("$", "$$") + "$" for v in value))
            else:
                row.append("" if value is None else str(value))
                if name in multivalue:
                    row.append("")
        writer.writerow(row)
    return out.getvalue().encode("utf-8") if records else b""


def _decode_mv(text):
    values, current, index = [], [], 0
    inside = False
    while index < len(text):
        char = text[index]
        if not inside:
            if char == "$":
                inside = True
                current = []
        else:
            if char == "$":
                if index + 1 < len(text) and text[index + 1] == "$":
                    current.append("$")
                    index += 1
                else:
                    values.append("".join(current))
                    inside = False
            else:
                current.append(char)
        index += 1
    return values


def decode_records(body):
    if not body:
        return []
    reader = csv_rows(io.StringIO(body.decode("utf-8"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return []
    records = []
    for row in reader:
        record = {}
        for name, value in zip(header, row):
            if name.startswith("__mv_"):
                if value:
                    record[name[5:]] = _decode_mv(value)
            elif name not in record:
                record[name] = value
        records.append(record)
    return records


class ChunkedCommand:
    """One command process; use as a context manager."""

    def __init__(self, script, args=(), python=None, cwd=None, env=None):
        self.script = os.path.abspath(script)
        self.args = list(args)
        self.python = python or sys.executable
        self.dispatch_dir = tempfile.mkdtemp(prefix="dispatch-")
        self.cwd = cwd or self.dispatch_dir  # splunkd runs commands from the dispatch folder
        self.env = env
        self.process = None
        self._stderr = None
        self.messages = []   # (level, text) from every inspector seen

    def __enter__(self):
        self._stderr = tempfile.TemporaryFile()
        # No arguments: splunkd starts chunked commands bare; any argument means protocol v1.
        self.process = subprocess.Popen([self.python, self.script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self._stderr, cwd=self.cwd, env=self.env)
        return self

    def __exit__(self, *exc):
        self.close()

    def _send(self, metadata, body=b""):
        meta = json.dumps(metadata).encode("utf-8")
        self.process.stdin.write(b"%s%d,%d\n" % (HEADER_PREFIX, len(meta), len(body)))
        self.process.stdin.write(meta)
        self.process.stdin.write(body)
        self.process.stdin.flush()

    def _receive(self):
        line = self.process.stdout.readline()
        if not line.startswith(HEADER_PREFIX):
            raise RuntimeError("command sent no chunk header (got %r); stderr: %s" % (line[:200], self.stderr()[-2000:]))
        meta_length, body_length = (int(part) for part in line[len(HEADER_PREFIX):].split(b","))
        metadata = json.loads(self.process.stdout.read(meta_length).decode("utf-8")) if meta_length else {}
        body = self.process.stdout.read(body_length) if body_length else b""
        for level, text in (metadata.get("inspector") or {}).get("messages", []):
            self.messages.append((level, text))
        return metadata, body

    def getinfo(self, search="| t1114"):
        self._send(getinfo_metadata(self.args, self.dispatch_dir, search))
        metadata, _ = self._receive()
        return metadata

    def execute(self, records, finished=False):
        """Send one chunk of records; returns (metadata, output records)."""
        self._send({"action": "execute", "finished": finished}, encode_records(records))
        metadata, body = self._receive()
        return metadata, decode_records(body)

    def stderr(self):
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def close(self, timeout=60):
        if self.process is None:
            return None
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process.stdout.close()
        return code

    @property
    def returncode(self):
        return self.process.returncode if self.process else None


def run(script, records, args=(), chunk_size=50000, python=None, env=None):
    """All output records, the inspector messages and the exit code of one full run."""
    output = []
    with ChunkedCommand(script, args, python=python, env=env) as command:
        info = command.getinfo()
        if any(level == "ERROR" for level, _ in command.messages):
            # splunkd stops here too: the command refused its arguments and exits.
            code = command.close()
            return {"getinfo": info, "records": [], "messages": command.messages, "exit_code": code,
                    "stderr": command.stderr()}
        chunks = [records[i:i + chunk_size] for i in range(0, len(records), chunk_size)] or [[]]
        for index, chunk in enumerate(chunks):
            metadata, out = command.execute(chunk, finished=index == len(chunks) - 1)
            output.extend(out)
            if metadata.get("finished"):
                break
        code = command.close()
        return {"getinfo": info, "records": output, "messages": command.messages, "exit_code": code,
                "stderr": command.stderr()}


def script_path(app_dir):
    return os.path.join(app_dir, "bin", "t1114_command.py")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("events", help="JSON-lines file of events to send, or - for standard input")
    parser.add_argument("args", nargs="*", metavar="option=value",
                        help="the search's arguments to the command, as in `| t1114 mode=all` (default: none)")
    parser.add_argument("--app", help="an app folder already staged by tools/build.py --stage-only "
                                      "(default: stage this repository into a temporary folder first)")
    parser.add_argument("--python", default=sys.executable,
                        help="the Python that runs the command (default: the one running this script)")
    parser.add_argument("--chunk", type=int, default=50000,
                        help="events per execute chunk, as splunkd's maxresultrows (default: 50000)")
    return parser


def load_events(path):
    """The events of a JSON-lines file (or a JSON array of them), or SystemExit with one sentence
    saying what is wrong with the file: missing, not JSON, cut short, not objects. A UTF-8 BOM
    (as Windows editors write) is read past."""
    name = "standard input" if path == "-" else path
    try:
        if path == "-":
            text = sys.stdin.buffer.read().decode("utf-8-sig", "replace")
        else:
            with open(path, encoding="utf-8-sig", errors="replace") as handle:
                text = handle.read()
    except FileNotFoundError:
        raise SystemExit("chunked_client: %s does not exist." % name)
    except IsADirectoryError:
        raise SystemExit("chunked_client: %s is a folder; name a JSON-lines file of events." % name)
    except OSError as error:
        raise SystemExit("chunked_client: %s cannot be read (%s)." % (name, error.strerror or error))
    if text.lstrip().startswith("["):
        try:
            values = json.loads(text)
        except ValueError as error:
            raise SystemExit("chunked_client: %s is a JSON array that is not complete JSON (%s; a truncated file "
                             "ends like this)." % (name, error))
        numbered = list(enumerate(values if isinstance(values, list) else [values], 1))
        unit = "item"
    else:
        numbered = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                numbered.append((number, json.loads(line)))
            except ValueError as error:
                raise SystemExit("chunked_client: %s line %d is not complete JSON (%s; a truncated file ends like "
                                 "this)." % (name, number, error))
        unit = "line"
    for number, value in numbered:
        if not isinstance(value, dict):
            raise SystemExit("chunked_client: %s %s %d is not a JSON object; each event must be {\"field\": "
                             "value, ...}." % (name, unit, number))
    return [value for _, value in numbered]


def main(argv=None):
    options = build_parser().parse_args(argv)
    if options.chunk < 1:
        raise SystemExit("--chunk must be at least 1")
    records = load_events(options.events)
    work = None
    app_dir = options.app
    if app_dir is None:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        from tools.build import build

        work = tempfile.mkdtemp(prefix="t1114-client-")
        app_dir, _ = build(build_dir=work, package=False)
    try:
        result = run(script_path(app_dir), records, args=options.args, chunk_size=options.chunk,
                     python=options.python)
    finally:
        if work:
            shutil.rmtree(work, ignore_errors=True)
    for record in result["records"]:
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    for level, text in result["messages"]:
        sys.stderr.write("%s: %s\n" % (level, text))
    if result["exit_code"]:
        sys.stderr.write(result["stderr"][-2000:])
    return result["exit_code"] or 0


if __name__ == "__main__":
    sys.exit(main())
