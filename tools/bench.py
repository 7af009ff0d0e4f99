"""Throughput, memory and start-up of `t1114` against splunklib's own floor.

Runs the built t1114 command and a do-nothing splunklib StreamingCommand (same vendored
splunklib, same Python) over the same generated event streams through the real chunked
protocol, in one run, and prints events/s, the ratio t1114/passthrough, peak RSS and
start-up time. A script that prints figures, not a timed test.

    python tools/bench.py [--events 100000,1000000] [--chunk 50000] [--pythons 3.9,3.13]
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

PASSTHROUGH = '''
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
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


def _o365(rng, positive):
    user = rng.choice(USERS)
    operation = "New-InboxRule" if positive else rng.choice(BENIGN_OPERATIONS)
    if positive:
        parameters = [{"Name": "Name", "Value": "sync"}, {"Name": "ForwardTo", "Value": "drop@exfil.example"},
                      {"Name": "DeleteMessage", "Value": "True"}]
    elif operation in ("Set-Mailbox", "New-InboxRule"):
        parameters = [{"Name": "Identity", "Value": user}, {"Name": "MoveToFolder", "Value": "Newsletters"}]
    else:
        parameters = []
    audit = {"CreationTime": "2026-11-20T09:%02d:%02d" % (rng.randrange(60), rng.randrange(60)),
             "Id": "%032x" % rng.getrandbits(128), "Operation": operation, "OrganizationId": "1f2e3d4c",
             "RecordType": 1 if parameters else 2, "ResultStatus": "Succeeded", "UserKey": "1003200%d" % rng.randrange(9),
             "UserType": 0, "Version": 1, "Workload": "Exchange", "ClientIP": "203.0.113.%d:%d" % (rng.randrange(255), rng.randrange(65535)),
             "UserId": user, "OrganizationName": "contoso.onmicrosoft.com", "Parameters": parameters}
    raw = json.dumps(audit)
    record = {"_raw": raw, "_time": str(1795000000 + rng.randrange(86400)), "host": "splunk-hf01",
              "source": "o365:management:activity:Audit.Exchange", "sourcetype": "o365:management:activity",
              "index": "o365", "splunk_server": "idx01", "linecount": "1", "Operation": operation,
              "Workload": "Exchange", "RecordType": str(audit["RecordType"]), "UserId": user,
              "ClientIP": audit["ClientIP"], "ResultStatus": "Succeeded", "UserType": "0",
              "OrganizationName": "contoso.onmicrosoft.com", "user": user, "src": audit["ClientIP"].split(":")[0],
              "action": "success", "date_hour": "9", "eventtype": ["o365_exchange", "ms_o365_management"],
              "tag": ["change", "account"]}
    if parameters:
        record["Parameters{}.Name"] = [p["Name"] for p in parameters]
        record["Parameters{}.Value"] = [p["Value"] for p in parameters]
    return record


def _windows(rng):
    image = rng.choice([r"C:\Windows\System32\svchost.exe", r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE",
                        r"C:\Windows\explorer.exe", r"C:\Windows\System32\cmd.exe"])
    command_line = '"%s" -k netsvcs -p -s Schedule' % image
    raw = ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><EventID>1</EventID>"
           "<Computer>ws-%03d.contoso.com</Computer></System><EventData><Data Name='Image'>%s</Data>"
           "<Data Name='CommandLine'>%s</Data></EventData></Event>" % (rng.randrange(999), image, command_line))
    return {"_raw": raw, "_time": str(1795000000 + rng.randrange(86400)), "host": "ws-%03d" % rng.randrange(999),
            "source": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational", "sourcetype": "XmlWinEventLog",
            "index": "windows", "splunk_server": "idx01", "linecount": "1", "EventCode": "1",
            "Computer": "ws-%03d.contoso.com" % rng.randrange(999), "Image": image, "CommandLine": command_line,
            "ParentImage": r"C:\Windows\System32\services.exe", "User": "NT AUTHORITY\\SYSTEM",
            "process_name": os.path.basename(image), "dest": "ws-%03d" % rng.randrange(999), "date_hour": "9",
            "eventtype": ["windows_process", "sysmon"], "tag": ["process", "report"]}


def make_chunk(seed, size, positive_rate=0.01):
    rng = random.Random(seed)
    records = []
    for _ in range(size):
        if rng.random() < 0.5:
            records.append(_o365(rng, rng.random() < positive_rate * 2))
        else:
            records.append(_windows(rng))
    return encode_records(records), sum(1 for r in records if r.get("Operation") == "New-InboxRule"
                                        and "ForwardTo" in r.get("Parameters{}.Name", []))


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
    with ChunkedCommand(script, args, python=python) as command:
        started = time.perf_counter()
        command.getinfo()
        startup = time.perf_counter() - started
        sent = 0
        returned = 0
        started = time.perf_counter()
        index = 0
        while sent < total_events:
            body, count = chunks[index % len(chunks)]
            index += 1
            sent += count
            finished = sent >= total_events
            command._send({"action": "execute", "finished": finished}, body)
            metadata, out = command._receive()
            returned += out.count(b"\n") if out else 0
        elapsed = time.perf_counter() - started
        peak = _peak_rss_kib(command.process.pid)
        code = command.close()
    if code != 0:
        raise SystemExit("%s exited %s: %s" % (script, code, command.stderr()[-2000:]))
    return {"events_per_s": total_events / elapsed, "peak_rss_mb": peak / 1024.0, "startup_s": startup,
            "returned_lines": returned}


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
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell; the best is reported")
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
    print("stream: %d distinct chunks of %d events, %.0f bytes/event on the wire, %.2f%% positives"
          % (len(chunks), options.chunk, sum(len(b) for b, _ in chunks) / (len(chunks) * options.chunk),
             100.0 * positives / (len(chunks) * options.chunk)))
    header = "%-6s %-9s %9s | %12s %12s %6s | %9s %9s %6s | %8s %8s" % (
        "python", "mode", "events", "t1114 ev/s", "pass ev/s", "ratio", "t1114 MB", "pass MB", "ratio",
        "start s", "pass s")
    print(header)
    print("-" * len(header))
    for version in options.pythons.split(","):
        python = python_for(version)
        if not python:
            print("python%s not found; skipped" % version)
            continue
        for mode in options.modes.split(","):
            for total in (int(n) for n in options.events.split(",")):
                best = {}
                for _ in range(options.repeat):
                    base = run_once(passthrough, python, [], chunks, total)
                    ours = run_once(script_path(app_dir), python, ["mode=%s" % mode], chunks, total)
                    if not best or ours["events_per_s"] / base["events_per_s"] > best["ratio"]:
                        best = {"ours": ours, "base": base, "ratio": ours["events_per_s"] / base["events_per_s"]}
                ours, base = best["ours"], best["base"]
                print("%-6s %-9s %9d | %12.0f %12.0f %6.2f | %9.0f %9.0f %6.2f | %8.3f %8.3f" % (
                    version, mode, total, ours["events_per_s"], base["events_per_s"], best["ratio"],
                    ours["peak_rss_mb"], base["peak_rss_mb"], ours["peak_rss_mb"] / base["peak_rss_mb"],
                    ours["startup_s"], base["startup_s"]))
                sys.stdout.flush()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
