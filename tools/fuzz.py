"""Random hostile events through the detection engine, with figures.

    python tools/fuzz.py [--cases 100000] [--seed 1] [--max-event-steps 5000000] [--max-event-seconds S]

Every case starts from a real test event of some rule (app/rules/*.test.yml, both Splunk
shapes of o365 events) and is then mangled: fields dropped, wrong types, megabyte values,
non-UTF-8 bytes, letters that case-fold onto ASCII ones, broken or deeply nested JSON in `_raw`, `Parameters` and
`OperationProperties`, thousands of multivalues, every operation some rule indexes on.
So the cases follow whatever rules and normalisers the app has. Each case must:

- pass through `Engine.annotate` without any exception inside the engine (an `internal:`
  problem is a failure even though annotate contains it),
- keep every input field as it was, and carry every output field as text or a list of text,
- run fewer than --max-event-steps lines of app/ code (tools/step_count.py): a count, the same
  on a busy machine as on an idle one, so CI can hold every case to it; --max-event-seconds is
  an extra, clock-based bound for long runs on a quiet machine, off unless given,
- give the same findings with and without the engine's endpoint gates (app/normalise/endpoint_gate.py),
  which decide process creations and file events from words that some mutations (letters
  that fold onto ASCII ones, encoded commands, cmdlet names) try to hide;
- and, every CHUNK_CASES cases, as one CSV chunk (each case twice): the same output from the
  block record path and from the plain path (bin/t1114_protocol/chunk_csv.py).

Prints the number of cases, cases per second, problems by kind (from the engine's
ProblemLog: each kind would be one inspector warning), the slowest case and the case with
the most steps. Exits 1 on a
failure. CI runs it with a small --cases; the figures in docs/hardening.md come from 100k.
"""

import argparse
import base64
import copy
import functools
import io
import json
import os
import random
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _folder in (REPO, os.path.join(REPO, "bin")):
    if _folder not in sys.path:
        sys.path.insert(0, _folder)

from app.engine import Engine  # noqa: E402
from app.finding import OUTPUT_FIELDS  # noqa: E402
from app.problems import ProblemLog  # noqa: E402
from t1114_protocol.chunk_csv import ChunkWriter, annotate_chunk, annotate_stream  # noqa: E402  (bin/)
from tests.rule_events import all_cases, presentations  # noqa: E402
from tools.chunked_client import encode_records  # noqa: E402
from tools.step_count import StepBudgetExceeded, count_steps  # noqa: E402

# The most steps one case may take. The 2,000-case CI run's largest is about 570,000 (a 64 KB
# script block); a quadratic walk over 8,000 addresses, as once found, is tens of millions.
MAX_EVENT_STEPS = 5000000

MEGABYTE = 1 << 20
# Sourcetypes the fuzz also tries beyond those in the rule test events, so records reach
# every recogniser, including ones a rule set does not exercise yet.
EXTRA_SOURCETYPES = (
    "o365:management:activity", "ms:o365:management", "azure:monitor:aad", "ms:aad:signin",
    "XmlWinEventLog", "XmlWinEventLog:Security", "WinEventLog:Security",
    "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational", "XmlWinEventLog:Microsoft-Windows-PowerShell/Operational",
    "MSExchange:2019:Management", "MSExchange:2019:MessageTracking", "powershell", "", "stash",
)
# Text that steers parsers into their slow or fragile corners when repeated.
HOSTILE_PIECES = (
    "a", "a@b.example;", "[smtp:", "[SMTP:x@y.example", "a.", ".", "@", "\\", '"', "'", "(", "@(", ")", "{", "[",
    "`", "`\n", "-ForwardTo ", "-ForwardTo:", " -", "$null", "ActionType", '{"ActionType":"Forward","Recipients":[',
    "<Data Name='ScriptBlockText'>", "</Data>", "smtp:", ":", "::ffff:", "\x00", "\ufffd", "\u202e", "\r\n",
)
WRONG_TYPES = (
    lambda rng: rng.randint(-2 ** 63, 2 ** 63), lambda rng: rng.random() * 1e300, lambda rng: None,
    lambda rng: True, lambda rng: b"\xff\xfe\x00bytes", lambda rng: {"nested": ["dict"]},
    lambda rng: [["nested"], ["list", 1]], lambda rng: [], lambda rng: [None, 3, "x"], lambda rng: float("nan"),
    lambda rng: ("tuple", "value"),
)
NON_UTF8 = (
    lambda rng: bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))),
    lambda rng: "\udcff\udc80 lone surrogates",
    lambda rng: b"caf\xe9 latin-1".decode("utf-8", "surrogateescape"),
    lambda rng: "nul\x00inside",
    lambda rng: "".join(chr(rng.randrange(0x20)) for _ in range(20)),
    lambda rng: "\ufeff\u200b\u202ebidi and bom",
)


class CaseMaker:
    """Builds hostile Splunk records around the rules' own test events."""

    def __init__(self, engine, rng):
        self.rng = rng
        self.seeds = _seed_records()  # read only: case() copies the one it mangles
        self.operations = sorted(engine_operations(engine)) or ["New-InboxRule"]
        self.sourcetypes = sorted({str(r.get("sourcetype", "")) for r in self.seeds} | set(EXTRA_SOURCETYPES))
        self.field_names = sorted({name for r in self.seeds for name in r} | {
            "_raw", "Operation", "Workload", "RecordType", "Parameters{}.Name", "Parameters{}.Value",
            "OperationProperties{}.Name", "OperationProperties{}.Value", "ScriptBlockText", "Message",
            "EventCode", "EventID", "source", "sourcetype", "_time", "user", "src", "dest", "object", "action"})
        self.mutations = (
            self.drop_fields, self.wrong_type, self.huge_value, self.non_utf8, self.bad_raw_json,
            self.odd_parameters, self.odd_parameters, self.many_values, self.set_operation, self.set_operation,
            self.swap_sourcetype, self.random_fields, self.script_text, self.misaligned_multivalues,
            self.fold_letters, self.encoded_command,
        )

    def case(self):
        rng = self.rng
        if rng.random() < 0.01:
            return {}
        record = copy.deepcopy(rng.choice(self.seeds))
        for _ in range(rng.randint(1, 4)):
            rng.choice(self.mutations)(record)
        return record

    # -- text makers --------------------------------------------------------------------

    def hostile_text(self, size=None):
        rng = self.rng
        if size is None:
            size = rng.choice((0, 1, 10, 200, 5000, 70000)) if rng.random() > 0.02 else rng.randint(MEGABYTE // 2, MEGABYTE)
        pieces = [rng.choice(HOSTILE_PIECES + tuple(self.operations)) for _ in range(rng.randint(1, 4))]
        unit = "".join(pieces) or "a"
        return (unit * (size // len(unit) + 1))[:size]

    def some_value(self):
        rng = self.rng
        roll = rng.random()
        if roll < 0.35:
            return self.hostile_text()
        if roll < 0.5:
            return rng.choice(WRONG_TYPES)(rng)
        if roll < 0.6:
            return rng.choice(NON_UTF8)(rng)
        if roll < 0.7:
            return [self.hostile_text(rng.choice((0, 3, 40))) for _ in range(rng.randint(0, 5))]
        return rng.choice(("", " ", "True", "$true", "0", "x@contoso.com", "smtp:y@evil.example",
                           rng.choice(self.operations), "2026-11-20T09:12:44", "-1", "1e999"))

    # -- mutations ---------------------------------------------------------------------

    def drop_fields(self, record):
        for name in list(record):
            if self.rng.random() < 0.4:
                del record[name]

    def wrong_type(self, record):
        if record:
            record[self.rng.choice(sorted(record))] = self.rng.choice(WRONG_TYPES)(self.rng)

    def huge_value(self, record):
        rng = self.rng
        name = rng.choice(sorted(record) or self.field_names)
        size = rng.randint(MEGABYTE // 2, MEGABYTE) if rng.random() < 0.1 else rng.randint(60000, 140000)
        record[name] = self.hostile_text(size)

    def non_utf8(self, record):
        name = self.rng.choice(sorted(record) or self.field_names)
        record[name] = self.rng.choice(NON_UTF8)(self.rng)

    def _audit(self, record):
        try:
            audit = json.loads(record.get("_raw", ""))
        except (TypeError, ValueError, RecursionError):
            return None
        return audit if isinstance(audit, dict) else None

    def bad_raw_json(self, record):
        rng = self.rng
        raw = record.get("_raw")
        raw = raw if isinstance(raw, str) else json.dumps({"Operation": rng.choice(self.operations), "Workload": "Exchange"})
        depth = rng.choice((10, 500, 5000, 100000))
        choices = (
            raw[: rng.randint(0, len(raw))],                                     # truncated
            "[" * depth + "]" * depth,                                           # deep array
            '{"Operation":"%s","a":%s1%s}' % (rng.choice(self.operations), "[" * depth, "]" * depth),
            '{"Operation":"%s","Parameters":%s}' % (rng.choice(self.operations), '{"a":' * depth + "1" + "}" * depth),
            "null", "[]", "3", '"text"', "{", "{}", '{"Operation": null}', '{"Operation": ["New-InboxRule"]}',
            raw.replace('"', "'"), raw.replace(":", ":\udcff"), raw + "garbage",
            raw.replace('@', '\\udce9@'),                                    # JSON escape of a lone surrogate
            '{"Operation":"%s","Workload":"Exchange","Parameters":[{"Name":"ForwardTo","Value":"x@y.z"}],'
            '"Parameters":"dup"}' % rng.choice(self.operations),
            "NaN", '{"Operation":"%s","RecordType":Infinity}' % rng.choice(self.operations),
        )
        record["_raw"] = rng.choice(choices)

    def odd_parameters(self, record):
        """Rewrite Parameters / OperationProperties inside _raw into shapes the schema does not promise."""
        rng = self.rng
        audit = self._audit(record) or {"Operation": rng.choice(self.operations), "Workload": "Exchange", "RecordType": 2}
        key = rng.choice(("Parameters", "OperationProperties"))
        depth = rng.choice((3, 50, 400))

        def deep():
            node = "x"
            for _ in range(depth):
                node = [node] if rng.random() < 0.5 else {"ActionType": "Forward", "Recipients": [node]}
            return node

        def server_rule(count):
            actions = [{"ActionType": "Forward", "Recipients": ["smtp:r%d@ext.example" % i for i in range(count)]}]
            return json.dumps({"Actions": actions})

        shapes = (
            lambda: None, lambda: "", lambda: "-ForwardTo a@b.example", lambda: 7,
            lambda: {"Name": "ForwardTo", "Value": "a@b.example"}, lambda: ["a", 1, None],
            lambda: [{"Name": None, "Value": "x"}, {"Name": 5, "Value": {"a": 1}}, {"Value": "no name"},
                     {"Name": "ForwardTo"}],
            lambda: [{"Name": "RuleActions", "Value": self.hostile_text(rng.choice((10, 3000)))}],
            lambda: [{"Name": "ServerRule", "Value": server_rule(rng.choice((2, 5000)))}],
            lambda: [{"Name": "RuleActions", "Value": json.dumps(deep()) if depth < 400 else "[" * 50000}],
            lambda: [{"Name": rng.choice(("ForwardTo", "RedirectTo", "ForwardingSmtpAddress", "Identity", "Mailbox",
                                          "BlindCopyTo")), "Value": self.some_value()}
                     for _ in range(rng.randint(1, 6))],
            lambda: [{"Name": "P%d" % i, "Value": "v%d" % i} for i in range(rng.choice((100, 3000)))],
            lambda: [deep()],
        )
        audit[key] = rng.choice(shapes)()
        try:
            record["_raw"] = json.dumps(audit)
        except (TypeError, ValueError, RecursionError):
            record["_raw"] = '{"Operation": "%s", "Parameters": %s' % (audit.get("Operation"), "[" * 5000)

    def many_values(self, record):
        rng = self.rng
        name = rng.choice(sorted(record) or self.field_names)
        count = rng.choice((1000, 5000, 20000))
        record[name] = [self.hostile_text(rng.choice((0, 1, 12))) for _ in range(count)]

    def misaligned_multivalues(self, record):
        rng = self.rng
        for stem in ("Parameters", "OperationProperties"):
            record["%s{}.Name" % stem] = ["ForwardTo", "RedirectTo", "RuleActions", "ServerRule"][: rng.randint(0, 4)]
            record["%s{}.Value" % stem] = [self.hostile_text(rng.choice((0, 30))) for _ in range(rng.randint(0, 5))]
        record.setdefault("Operation", rng.choice(self.operations))

    def set_operation(self, record):
        rng = self.rng
        operation = rng.choice(self.operations)
        operation = rng.choice((operation, operation.upper(), operation.lower(), " %s " % operation))
        record["Operation"] = operation
        audit = self._audit(record)
        if audit is not None:
            audit["Operation"] = operation
            record["_raw"] = json.dumps(audit)

    def fold_letters(self, record):
        """Letters a case-insensitive regex reads as ASCII ones and lower() does not (U+017F as
        s, U+212A as k, U+0131 and U+0130 as i): word pre-checks must not be fooled by them."""
        rng = self.rng
        swaps = {"s": "\u017f", "S": "\u017f", "k": "\u212a", "K": "\u212a", "i": "\u0131", "I": "\u0130"}
        for name, value in list(record.items()):
            if isinstance(value, str) and rng.random() < 0.5:
                head = "".join(swaps.get(char, char) if rng.random() < 0.3 else char for char in value[:5000])
                record[name] = head + value[5000:]

    def encoded_command(self, record):
        """A command line (or script text) carried as `powershell -EncodedCommand <base64>`,
        in one of the option's spellings: its words are then only in the decoded script."""
        rng = self.rng
        names = [name for name in ("CommandLine", "process", "Process_Command_Line", "Processes.process",
                                   "ScriptBlockText") if isinstance(record.get(name), str)]
        if not names:
            return
        name = rng.choice(names)
        script = base64.b64encode(record[name][:20000].encode("utf-16-le", "replace")).decode("ascii")
        option = rng.choice(("-e", "-ec", "-enc", "-EncodedCommand", "/e", "-EnC"))
        space = rng.choice((" ", "\t", "  "))
        record[name] = "powershell.exe -NoProfile%s%s%s%s" % (space, option, space, script)

    def swap_sourcetype(self, record):
        record["sourcetype"] = self.rng.choice(self.sourcetypes)

    def random_fields(self, record):
        for _ in range(self.rng.randint(1, 6)):
            record[self.rng.choice(self.field_names)] = self.some_value()

    def script_text(self, record):
        rng = self.rng
        parts = []
        for _ in range(rng.randint(1, 80)):
            parts.append(rng.choice(self.operations) if rng.random() < 0.5 else rng.choice(HOSTILE_PIECES))
            parts.append(rng.choice((" ", " -ForwardTo ", " -Identity '", ' "', " (", ";", "\n", "`\n", "@(", ",")))
        text = "".join(parts)
        if rng.random() < 0.05:
            text = (text * (MEGABYTE // max(len(text), 1) + 1))[: rng.randint(70000, MEGABYTE)]
        record[rng.choice(("ScriptBlockText", "Message", "_raw"))] = text
        if rng.random() < 0.5:
            record["EventCode"] = rng.choice(("4104", "1"))


def seed_records():
    """Every rule test event as the command would receive it (fresh copies)."""
    return copy.deepcopy(_seed_records())


@functools.lru_cache(maxsize=1)
def _seed_records():
    records = []
    for _, _, case in all_cases():
        for _, record in presentations(case):
            records.append(record)
    return records or [{"sourcetype": "o365:management:activity", "_raw": "{}"}]


def engine_operations(engine):
    """Operations some rule indexes on, as the engine keys them (lower case)."""
    return set(engine._by_operation)


def check_case(engine, record, max_steps=MAX_EVENT_STEPS, max_seconds=None, ungated=None):
    """(failures, steps, seconds) of one case: failures a list of kinds, steps the lines of
    app/ code annotate ran (tools/step_count.py; 0 when max_steps is None: not counted).
    With `ungated` (the same engine without its endpoint gates, app/normalise/endpoint_gate.py), the
    case must also give the same findings from both."""
    failures = []
    original = dict(record)
    internal_before = _internal_count(engine.problems)
    annotated = dict(record)
    steps = 0
    started = time.perf_counter()
    try:
        if max_steps is None:
            engine.annotate(annotated)
        else:
            _, steps = count_steps(engine.annotate, annotated, budget=max_steps)
    except StepBudgetExceeded:
        failures.append("over_%d_steps" % max_steps)
        steps = max_steps + 1
    except Exception as error:  # noqa: BLE001 - the point is to see any
        failures.append("escaped:%s" % type(error).__name__)
    seconds = time.perf_counter() - started
    if _internal_count(engine.problems) != internal_before:
        failures.append("internal_error")
    if failures and failures[0].startswith("over_"):
        return failures, steps, seconds  # stopped half-way: its output fields are not all written
    for name, value in original.items():
        if name not in OUTPUT_FIELDS and annotated.get(name) is not value:
            failures.append("input_changed:%s" % name)
    for name in OUTPUT_FIELDS:
        value = annotated.get(name)
        if name in original and value is original[name]:
            continue  # a CIM field the event already carried is passed on untouched
        if not (isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))):
            failures.append("output_type:%s" % name)
        elif not _writable(value):
            failures.append("output_not_utf8:%s" % name)  # splunklib's write would fail: the search ends
    if max_seconds is not None and seconds > max_seconds:
        failures.append("slow")
    if ungated is not None and not failures:
        # The gated engine's output is `annotated`, already made: running it again would count
        # every problem of the case twice in the summary. A case that failed already is not
        # run again (an exception escaping annotate would escape here too).
        without_gates = dict(record)
        ungated.annotate(without_gates)
        # `is` first: a CIM field the event carried is passed on as it was, NaN included.
        if any(not (annotated.get(name) is without_gates.get(name) or annotated.get(name) == without_gates.get(name))
               for name in OUTPUT_FIELDS):
            failures.append("gate_changed_findings")
    return failures, steps, seconds


CHUNK_CASES = 100   # cases per chunk of the record path check


def check_record_paths(engine, records):
    """Failures of one chunk of cases (each twice) through the record paths: the block path
    must write what the plain path writes, in mode=all and mode=findings."""
    # As splunkd sends them: text (a lone surrogate cannot be sent; the command would read the
    # bytes it stood for as U+FFFD), a list for a multivalue field.
    sent = [{name: [_sendable(item) for item in value] if isinstance(value, (list, tuple)) else _sendable(value)
             for name, value in record.items()} for record in records]
    body = encode_records(sent * 2).decode("utf-8")
    failures = []
    for keep_all in (True, False):
        outputs = []
        for annotate in (annotate_stream, annotate_chunk):
            writer = ChunkWriter()
            try:
                rows = annotate(io.StringIO(body, newline="\n"), engine, writer, keep_all)
                outputs.append((rows, writer.rows, bytes(writer.body())))
            except Exception as error:  # noqa: BLE001 - the csv module's refusals must agree too
                outputs.append("%s: %s" % (type(error).__name__, error))
        if outputs[0] != outputs[1]:
            failures.append("block_path_changed_output")
    return failures


def _sendable(value):
    return ("" if value is None else str(value)).encode("utf-8", "replace").decode("utf-8")


def ungated_engine(engine):
    """The engine's rules, lookups and settings in a second engine without the endpoint gates
    (and with its own problem log, so the summary counts each case once), or None when the
    engine has none."""
    if not engine.context.endpoint_gates:
        return None
    ungated = Engine(engine.rules, engine.allowlist_rows, engine.org_domains, ProblemLog(), engine.rule_controls)
    ungated.context.endpoint_gates = {}
    return ungated


def _writable(value):
    try:
        for item in value if isinstance(value, list) else [value]:
            item.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _internal_count(problems):
    return sum(count for kind, count in problems.counts().items() if kind.startswith("internal:"))


def run(cases, seed, max_steps=MAX_EVENT_STEPS, max_seconds=None, out=sys.stdout, engine=None):
    """Runs the cases; returns a summary dict (also printed when out is given)."""
    problems = ProblemLog()
    engine = engine or Engine.load(REPO, problems)
    load_kinds = set(engine.problems.counts())
    maker = CaseMaker(engine, random.Random(seed))
    ungated = ungated_engine(engine)
    # Its own problem log: the summary counts what the cases did to the engine, once each.
    chunk_engine = Engine(engine.rules, engine.allowlist_rows, engine.org_domains, ProblemLog(), engine.rule_controls)
    failures = {}
    first_failure = {}
    slowest = (0.0, None)
    most_steps = (0, None)
    total_seconds = 0.0
    chunk = []
    for index in range(cases):
        record = maker.case()
        found, steps, seconds = check_case(engine, record, max_steps, max_seconds, ungated)
        chunk.append(record)
        if len(chunk) == CHUNK_CASES or index == cases - 1:
            found = found + check_record_paths(chunk_engine, chunk)
            chunk = []
        total_seconds += seconds
        if seconds > slowest[0]:
            slowest = (seconds, _describe(record))
        if steps > most_steps[0]:
            most_steps = (steps, _describe(record))
        for kind in found:
            failures[kind] = failures.get(kind, 0) + 1
            first_failure.setdefault(kind, (index, _describe(record)))
    counts = {k: v for k, v in engine.problems.counts().items() if k not in load_kinds}
    summary = {
        "cases": cases, "seed": seed, "engine_seconds": round(total_seconds, 2),
        "cases_per_second": round(cases / total_seconds) if total_seconds else None,
        "max_seconds_per_event": round(slowest[0], 4), "slowest_case": slowest[1],
        "max_steps_per_event": most_steps[0], "most_steps_case": most_steps[1],
        "problems_by_kind": counts, "warnings_shown": len([m for m in engine.problems.messages()]),
        "longest_warning_chars": max([len(m) for m in engine.problems.messages()] or [0]),
        "failures": failures, "first_failure": first_failure,
    }
    if out is not None:
        _print(summary, out)
    return summary


def _describe(record):
    """A short account of a case, enough to rebuild it by hand."""
    parts = []
    for name, value in sorted(record.items(), key=lambda item: str(item[0])):
        if isinstance(value, (list, tuple)):
            shown = "%s[%d]" % (type(value).__name__, len(value))
        elif isinstance(value, (str, bytes)):
            shown = repr(value[:60]) + ("...(%d chars)" % len(value) if len(value) > 60 else "")
        else:
            shown = repr(value)[:60]
        parts.append("%s=%s" % (name, shown))
    return ", ".join(parts)[:600]


def _print(summary, out):
    out.write("cases              %d (seed %d)\n" % (summary["cases"], summary["seed"]))
    out.write("engine time        %.2f s, %s cases/s\n" % (summary["engine_seconds"], summary["cases_per_second"]))
    out.write("slowest event      %.4f s: %s\n" % (summary["max_seconds_per_event"], summary["slowest_case"]))
    if summary["max_steps_per_event"]:
        out.write("most steps         %d: %s\n" % (summary["max_steps_per_event"], summary["most_steps_case"]))
    out.write("warnings shown     %d (longest %d chars)\n" % (summary["warnings_shown"], summary["longest_warning_chars"]))
    out.write("problems by kind (events that met each; each kind is one inspector warning):\n")
    for kind, count in sorted(summary["problems_by_kind"].items(), key=lambda item: -item[1]):
        out.write("  %8d  %s\n" % (count, kind[:120]))
    if summary["failures"]:
        out.write("FAILURES:\n")
        for kind, count in sorted(summary["failures"].items()):
            index, described = summary["first_failure"][kind]
            out.write("  %8d  %s (first: case %d: %s)\n" % (count, kind, index, described))
    else:
        out.write("failures           none\n")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100000, metavar="N",
                        help="hostile events to generate and run (default: 100000, about 8 minutes on one core "
                             "with --max-event-steps 0; tox -e fuzz runs 2000)")
    parser.add_argument("--seed", type=int, default=1, metavar="N",
                        help="random seed: the same seed and rules give the same cases, so a failure can be "
                             "replayed (default: 1)")
    parser.add_argument("--max-event-steps", type=int, default=MAX_EVENT_STEPS, metavar="N",
                        help="a case that runs more lines of app/ code than this is a failure (default "
                             "%(default)d; 0 turns counting off, which makes a long run about 10x faster)")
    parser.add_argument("--max-event-seconds", type=float, default=None, metavar="S",
                        help="also fail a case slower than this many seconds (off by default: a clock "
                             "depends on what else the machine runs; use it only on a quiet machine)")
    return parser


def main():
    parser = build_parser()
    options = parser.parse_args()
    if options.cases < 1:
        parser.error("--cases must be at least 1")
    summary = run(options.cases, options.seed, options.max_event_steps or None, options.max_event_seconds)
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
