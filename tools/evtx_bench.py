"""Records per second of the scan on real .evtx files, as a ratio to the `evtx` parser's own.

    python3 tools/evtx_bench.py [--rounds 3] [FOLDER_OR_FILE ...]

FOLDER_OR_FILE defaults to $T1114_EVTX_SAMPLES: real Windows logs such as the public
Yamato-Security/hayabusa-sample-evtx repository (bring it onto the machine, never into this
repository). Each round times, on the same files, the Rust `evtx` parser alone (records() as
the scan calls it, in this process) and then the whole scan (t1114-scan --stats in a
process of its own: reading, shaping as the Windows add-on does, and detection, start-up
left out). Rounds alternate so a change in the machine's load hits both; each round's ratio
is printed and the best one last. A benchmark to read, not a test. Needs Python 3.10 or later
with requirements-scan.txt installed (the evtx wheel).
"""

import argparse
import os
import re
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from t1114_scan.formats import EVTX_PARSER_OPTIONS  # noqa: E402


def evtx_files(roots):
    found = []
    for root in roots:
        if os.path.isfile(root):
            found.append(root)
        for folder, _, names in os.walk(root):
            found.extend(os.path.join(folder, name) for name in names if name.lower().endswith(".evtx"))
    return sorted(found)


def parser_rate(files):
    """(records, records/s) of the evtx parser alone over the files."""
    import evtx

    records = 0
    started = time.perf_counter()
    for path in files:
        try:
            for _ in evtx.PyEvtxParser(path, **EVTX_PARSER_OPTIONS).records():
                records += 1
        except RuntimeError:
            continue  # a damaged file: the scan says so and goes on; the parser's count stops here too
    return records, records / (time.perf_counter() - started)


def scan_rate(python, files):
    """(records, records/s) of the scan (t1114_scan, this checkout's) over the files, from its --stats line."""
    done = subprocess.run([python, "-m", "t1114_scan", "--format", "json", "--stats", "--no-progress"] + files,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env=dict(os.environ, PYTHONPATH=REPO))
    text = done.stderr.decode("utf-8", "replace")
    match = re.search(r"stats: all files: (\d+) events in ([\d.]+) s", text)
    if not match:
        raise SystemExit("the scan gave no --stats line (exit %d): %s" % (done.returncode, text[-2000:]))
    events, seconds = int(match.group(1)), float(match.group(2))
    return events, events / seconds


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", metavar="FOLDER_OR_FILE",
                        help=".evtx files, or folders searched for them (default: $T1114_EVTX_SAMPLES)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of parser then scan (default 3)")
    parser.add_argument("--python", default=sys.executable,
                        help="the Python that runs the scan (default: this one; it needs requirements-scan.txt)")
    return parser


def main(argv=None):
    options = build_parser().parse_args(argv)
    roots = options.paths or [os.environ.get("T1114_EVTX_SAMPLES", "")]
    files = evtx_files([root for root in roots if root])
    if not files:
        raise SystemExit("evtx_bench: no .evtx file found; name a folder of them or set T1114_EVTX_SAMPLES.")
    try:
        import evtx  # noqa: F401
    except ImportError:
        raise SystemExit("evtx_bench: the evtx package is not installed here (Python 3.10 or later: "
                         "pip install -r requirements-scan.txt).")
    print("%d .evtx files, %.1f MB" % (len(files), sum(os.path.getsize(path) for path in files) / 1e6))
    print("%-5s %9s %12s %9s %12s %7s" % ("round", "records", "evtx rec/s", "scanned", "scan rec/s", "ratio"))
    ratios = []
    for number in range(1, options.rounds + 1):
        parsed, parsed_rate = parser_rate(files)
        scanned, scanned_rate = scan_rate(options.python, files)
        ratios.append(scanned_rate / parsed_rate)
        print("%-5d %9d %12.0f %9d %12.0f %7.3f" % (number, parsed, parsed_rate, scanned, scanned_rate, ratios[-1]))
        sys.stdout.flush()
    print("best ratio %.3f, worst %.3f (target: at least 0.1)" % (max(ratios), min(ratios)))


if __name__ == "__main__":
    main()
