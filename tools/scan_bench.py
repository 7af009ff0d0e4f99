"""Events per second of the offline scan (t1114_scan) against the Splunk command path on the same events.

    python3 tools/scan_bench.py [--events 100000] [--pythons 3.9,3.13] [--repeat 1]

The events are tools/bench.py's stream (half Office 365, half Sysmon, 1 % T1114 findings).
They are written as files the scan reads (a Splunk JSON export, a Splunk CSV export with
__mv_ columns, and the Office 365 half as JSON lines of audit records), and the built
`| t1114 mode=all` is run over exactly the records the scan makes of each file, through the
chunked protocol in 50,000-event chunks as tools/bench.py runs it. Both figures leave out
start-up: the scan's is its --stats rate, the command's is timed from its first execute chunk.
The scan's peak RSS is printed for the file at full and at quarter size: flat means streamed.
A benchmark to read, not a test: runs vary 10-20 % on a shared machine.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tools.bench import make_records, python_for, run_once  # noqa: E402
from tools.build import build  # noqa: E402
from tools.chunked_client import encode_records, script_path  # noqa: E402
from t1114_scan.formats import FileReport, Progress, read_file  # noqa: E402

CHUNK = 50000


def write_inputs(folder, records):
    """{format: path} of the same events in three of the formats the scan reads."""
    paths = {"splunk-json": os.path.join(folder, "export.json"), "splunk-csv": os.path.join(folder, "results.csv"),
             "o365-jsonl": os.path.join(folder, "ual.jsonl")}
    with open(paths["splunk-json"], "w", encoding="utf-8") as handle:
        for index, record in enumerate(records):
            handle.write(json.dumps({"preview": False, "offset": index, "result": record}) + "\n")
    with open(paths["splunk-csv"], "wb") as handle:
        handle.write(encode_records(records))
    with open(paths["o365-jsonl"], "w", encoding="utf-8") as handle:
        for record in records:
            if record.get("sourcetype") == "o365:management:activity":
                handle.write(record["_raw"] + "\n")
    return paths


def scan_once(python, app_dir, path):
    """(events/s, peak RSS MB) of one scan process over the file."""
    process = subprocess.Popen([python, "-m", "t1114_scan", "--app", app_dir, "--format", "json", "--stats",
                                "--no-progress", path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=dict(os.environ, PYTHONPATH=REPO))
    _, err = process.communicate()
    text = err.decode("utf-8", "replace")
    match = re.search(r"stats: all files: (\d+) events in ([\d.]+) s", text)
    if process.returncode not in (0, 1) or not match:
        raise SystemExit("scan failed on %s: %s" % (path, text[-2000:]))
    events, seconds = int(match.group(1)), float(match.group(2))
    return events / seconds, _peak_rss_mb(text)


def _peak_rss_mb(text):
    match = re.search(r"peak RSS ([\d.]+) MB", text)
    return float(match.group(1)) if match else float("nan")


def command_rate(python, app_dir, records):
    chunks = [(encode_records(records[i:i + CHUNK]), len(records[i:i + CHUNK])) for i in range(0, len(records), CHUNK)]
    return run_once(script_path(app_dir), python, ["mode=all"], chunks, len(records))["events_per_s"]


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100000, help="events in the stream (default 100000)")
    parser.add_argument("--pythons", default="3.9,3.13", help="Python versions to run both on (default 3.9,3.13)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell; the best is reported (default 1)")
    return parser


def main():
    options = build_parser().parse_args()
    work = tempfile.mkdtemp(prefix="t1114-scan-bench-")
    try:
        app_dir, _ = build(build_dir=work, package=False)
        records = make_records(1, options.events)
        paths = write_inputs(work, records)
        os.makedirs(os.path.join(work, "quarter"))
        quarter = write_inputs(os.path.join(work, "quarter"), records[:options.events // 4])
        print("%-6s %-12s %9s | %10s %12s %6s | %13s %13s" % (
            "python", "format", "events", "scan ev/s", "command ev/s", "ratio", "scan RSS MB", "at 1/4 size"))
        for version in options.pythons.split(","):
            python = python_for(version)
            if not python:
                print("python%s not found; skipped" % version)
                continue
            run_once(script_path(app_dir), python, [], [(encode_records(records[:10]), 10)], 10)  # __pycache__
            for name, path in paths.items():
                # The command gets exactly the records the scan makes of this file.
                same = [record for _, record in read_file(path, "auto", FileReport(path), Progress(0))]
                scans, commands = [], []
                for _ in range(options.repeat):  # interleaved, so a change in load hits both
                    scans.append(scan_once(python, app_dir, path))
                    commands.append(command_rate(python, app_dir, same))
                scan_rate, rss = max(rate for rate, _ in scans), max(mb for _, mb in scans)
                _, rss_quarter = scan_once(python, app_dir, quarter[name])
                best_command = max(commands)
                print("%-6s %-12s %9s | %10.0f %12.0f %6.2f | %13.0f %13.0f" % (
                    version, name, "{:,}".format(len(same)), scan_rate, best_command, scan_rate / best_command,
                    rss, rss_quarter))
                sys.stdout.flush()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
