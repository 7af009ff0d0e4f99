"""The main job on bundled sample events: build the app, run `| t1114` over the events the way
splunkd would (chunked protocol, subprocess), and print the findings as a table, then what
the allowlists suppressed and why.

    python tools/demo.py [--events samples/sample_events.jsonl] [--mode all|findings] [--allowlist false]

mode=all is the default here so the suppressed events can be shown too; in Splunk the
command's own default is mode=findings.
"""

import argparse
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tools.build import build  # noqa: E402
from tools.chunked_client import run, script_path  # noqa: E402

COLUMNS = (("time (UTC)", 19), ("technique", 9), ("severity", 8), ("user", 24), ("object", 22), ("destination", 30))


def load_events(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def cell(value, width):
    text = ", ".join(value) if isinstance(value, list) else str(value or "")
    return (text[: width - 1] + "~") if len(text) > width else text.ljust(width)


def print_findings(records):
    print("  ".join(title.ljust(width) for title, width in COLUMNS))
    print("  ".join("-" * width for _, width in COLUMNS))
    for record in records:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(record.get("_time") or 0)))
        values = (when, record["mitre_technique_id"], record["t1114_severity"], record["user"], record["object"],
                  record["t1114_external_destination"] or record["t1114_destination"])
        print("  ".join(cell(value, width) for value, (_, width) in zip(values, COLUMNS)))
        rules = record["t1114_rule"] if isinstance(record["t1114_rule"], list) else [record["t1114_rule"]]
        reasons = record["t1114_reason"] if isinstance(record["t1114_reason"], list) else [record["t1114_reason"]]
        for rule, reason in zip(rules, reasons):
            print("    %s: %s" % (rule, reason))
        if record.get("t1114_suppressed_by"):
            print("    also suppressed: %s" % record["t1114_suppressed_by"])


def print_suppressed(records):
    for record in records:
        rules = record["t1114_suppressed_rule"] if isinstance(record["t1114_suppressed_rule"], list) else [
            record["t1114_suppressed_rule"]]
        by = record["t1114_suppressed_by"] if isinstance(record["t1114_suppressed_by"], list) else [
            record["t1114_suppressed_by"]]
        for rule, row in zip(rules, by):
            print("  %s  %s\n      by %s" % (record["user"] or "-", rule, row))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", default=os.path.join(REPO, "samples", "sample_events.jsonl"))
    parser.add_argument("--mode", default="all", choices=("findings", "all"))
    parser.add_argument("--allowlist", default="true", choices=("true", "false"))
    options = parser.parse_args()

    app_dir, tarball = build()
    print("built %s" % os.path.relpath(tarball, REPO))
    events = load_events(options.events)
    args = ["mode=%s" % options.mode, "allowlist=%s" % options.allowlist]
    result = run(script_path(app_dir), events, args=args)
    print("ran   | t1114 %s  over %d events from %s\n" % (" ".join(args), len(events), os.path.relpath(options.events, REPO)))
    print_findings([r for r in result["records"] if r.get("t1114_status") == "finding"])
    suppressed = [r for r in result["records"] if r.get("t1114_status") == "suppressed"]
    if suppressed:
        print("\nSuppressed by an allowlist row (not returned in mode=findings):")
        print_suppressed(suppressed)
    statuses = [r.get("t1114_status") for r in result["records"]]
    print("\n%d events in, %d returned: %d with findings, %d fully suppressed by an allowlist" % (
        len(events), len(result["records"]), statuses.count("finding"), statuses.count("suppressed")))
    for level, text in result["messages"]:
        print("job inspector %s: %s" % (level, text))
    if result["exit_code"] != 0:
        print(result["stderr"], file=sys.stderr)
    return result["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
