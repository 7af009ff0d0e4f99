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


def make_chunk(seed, size, positive_rate=0.01):
    """(CSV body, positives) of one execute chunk."""
    records = make_records(seed, size, positive_rate)
    positives = sum(1 for r in records if r.get("Parameters{}.Name") == ["Name", "ForwardTo"]
                    or r.get("Image", "").endswith("Robocopy.exe"))
    return encode_records(records), positives


def _peak_rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


def run_once(script, python, args, chunks, total_events):
    """One process over `total_events` events: events/s, peak RSS (MB), start-up (s)."""
    with ChunkedCommand(script, args, python=python) as command:
        started = time.perf_counter()
        command.getinfo()  # splunkd's getinfo sent, the command's reply read: imports, engine, lookups
        startup = time.perf_counter() - started
        sent = 0
        index = 0
        started = time.perf_counter()
        while sent < total_events:
            body, count = chunks[index % len(chunks)]
            index += 1
            sent += count
            command._send({"action": "execute", "finished": sent >= total_events}, body)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", default="100000,1000000")
    parser.add_argument("--chunk", type=int, default=50000)
    parser.add_argument("--pythons", default="3.9,3.13")
    parser.add_argument("--modes", default="all,findings")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; the best is reported")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    options = parser.parse_args()

    work = tempfile.mkdtemp(prefix="t1114-bench-")
    app_dir, _ = build(build_dir=work, package=False)
    passthrough = os.path.join(app_dir, "bin", "bench_passthrough.py")
    with open(passthrough, "w") as handle:
        handle.write(PASSTHROUGH)
    chunks = []
    positives = 0
    for seed in range(4):
        body, hits = make_chunk(seed, options.chunk)
        chunks.append((body, options.chunk))
        positives += hits
    events = len(chunks) * options.chunk
    print("stream: %d distinct chunks of %d events (half Office 365, half Sysmon; 24-26 fields each), "
          "%.0f bytes/event on the wire, %.2f%% positives; best of %d runs per cell"
          % (len(chunks), options.chunk, sum(len(b) for b, _ in chunks) / events, 100.0 * positives / events,
             options.repeat))
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
        for version in options.pythons.split(","):
            python = python_for(version)
            if not python:
                print("python%s not found; skipped" % version)
                continue
            # A first run writes __pycache__ (the staged app ships none): not part of start-up.
            run_once(passthrough, python, [], chunks[:1], 1)
            run_once(script_path(app_dir), python, [], chunks[:1], 1)
            for mode in options.modes.split(","):
                for total in (int(n) for n in options.events.split(",")):
                    ours_runs, base_runs = [], []
                    for _ in range(options.repeat):
                        base_runs.append(run_once(passthrough, python, [], chunks, total))
                        ours_runs.append(run_once(script_path(app_dir), python, ["mode=%s" % mode], chunks, total))
                    ours, base = best_of(ours_runs), best_of(base_runs)
                    print(row % (version, mode, "{:,}".format(total), ours["events_per_s"], base["events_per_s"],
                                 ours["events_per_s"] / base["events_per_s"], ours["peak_rss_mb"],
                                 base["peak_rss_mb"], ours["startup_s"], base["startup_s"]))
                    sys.stdout.flush()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
