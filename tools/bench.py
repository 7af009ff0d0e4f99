"""Throughput, memory and start-up of `t1114` against splunklib's own floor.

Runs the built t1114 command and a do-nothing splunklib StreamingCommand (same vendored
splunklib, same Python) over the same generated event streams through the real chunked
protocol, in one run, and prints events/s, the ratio t1114/passthrough, peak RSS and
start-up time. A script that prints figures, not a timed test.

    python tools/bench.py [--events 100000,1000000] [--chunk 50000] [--pythons 3.9,3.13]
                          [--modes all,findings] [--repeat 3] [--markdown]

Each cell runs the passthrough and t1114 one after the other, `--repeat` times, and keeps
the best events/s and start-up of each (the machine's noise only ever slows a run down)
and the highest peak RSS. T1114_RECORD_PATH=splunklib in the environment benchmarks the
command on splunklib's own record path instead.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tools.build import build  # noqa: E402
from tools.chunked_client import ChunkedCommand, encode_records, script_path  # noqa: E402

# The passthrough runs from the same staged app, so splunklib loads the same logging.conf at
# import; that file names a handler in app/, hence the app's root on the path too.
PASSTHROUGH = '''
import os, sys
APP_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(APP_ROOT, "lib"))
sys.path.insert(0, APP_ROOT)
from splunklib.searchcommands import Configuration, StreamingCommand, dispatch

@Configuration(distributed=True)
class Passthrough(StreamingCommand):
    def stream(self, records):
        for record in records:
            yield record

dispatch(Passthrough, sys.argv, sys.stdin, sys.stdout, __name__, allow_empty_input=True)
'''

USERS = ["%s@contoso.com" % n for n in ("alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank")]
BENIGN_OPERATIONS = ["MailItemsAccessed", "Send", "MoveToDeletedItems", "SoftDelete", "Update", "Create",
                     "UserLoggedIn", "FileAccessed", "Set-Mailbox", "New-InboxRule", "UpdateInboxRules"]
IMAGES = [r"C:\Windows\System32\svchost.exe", r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE",
          r"C:\Windows\explorer.exe", r"C:\Windows\System32\cmd.exe", r"C:\Windows\System32\conhost.exe"]


def _o365(rng, positive):
    """An Office 365 Management Activity event as the add-on extracts it: 24-26 fields, 2-4 multivalue."""
    user = rng.choice(USERS)
    operation = "New-InboxRule" if positive else rng.choice(BENIGN_OPERATIONS)
    if positive:
        parameters = [{"Name": "Name", "Value": "sync"}, {"Name": "ForwardTo", "Value": "drop@exfil.example"}]
    elif operation in ("Set-Mailbox", "New-InboxRule"):
        parameters = [{"Name": "Identity", "Value": user}, {"Name": "MoveToFolder", "Value": "News"}]
    else:
        parameters = []
    client_ip = "203.0.113.%d" % rng.randrange(255)
    audit = {"CreationTime": "2026-11-20T09:%02d:%02d" % (rng.randrange(60), rng.randrange(60)),
             "Id": "%032x" % rng.getrandbits(128), "Operation": operation, "RecordType": 1 if parameters else 2,
             "ResultStatus": "Succeeded", "UserType": 0, "Workload": "Exchange", "ClientIP": client_ip,
             "UserId": user, "OrganizationName": "contoso.onmicrosoft.com", "Parameters": parameters}
    record = {"_raw": json.dumps(audit, separators=(",", ":")), "_time": str(1795000000 + rng.randrange(86400)),
              "host": "splunk-hf01", "source": "o365", "sourcetype": "o365:management:activity", "index": "o365",
              "splunk_server": "idx01", "linecount": "1", "Operation": operation, "Workload": "Exchange",
              "RecordType": str(audit["RecordType"]), "UserId": user, "ClientIP": client_ip,
              "ResultStatus": "Succeeded", "UserType": "0", "OrganizationName": "contoso.onmicrosoft.com",
              "user": user, "src": client_ip, "action": "success", "date_hour": "9", "Id": audit["Id"],
              "vendor_product": "Microsoft Office 365", "eventtype": ["o365_exchange", "ms_o365"],
              "tag": ["change", "account"]}
    if parameters:
        record["Parameters{}.Name"] = [p["Name"] for p in parameters]
        record["Parameters{}.Value"] = [p["Value"] for p in parameters]
    return record


def _windows(rng, positive):
    """A Sysmon process-creation event (EventCode 1): 24 fields, two multivalue, an XML _raw."""
    user = rng.choice(USERS).split("@")[0]
    if positive:
        image = r"C:\Windows\System32\Robocopy.exe"
        command_line = r'robocopy "C:\Users\%s\AppData\Local\Microsoft\Outlook" \\files01\drop$ %s.ost' % (user, user)
    else:
        image = rng.choice(IMAGES)
        command_line = '"%s" -k netsvcs' % image
    computer = "ws-%03d.contoso.com" % rng.randrange(999)
    raw = ("<Event><System><EventID>1</EventID><Computer>%s</Computer></System><EventData>"
           "<Data Name='Image'>%s</Data><Data Name='CommandLine'>%s</Data></EventData></Event>"
           % (computer, image, command_line))
    return {"_raw": raw, "_time": str(1795000000 + rng.randrange(86400)), "host": computer.split(".")[0],
            "source": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational", "sourcetype": "XmlWinEventLog",
            "index": "windows", "splunk_server": "idx01", "linecount": "1", "EventCode": "1",
            "Computer": computer, "Image": image, "CommandLine": command_line,
            "ParentImage": r"C:\Windows\System32\services.exe", "User": "CONTOSO\\" + user,
            "ProcessId": str(rng.randrange(65535)), "IntegrityLevel": "Medium",
            "process_name": os.path.basename(image.replace("\\", "/")), "dest": computer, "date_hour": "9",
            "signature": "Process Create", "vendor_product": "Microsoft Sysmon", "action": "allowed",
            "eventtype": ["windows_process", "sysmon"], "tag": ["process", "report"]}


def make_records(seed, size, positive_rate=0.01):
    """Half Office 365, half Windows events; `positive_rate` of them T1114 findings."""
    rng = random.Random(seed)
    records = []
    for _ in range(size):
        positive = rng.random() < positive_rate
        records.append(_o365(rng, positive) if rng.random() < 0.5 else _windows(rng, positive))
    return records


def _is_positive(record):
    return record.get("Parameters{}.Name") == ["Name", "ForwardTo"] or record.get("Image", "").endswith("Robocopy.exe")


DISTINCT_CHUNKS = 4   # the stream cycles through this many different chunks


def make_stream(chunk_size, largest_total):
    """The distinct chunks a run cycles through, as (seed, events, CSV body, positives): no
    more events than the largest run sends, and no chunk larger than that run."""
    size = min(chunk_size, largest_total)
    sizes = [size] * min(DISTINCT_CHUNKS, -(-largest_total // size))
    if largest_total < len(sizes) * size:  # one pass covers the largest run: its last chunk is shorter
        sizes[-1] = largest_total - (len(sizes) - 1) * size
    chunks = []
    for seed, count in enumerate(sizes):
        records = make_records(seed, count)
        chunks.append((seed, count, encode_records(records), sum(1 for r in records if _is_positive(r))))
    return chunks


def send_plan(chunks, total_events):
    """(CSV body, events) of each execute chunk of a run of exactly `total_events` events:
    the stream's chunks in turn, the last one cut short (the first events of the same seed).
    Encoded before the run is timed."""
    plan, sent, index = [], 0, 0
    while sent < total_events:
        seed, count, body, _ = chunks[index % len(chunks)]
        index += 1
        if sent + count > total_events:
            count = total_events - sent
            body = encode_records(make_records(seed, count))
        plan.append((body, count))
        sent += count
    return plan


def _peak_rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


def run_once(script, python, args, plan):
    """One process over the chunks of a send plan: events/s, peak RSS (MB), start-up (s)."""
    total_events = sum(count for _, count in plan)
    with ChunkedCommand(script, args, python=python) as command:
        started = time.perf_counter()
        command.getinfo()  # splunkd's getinfo sent, the command's reply read: imports, engine, lookups
        startup = time.perf_counter() - started
        started = time.perf_counter()
        for index, (body, _) in enumerate(plan):
            command._send({"action": "execute", "finished": index == len(plan) - 1}, body)
            command._receive()
        elapsed = time.perf_counter() - started
        peak = _peak_rss_kib(command.process.pid)  # the process is still alive: read before close
        code = command.close()
    if code != 0:
        raise SystemExit("%s exited %s: %s" % (script, code, command.stderr()[-2000:]))
    return {"events_per_s": total_events / elapsed, "peak_rss_mb": peak / 1024.0, "startup_s": startup}


def best_of(runs):
    return {"events_per_s": max(r["events_per_s"] for r in runs), "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "startup_s": min(r["startup_s"] for r in runs)}


def python_for(version):
    """pyenv's install of that version when there is one (its shims may not be active), else PATH."""
    try:
        prefix = subprocess.check_output(["pyenv", "prefix", version], text=True, stderr=subprocess.DEVNULL).strip()
        candidate = os.path.join(prefix, "bin", "python%s" % version)
        if os.path.exists(candidate):
            return candidate
    except (OSError, subprocess.CalledProcessError):
        pass
    return shutil.which("python%s" % version)


def _event_counts(text):
    try:
        counts = [int(n.replace("_", "")) for n in text.split(",") if n.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of event counts, e.g. 100000,1000000")
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("every event count must be at least 1")
    return counts


def _names(text):
    return [n.strip() for n in text.split(",") if n.strip()]


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=_event_counts, default=[100000, 1000000], metavar="N[,N...]",
                        help="events sent to each process, one table row per count (default: 100000,1000000); "
                             "no more than the largest count is generated")
    parser.add_argument("--chunk", type=int, default=50000, metavar="N",
                        help="events per execute chunk, as splunkd's maxresultrows (default: 50000); "
                             "memory follows this, not --events")
    parser.add_argument("--pythons", type=_names, default=["3.9", "3.13"], metavar="V[,V...]",
                        help="Python versions to run both commands with, found through pyenv or as "
                             "pythonV on PATH (default: 3.9,3.13); a missing one is skipped")
    parser.add_argument("--modes", type=_names, default=["all", "findings"], metavar="MODE[,MODE...]",
                        help="t1114's mode= for each row: all returns every event, annotated (the fair "
                             "comparison with the passthrough); findings returns only findings (default: all,findings)")
    parser.add_argument("--repeat", type=int, default=3, metavar="N",
                        help="runs per cell; the best events/s and start-up and the highest RSS are reported (default: 3)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown, as in the README")
    return parser


def main():
    parser = build_parser()
    options = parser.parse_args()
    if options.chunk < 1 or options.repeat < 1:
        parser.error("--chunk and --repeat must be at least 1")
    unknown_modes = set(options.modes) - {"all", "findings"}
    if unknown_modes:
        parser.error("--modes takes all and findings, not %s" % ", ".join(sorted(unknown_modes)))

    work = tempfile.mkdtemp(prefix="t1114-bench-")
    app_dir, _ = build(build_dir=work, package=False)
    passthrough = os.path.join(app_dir, "bin", "bench_passthrough.py")
    with open(passthrough, "w") as handle:
        handle.write(PASSTHROUGH)
    chunks = make_stream(options.chunk, max(options.events))
    events = sum(count for _, count, _, _ in chunks)
    print("stream: %d distinct chunks of %d events (half Office 365, half Sysmon; 24-26 fields each), "
          "%.0f bytes/event on the wire, %.2f%% positives; best of %d runs per cell"
          % (len(chunks), chunks[0][1], sum(len(body) for _, _, body, _ in chunks) / events,
             100.0 * sum(hits for _, _, _, hits in chunks) / events, options.repeat))
    warm_up = send_plan(chunks, 1)
    if options.markdown:
        print("| Python | mode | events | t1114 ev/s | passthrough ev/s | ratio | t1114 peak RSS MB | "
              "passthrough peak RSS MB | t1114 start-up s | passthrough start-up s |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        row = "| %s | %s | %s | %.0f | %.0f | %.2f | %.0f | %.0f | %.3f | %.3f |"
    else:
        header = "%-6s %-9s %9s | %11s %11s %6s | %8s %8s | %7s %7s" % (
            "python", "mode", "events", "t1114 ev/s", "pass ev/s", "ratio", "t1114 MB", "pass MB", "start s", "pass s")
        print(header)
        print("-" * len(header))
        row = "%-6s %-9s %9s | %11.0f %11.0f %6.2f | %8.0f %8.0f | %7.3f %7.3f"
    try:
        for version in options.pythons:
            python = python_for(version)
            if not python:
                print("python%s not found; skipped" % version)
                continue
            # A first run writes __pycache__ (the staged app ships none): not part of start-up.
            run_once(passthrough, python, [], warm_up)
            run_once(script_path(app_dir), python, [], warm_up)
            for mode in options.modes:
                for total in options.events:
                    plan = send_plan(chunks, total)
                    ours_runs, base_runs = [], []
                    for _ in range(options.repeat):
                        base_runs.append(run_once(passthrough, python, [], plan))
                        ours_runs.append(run_once(script_path(app_dir), python, ["mode=%s" % mode], plan))
                    ours, base = best_of(ours_runs), best_of(base_runs)
                    print(row % (version, mode, "{:,}".format(total), ours["events_per_s"], base["events_per_s"],
                                 ours["events_per_s"] / base["events_per_s"], ours["peak_rss_mb"],
                                 base["peak_rss_mb"], ours["startup_s"], base["startup_s"]))
                    sys.stdout.flush()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
