"""The main job on the bundled sample events: build the app, scan samples/ with the built app's
rules and lookups (t1114_scan/, the file command t1114-scan), then run the built `| t1114` over the
same events the way splunkd would (chunked protocol, subprocess) and check it finds the same.

    python tools/demo.py [scan options] [FILE ...]        (default: samples/sample_events.jsonl)

Options are t1114-scan's (--allowlist false, --hide-suppressed, --format json, ...); see
`./scripts/scan.sh --help`. Exits 0 when the demo ran and both paths agreed, whatever was found.
"""

import io
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from t1114_scan import cli as scan  # noqa: E402
from tools.build import build  # noqa: E402
from tools.chunked_client import run, script_path  # noqa: E402
from t1114_scan.formats import FileReport, Progress, read_file  # noqa: E402

SAMPLES = os.path.relpath(os.path.join(REPO, "samples", "sample_events.jsonl"))


def command_findings(app_dir, paths, allowlist):
    """(events, rule ids found, rule ids suppressed) by the built command over the files' events."""
    records = []
    for path in paths:
        records.extend(record for _, record in read_file(path, "auto", FileReport(path), Progress(0)))
    result = run(script_path(app_dir), records, args=["mode=all", "allowlist=%s" % allowlist])
    if result["exit_code"] != 0:
        raise RuntimeError("the built command failed: %s" % result["stderr"][-2000:])
    found, suppressed = [], []
    for record in result["records"]:
        # t1114_findings holds every finding of the event whole, one object each.
        for described in json.loads(record.get("t1114_findings") or "[]"):
            (suppressed if described["status"] == "suppressed" else found).append(described["rule"])
    return len(records), sorted(found), sorted(suppressed)


def scan_findings(app_dir, paths, allowlist):
    """The same from the scan's JSON output, one row per finding as in t1114_findings."""
    out = io.StringIO()
    scan.main(["--app", app_dir, "--format", "json", "--allowlist", allowlist, "--no-progress"] + paths,
              stdout=out, stderr=io.StringIO())
    found, suppressed = [], []
    for line in out.getvalue().splitlines():
        row = json.loads(line)
        (suppressed if row["status"] == "suppressed" else found).append(row["rule"])
    return sorted(found), sorted(suppressed)


def build_parser():
    """The scan's own options (the demo passes them on), described as the demo's."""
    parser = scan.build_parser()
    parser.prog = "demo.sh"
    parser.usage = "%(prog)s [scan options] [FILE ...]   (FILE defaults to samples/sample_events.jsonl)"
    parser.description = __doc__
    return parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        build_parser().print_help()
        return 0
    app_dir, tarball = build()
    print("built %s" % os.path.relpath(tarball, REPO))
    options = scan.parse_options(argv + ([] if _has_files(argv) else [SAMPLES]))
    paths = options.files
    print("scan  %s\n" % " ".join(os.path.relpath(p, REPO) if os.path.isabs(p) else p for p in paths))
    sys.stdout.flush()
    code = scan.main(["--app", app_dir] + argv + ([] if _has_files(argv) else [SAMPLES]))
    if code not in (scan.EXIT_CLEAN, scan.EXIT_FINDINGS):
        return code
    events, by_command, suppressed_by_command = command_findings(app_dir, paths, options.allowlist)
    by_scan, suppressed_by_scan = scan_findings(app_dir, paths, options.allowlist)
    if (by_command, suppressed_by_command) != (by_scan, suppressed_by_scan):
        print("\nThe built | t1114 over the chunked protocol disagrees with the scan: command %r / %r, scan %r / %r"
              % (by_command, suppressed_by_command, by_scan, suppressed_by_scan), file=sys.stderr)
        return 3
    print("\nThe built | t1114 command, run as splunkd runs it over the same %d events, found the same %d "
          "findings and %d suppressed." % (events, len(by_command), len(suppressed_by_command)))
    return 0


def _has_files(argv):
    """Whether argv names files (scan's positional arguments), so the samples are not added."""
    takes_value = {"--format-in", "--format", "--allowlist", "--app"}
    skip = False
    for item in argv:
        if skip:
            skip = False
            continue
        if item in takes_value:
            skip = True
        elif item == "-" or not item.startswith("-"):
            return True
    return False


if __name__ == "__main__":
    sys.exit(main())
