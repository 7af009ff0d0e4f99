"""Scan exported log files for MITRE ATT&CK T1114 Email Collection, without Splunk.

    t1114-scan [options] FILE [FILE ...]     (installed: pipx install . or pip install . from the repository)
    ./scripts/scan.sh [options] FILE ...     (from a checkout; sets itself up)

Each file's events go through the same engine, rules, lookups and thresholds as `| t1114`
in Splunk (those installed with the tool, a checkout's own, or an app's named by --app), one
event at a time, and every finding is printed: its sub-technique, severity, time, actor,
mailbox, reason and, when an allowlist row suppressed it, that row. The format of each file
is read from its content:

  Splunk search exports    JSON ({"preview":false,"result":{...}} lines), CSV, JSON lines of flat events
  Office 365 audit         Purview / Unified Audit Log export CSV (AuditData column); JSON array or
                           JSON lines of Management Activity records (as IR collection tools write them);
                           Microsoft Sentinel / Log Analytics OfficeActivity exports, CSV or JSON
  Exchange message tracking  MSGTRK*.LOG files as Exchange Server writes them (#Software, #Fields:
                           header), or the same columns as plain CSV
  Entra ID                 sign-in and audit log JSON exports (portal/Graph, Azure Monitor, Log Analytics)
  Windows                  .evtx files (with the evtx package, Rust, on Python 3.10 and later,
                           or python-evtx, a thousand times slower, on Python 3.9; both come with
                           pip install ., or pip install -r requirements-scan.txt in a checkout)

Any of them may be gzip-compressed. A file that cannot be read gets one sentence on stderr and
the other files are still scanned. Records of a shape no reader knows (a record wrapped one
level down, a test fixture) are counted and said; a file with none read gets a sentence naming
its top-level keys or columns.

Exit status: 0 no unsuppressed finding and every file read without a problem, 1 at least one
unsuppressed finding, 2 no unsuppressed finding but some file, or part of one, could not be
read or held records of an unknown shape (each problem is said on stderr), or the options were
wrong.
"""

import argparse
import csv
import io
import json
import os
import sys
import time

from rich.console import Console
from rich.progress import BarColumn, TaskProgressColumn, TextColumn
from rich.progress import Progress as RichProgress
from rich.table import Table
from rich.text import Text

from . import APP_ROOT  # puts the engine's folder on sys.path, so `app` is the app's own engine
from app.engine import Engine
from app.problems import ProblemLog
from .formats import FORMATS, FileReport, Progress, Unreadable, read_file

EXIT_CLEAN, EXIT_FINDINGS, EXIT_INCOMPLETE = 0, 1, 2

# The columns of --format csv and the keys of --format json, in order. `line` is where the event
# starts in its file (its record number in an .evtx log), `event` its number among the file's events.
ROW_FIELDS = ("file", "line", "event", "status", "technique", "rule", "severity", "risk_score", "time", "actor", "mailbox",
              "src", "dest", "reason", "destinations", "external_destinations", "suppressed_by")


def finding_row(finding):
    """The one place the scan reads a Finding (app/finding.py): everything it prints comes
    from here. It starts from the object the command writes into `t1114_findings`, so the scan
    and the command describe a finding the same way."""
    described = finding.as_dict()
    return {
        "status": described["status"],          # finding | report_only | suppressed
        "technique": described["mitre_technique_id"],
        "mitre_attack": described["mitre_attack"],
        "rule": described["rule"],
        "severity": described["severity"],
        "risk_score": described["risk_score"],
        "time": _iso_time(finding.event.time),
        "actor": described["actor"],
        "mailbox": described["mailbox"],
        "src": described["src"],
        "dest": described["dest"],
        "reason": described["reason"],
        "destinations": [d["address"] for d in described["destinations"]],
        "external_destinations": [d["address"] for d in described["destinations"] if d["external"]],
        "suppressed_by": finding.suppressed_by,
    }


def _iso_time(epoch):
    if epoch is None:
        return ""
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    except (OverflowError, OSError, ValueError):
        return ""


def _safe(text):
    """Text any terminal or UTF-8 file takes (event data may hold lone surrogates)."""
    return text.encode("utf-8", "replace").decode("utf-8") if isinstance(text, str) else text


# ---------------------------------------------------------------- output

# How a severity looks on a terminal; piped or redirected, rich writes plain text.
SEVERITY_STYLES = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan",
                   "informational": "blue", "report-only": "magenta", "suppressed": "dim"}


def console_for(stream):
    """A rich Console on `stream`: colours only on a terminal (and never with NO_COLOR), no
    markup or highlighting read into event data, and on a pipe or file no wrapping at 80 columns."""
    terminal = bool(getattr(stream, "isatty", None) and stream.isatty())
    return Console(file=stream, highlight=False, emoji=False, markup=False, soft_wrap=not terminal,
                   width=None if terminal else 1000)


class TableOutput:
    """Findings as rows under one header, each row drawn as it is found (a long scan shows its
    first finding at once), with the rule and reason, and the suppressing row, beneath."""

    COLUMNS = (("sub-technique", 13), ("severity", 11), ("time (UTC)", 19), ("actor", 28), ("mailbox", 28))

    def __init__(self, stream):
        self.console = console_for(stream)
        self.header_written = False

    def _table(self, header):
        table = Table(box=None, show_header=header, header_style="bold", pad_edge=False, padding=(0, 2, 0, 0),
                      show_edge=False)
        for title, width in self.COLUMNS:
            table.add_column(title, width=width, no_wrap=True, overflow="ellipsis")
        table.add_column("where", no_wrap=True, overflow="fold")
        return table

    def write(self, row):
        if not self.header_written:
            self.console.print(self._table(header=True))
            self.header_written = True
        # A report-only rule's finding (local/t1114.conf) is shown, and never counts as an alert.
        severity = {"finding": row["severity"], "report_only": "report-only"}.get(row["status"], "suppressed")
        when = row["time"].replace("T", " ").rstrip("Z")
        table = self._table(header=False)
        dim = "dim" if row["status"] == "suppressed" else ""
        table.add_row(Text(row["technique"], style=dim), Text(severity, style=SEVERITY_STYLES.get(severity, "")),
                      Text(when, style=dim), Text(_safe(row["actor"] or "-"), style=dim),
                      Text(_safe(row["mailbox"] or "-"), style=dim), Text(_safe("%s:%s" % (row["file"], row["line"]))))
        self.console.print(table)
        self.console.print(Text.assemble("    ", (row["rule"], "bold"), ": ", _safe(row["reason"])))
        if row["suppressed_by"]:
            self.console.print(Text("    suppressed by %s" % _safe(row["suppressed_by"]), style="dim"))

    def finish(self):
        if not self.header_written:
            self.console.print("No findings.")


class JsonOutput:
    """One JSON object per finding, one per line (JSON Lines), written as found."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, row):
        self.stream.write(json.dumps({key: _safe(row[key]) if isinstance(row[key], str) else row[key]
                                      for key in ROW_FIELDS}, ensure_ascii=False) + "\n")

    def finish(self):
        pass


class CsvOutput:
    def __init__(self, stream):
        self.stream = stream
        self.writer = csv.writer(stream, lineterminator="\n")
        self.writer.writerow(ROW_FIELDS)

    def write(self, row):
        self.writer.writerow([_safe(";".join(row[key]) if isinstance(row[key], list) else str(row[key]))
                              for key in ROW_FIELDS])

    def finish(self):
        pass


OUTPUTS = {"table": TableOutput, "json": JsonOutput, "csv": CsvOutput}


class ProgressBar:
    """rich's progress bar on stderr, redrawn at most every 0.2 s; only on a terminal. It is
    taken down before a finding is written and comes back at the next update."""

    def __init__(self, stream, enabled):
        self.stream = stream
        self.enabled = enabled
        self.progress = None
        self._last = 0.0

    def update(self, name, progress, events):
        now = time.monotonic()
        if not self.enabled or now - self._last < 0.2:
            return
        self._last = now
        if self.progress is None:
            self.progress = RichProgress(
                TextColumn("{task.description} [", markup=False), BarColumn(bar_width=30), TextColumn("]"),
                TaskProgressColumn(), TextColumn("{task.fields[events]} events"),
                console=Console(file=self.stream, highlight=False, emoji=False), transient=True,
                auto_refresh=False, redirect_stdout=False, redirect_stderr=False)
            self._task = self.progress.add_task("", total=None, events=0)
            self.progress.start()
        self.progress.update(self._task, description=os.path.basename(name)[:40], completed=progress.done,
                             total=progress.total or None, events=events)
        self.progress.refresh()

    def clear(self):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


# ---------------------------------------------------------------- scanning

class Totals:
    def __init__(self):
        self.events = 0
        self.seconds = 0.0
        self.by_technique = {}  # technique -> [findings, suppressed]; report-only findings count as neither
        self.unreadable = 0
        self.unknown = 0  # records of a shape no reader knows, in every file

    def count(self, row):
        entry = self.by_technique.setdefault(row["technique"], [0, 0])
        if row["status"] != "report_only":
            entry[0 if row["status"] == "finding" else 1] += 1

    @property
    def findings(self):
        return sum(found for found, _ in self.by_technique.values())

    @property
    def suppressed(self):
        return sum(suppressed for _, suppressed in self.by_technique.values())


def scan_file(engine, path, options, output, bar, totals, notes, stderr):
    """Every event of one file through the engine; findings to `output`. False if it could not be read."""
    display = path if path != "-" else "<stdin>"
    report = FileReport(display)
    try:
        size = os.path.getsize(path) if path != "-" else 0
    except OSError:
        size = 0
    progress = Progress(size)
    findings_of = engine.findings
    use_allowlist = options.allowlist == "true"
    show_suppressed = not options.hide_suppressed
    events = 0
    started = time.perf_counter()
    complete = True
    try:
        for location, record in read_file(path, options.format_in, report, progress, display):
            events += 1
            if not events % 2000:
                bar.update(display, progress, events)
            findings = findings_of(record, use_allowlist)
            if not findings:
                continue
            for finding in findings:
                row = finding_row(finding)
                row["file"], row["line"], row["event"] = display, location, events
                totals.count(row)
                if row["status"] != "suppressed" or show_suppressed:
                    bar.clear()
                    output.write(row)
    except Unreadable as error:
        complete = False
        notes.append(str(error))
    except BrokenPipeError:
        raise  # our reader went away, not the file's: main() stops quietly
    except EOFError:
        complete = False
        notes.append("%s: the compressed file ends early (a truncated file ends like this); the %d events before "
                     "that were scanned." % (display, events))
    except (OSError, UnicodeError, ValueError, MemoryError) as error:
        # A read failing under the reader (a disk error, a damaged .gz): said, and the next file goes on.
        complete = False
        notes.append("%s could not be read past event %d (%s: %s)." % (display, events, type(error).__name__,
                                                                       str(error)[:300]))
    elapsed = time.perf_counter() - started
    bar.clear()
    totals.events += events
    totals.seconds += elapsed
    totals.unknown += report.unknown
    # Parts of the file the reader could not use, then what the engine met in its events (an
    # Office 365 line broken in its middle reaches the engine, as in Splunk): either way the
    # exit status must not say "all clear".
    sentences = (report.sentences() + report.shape_sentences()
                 + ["%s: %s" % (display, message) for message in engine.problems.drain()])
    if sentences:
        complete = False
    notes.extend(sentences)
    if options.stats:
        stderr.write("stats: %s: %d events (%s; %d read by a source reader, %d of a shape no reader knows) in "
                     "%.2f s, %s events/s\n" % (display, events, report.format or "?", report.read, report.unknown,
                                                elapsed, _rate(events, elapsed)))
    return complete


def _rate(events, seconds):
    return "%.0f" % (events / seconds) if seconds > 0 else "-"


def _peak_rss():
    """This process's peak memory. VmHWM, not getrusage(): Linux carries ru_maxrss across exec,
    so a scan started by a big process would report that process's peak."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return ", peak RSS %.0f MB" % (int(line.split()[1]) / 1024.0)
    except (OSError, ValueError):
        pass
    return ""


def summary_lines(totals, files, unreadable):
    lines = ["%d events in %d file%s: %d finding%s, %d suppressed by an allowlist%s" % (
        totals.events, files, "" if files == 1 else "s", totals.findings, "" if totals.findings == 1 else "s",
        totals.suppressed, "; %d file%s with problems (said above)" % (unreadable, "" if unreadable == 1 else "s")
        if unreadable else "")]
    if totals.unknown:
        lines.append("  %d record%s of a shape no reader knows, not checked (said above)" % (
            totals.unknown, "" if totals.unknown == 1 else "s"))
    for technique in sorted(totals.by_technique):
        found, suppressed = totals.by_technique[technique]
        lines.append("  %s  %d finding%s, %d suppressed" % (technique, found, "" if found == 1 else "s", suppressed))
    return lines


def build_parser():
    formats = "\n".join("  %-17s %s" % (name, text) for name, text in FORMATS.items())
    parser = argparse.ArgumentParser(
        prog="t1114-scan", description=__doc__.split("\n\n", 1)[0] + "\n\n" + __doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Formats for --format-in:\n" + formats)
    parser.add_argument("files", nargs="+", metavar="FILE", help="files to scan; - reads standard input")
    parser.add_argument("--format-in", default="auto", choices=tuple(FORMATS), metavar="FORMAT",
                        help="how to read every FILE (default auto: from each file's content; list below)")
    parser.add_argument("--format", default="table", choices=tuple(OUTPUTS),
                        help="table (default): readable, a summary at the end; json: one JSON object per finding "
                             "per line; csv: one row per finding. json and csv put the summary on stderr")
    parser.add_argument("--allowlist", default="true", choices=("true", "false"),
                        help="true (default): apply the allowlist lookups and show which row suppressed what; "
                             "false: no suppression, as `| t1114 allowlist=false`")
    parser.add_argument("--hide-suppressed", action="store_true",
                        help="leave suppressed findings out of the output (they are still counted), as "
                             "`| t1114` in its default mode=findings")
    parser.add_argument("--app", default=APP_ROOT, metavar="DIR",
                        help="the app whose rules, lookups and default/ and local/t1114.conf to use: by default the "
                             "ones installed with the tool (or this checkout's, run from a checkout), or a built app "
                             "(build/t1114_email_collection) or a Splunk installation's "
                             "($SPLUNK_HOME/etc/apps/t1114_email_collection)")
    parser.add_argument("--stats", action="store_true",
                        help="print events read, seconds and events per second for each file and in all (reading and "
                             "detection, not start-up), and the peak memory, on stderr")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (it is drawn on stderr only when stderr is a terminal)")
    return parser


def parse_options(argv):
    return build_parser().parse_args(argv)


def load_engine(app_root, stderr):
    """The engine as `| t1114` builds it; None, with a sentence on stderr, if it cannot be."""
    if not os.path.isdir(os.path.join(app_root, "app", "rules")):
        stderr.write("scan: %s is not the T1114 app (it has no app/rules folder); name the app's folder with "
                         "--app.\n" % app_root)
        return None
    try:
        return Engine.load(app_root, ProblemLog())
    except ImportError as error:
        stderr.write("scan: reading the rules from %s needs %s: pip install -r requirements-scan.txt (a built "
                         "app's and the installed tool's compiled rules need nothing).\n" % (app_root, error.name or error))
        return None


def main(argv=None, stdout=None, stderr=None):
    """Runs the scan; returns the exit status. stdout and stderr are text streams (the
    process's own by default, stdout as UTF-8 whatever the locale)."""
    stderr = stderr or sys.stderr
    options = parse_options(argv)
    engine = load_engine(os.path.abspath(options.app), stderr)
    if engine is None:
        return EXIT_INCOMPLETE
    own_stdout = stdout is None
    if own_stdout:
        stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", errors="replace", newline="",
                                  line_buffering=sys.stdout.isatty())
    totals = Totals()
    try:
        return _scan(options, engine, stdout, stderr, totals)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and say what was found so far.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        own_stdout = False
        return EXIT_FINDINGS if totals.findings else EXIT_INCOMPLETE
    finally:
        if own_stdout:
            stdout.flush()
            stdout.detach()  # sys.stdout stays usable for the caller (tools/demo.py)


def _scan(options, engine, stdout, stderr, totals):
    machine = options.format != "table"
    output = OUTPUTS[options.format](stdout)
    bar = ProgressBar(stderr, stderr.isatty() and not options.no_progress)
    notes = ["note: %s" % message for message in engine.problems.drain()]
    for note in notes:
        stderr.write(note + "\n")
    unreadable = 0
    for path in options.files:
        problems = []
        try:
            if not scan_file(engine, path, options, output, bar, totals, problems, stderr):
                unreadable += 1
        except KeyboardInterrupt:
            bar.clear()
            stdout.flush()
            stderr.write("scan: interrupted in %s\n" % path)
            return 130
        stdout.flush()
        for problem in problems:
            stderr.write("scan: %s\n" % _safe(problem))
    output.finish()
    summary = summary_lines(totals, len(options.files), unreadable)
    target = stderr if machine else stdout
    if not machine:
        stdout.write("\n")
    target.write("\n".join(summary) + "\n")
    if options.stats:
        stderr.write("stats: all files: %d events in %.2f s, %s events/s%s\n" % (
            totals.events, totals.seconds, _rate(totals.events, totals.seconds), _peak_rss()))
    stdout.flush()
    if totals.findings:
        return EXIT_FINDINGS
    return EXIT_INCOMPLETE if unreadable else EXIT_CLEAN


def run():
    """The `t1114-scan` command (pyproject.toml's entry point) and `python -m t1114_scan`."""
    sys.exit(main())


if __name__ == "__main__":
    run()
