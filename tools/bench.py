"""Throughput, memory and start-up of `t1114` against the bare protocol and splunklib.

Runs, through the real chunked protocol (SCP v2) and in the same run, over the same
streams: a minimal stdlib passthrough (reads each chunk's CSV rows and writes them back,
nothing else: the floor any command pays), splunklib's passthrough StreamingCommand (same
vendored splunklib, same Python) and the built t1114 in mode=all and mode=findings. Prints
events/s, t1114's ratios to both baselines, peak RSS of each command's own process and
start-up (getinfo sent to reply read), then a start-up table: splunklib's passthrough and t1114
started alternately, warm (bytecode cached, as after a search head's first search) and cold (no
bytecode, as on an indexer whose bundle was just replicated or an app folder that cannot be
written). A script that prints figures, not a timed test.

    python tools/bench.py [--mixes tenant,mail_items_accessed,endpoint,light] [--events 100000]
                          [--chunk 50000] [--pythons 3.9,3.13] [--repeat 3] [--allowlist 10,1000,10000]

Streams (tools/real_streams.py): real public records from ../shared/datasets given fresh
ids, users and times, `_raw` whole, the add-on's extracted fields (multivalue ones too) and
Splunk's own; `light` is the earlier synthetic 600-byte stream. Runs alternate (stdlib,
splunklib, t1114 all, t1114 findings, again): each ratio is taken within one round, and the
median and the range of the rounds are printed; the range is how noisy the machine was.
--allowlist N,... also times mode=all on the tenant mix with N account rows (half exact
accounts, half wildcard patterns) and N wildcard-only rows in the site's lookup.
The environment reaches the commands: T1114_RECORD_PATH=plain measures t1114 on its plain
record path (every row parsed by the csv module), T1114_RECORD_PATH=splunklib on splunklib's.
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
from tools import real_streams  # noqa: E402
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

# The bare protocol: what any chunked command must do to pass records through. Each execute
# chunk's body is read as CSV rows and the rows written back as CSV; no splunklib, no record
# dicts, no multivalue decoding.
STDLIB_PASSTHROUGH = r'''
import csv, io, json, sys
csv.field_size_limit(2 ** 31 - 1)
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
def reply(metadata, body=b""):
    metadata = json.dumps(metadata).encode()
    stdout.write(b"chunked 1.0,%d,%d\n" % (len(metadata), len(body)))
    stdout.write(metadata)
    stdout.write(body)
    stdout.flush()
while True:
    header = stdin.readline()
    if not header:
        break
    metadata_length, body_length = (int(n) for n in header.split(b",")[1:3])
    metadata = json.loads(stdin.read(metadata_length))
    body = stdin.read(body_length)
    if metadata.get("action") == "getinfo":
        reply({"type": "streaming"})
        continue
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
    reply({"finished": bool(metadata.get("finished"))}, out.getvalue().encode("utf-8"))
    if metadata.get("finished"):
        break
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


def make_stream(chunk_size, largest_total, mix="light"):
    """The distinct chunks a run cycles through, as (seed, events, CSV body, positives): no
    more events than the largest run sends, and no chunk larger than that run."""
    size = min(chunk_size, largest_total)
    sizes = [size] * min(DISTINCT_CHUNKS, -(-largest_total // size))
    if largest_total < len(sizes) * size:  # one pass covers the largest run: its last chunk is shorter
        sizes[-1] = largest_total - (len(sizes) - 1) * size
    chunks = []
    for seed, count in enumerate(sizes):
        records = mix_records(mix, seed, count)
        chunks.append((seed, count, encode_records(records), sum(1 for r in records if _is_positive(r))))
    return chunks


def mix_records(mix, seed, size):
    if mix == "light":
        return make_records(seed, size)
    return real_streams.make_mix(mix, seed, size)


def send_plan(chunks, total_events, mix="light"):
    """(CSV body, events) of each execute chunk of a run of exactly `total_events` events:
    the stream's chunks in turn, the last one cut short (the first events of the same seed).
    Encoded before the run is timed."""
    plan, sent, index = [], 0, 0
    while sent < total_events:
        seed, count, body, _ = chunks[index % len(chunks)]
        index += 1
        if sent + count > total_events:
            count = total_events - sent
            body = encode_records(mix_records(mix, seed, count))
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


# Every command runs with bytecode caching on (the first run of each writes __pycache__, as on
# a search head after its first search), whatever the caller's environment says: the start-up
# column of the main table is the warm one; startup_table() measures the cold one too.
WARM_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
COLD_ENV = dict(WARM_ENV, PYTHONDONTWRITEBYTECODE="1")


def run_once(script, python, args, plan, env=None):
    """One process over the chunks of a send plan: events/s, peak RSS (MB), start-up (s)."""
    total_events = sum(count for _, count in plan)
    with ChunkedCommand(script, args, python=python, env=WARM_ENV if env is None else env) as command:
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


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


def summary(runs):
    """Best events/s and start-up (noise only slows a run down), highest RSS."""
    return {"events_per_s": max(r["events_per_s"] for r in runs), "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "startup_s": min(r["startup_s"] for r in runs)}


def ratio_text(rounds, ours, base):
    """Median ratio of the rounds and its range: each ratio from runs of one round."""
    ratios = [r[ours]["events_per_s"] / r[base]["events_per_s"] for r in rounds]
    return "%.2f (%.2f-%.2f)" % (median(ratios), min(ratios), max(ratios))


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


MIXES = ("tenant", "mail_items_accessed", "endpoint", "light")
COMMANDS = ("stdlib", "splunklib", "t1114 all", "t1114 findings")


def _counts(text):
    try:
        counts = [int(n.replace("_", "").replace(",", "")) for n in text.split(",") if n.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of row counts, e.g. 10,1000,10000")
    return counts


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mixes", type=_names, default=list(MIXES), metavar="MIX[,MIX...]",
                        help="streams to run: %s (default: all of them)" % ", ".join(MIXES))
    parser.add_argument("--events", type=_event_counts, default=[100000], metavar="N[,N...]",
                        help="events sent to each process, one table row per count (default: 100000)")
    parser.add_argument("--chunk", type=int, default=50000, metavar="N",
                        help="events per execute chunk, as splunkd's maxresultrows (default: 50000); "
                             "memory follows this, not --events")
    parser.add_argument("--pythons", type=_names, default=["3.9", "3.13"], metavar="V[,V...]",
                        help="Python versions to run every command with, found through pyenv or as "
                             "pythonV on PATH (default: 3.9,3.13); a missing one is skipped")
    parser.add_argument("--repeat", type=int, default=3, metavar="N",
                        help="alternating rounds per cell (default: 3)")
    parser.add_argument("--allowlist", type=_counts, default=[], metavar="N[,N...]",
                        help="also time t1114 mode=all on the tenant mix with N site allowlist rows (e.g. 10,1000,10000)")
    parser.add_argument("--startup-rounds", type=int, default=7, metavar="N",
                        help="alternating start-ups per command and Python for the start-up table, warm "
                             "(bytecode cached) and cold (no bytecode: a freshly replicated bundle) (default: 7; "
                             "0 skips the table)")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown, as in the README")
    return parser


def allowlist_rows(count, wildcard_only):
    """`count` realistic account rows: service accounts, exact or as patterns, none of them
    the stream's users, so every finding walks the candidates and stays a finding."""
    lines = ["account,rules,valid_from,valid_until,reason"]
    for index in range(count):
        if wildcard_only or index % 2:
            pattern = ("svc-%05d-*@contoso.onmicrosoft.com", "*-%05d@archive.contoso.com",
                       "backup?%05d*@contoso.com")[index % 3] % index
        else:
            pattern = "svc-migration-%05d@contoso.onmicrosoft.com" % index
        lines.append("%s,t1114_002_*,,,bench row %d" % (pattern, index))
    return "\n".join(lines) + "\n"


def _table(markdown, columns):
    if markdown:
        print("| " + " | ".join(columns) + " |")
        print("|" + "---|" * len(columns))
    else:
        print("  ".join(columns))


def _row(markdown, cells):
    print(("| " + " | ".join(cells) + " |") if markdown else "  ".join(cells))
    sys.stdout.flush()


def main():
    parser = build_parser()
    options = parser.parse_args()
    if options.chunk < 1 or options.repeat < 1 or options.startup_rounds < 0:
        parser.error("--chunk and --repeat must be at least 1, --startup-rounds at least 0")
    unknown = set(options.mixes) - set(MIXES)
    if unknown:
        parser.error("--mixes takes %s, not %s" % (", ".join(MIXES), ", ".join(sorted(unknown))))
    if any(m != "light" for m in options.mixes) and not real_streams.available():
        parser.error("the real-shaped mixes need the public records in %s" % real_streams.DATASETS)

    work = tempfile.mkdtemp(prefix="t1114-bench-")
    app_dir, _ = build(build_dir=work, package=False)
    scripts = {"splunklib": os.path.join(app_dir, "bin", "bench_passthrough.py"),
               "stdlib": os.path.join(app_dir, "bin", "bench_stdlib_passthrough.py")}
    for name, text in (("splunklib", PASSTHROUGH), ("stdlib", STDLIB_PASSTHROUGH)):
        with open(scripts[name], "w") as handle:
            handle.write(text)
    command = {"stdlib": (scripts["stdlib"], []), "splunklib": (scripts["splunklib"], []),
               "t1114 all": (script_path(app_dir), ["mode=all"]),
               "t1114 findings": (script_path(app_dir), ["mode=findings"])}
    pythons = [(v, python_for(v)) for v in options.pythons]
    for version, python in pythons:
        if not python:
            print("python%s not found; skipped" % version)
    pythons = [(v, p) for v, p in pythons if p]
    print("best events/s of %d alternating rounds; ratios: median of the rounds (range); RSS: peak of the "
          "command's own process; start-up: getinfo sent to reply read" % options.repeat)
    columns = ["mix", "B/event", "Python", "events", "stdlib ev/s", "splunklib ev/s", "t1114 all ev/s",
               "t1114 findings ev/s", "all/stdlib", "all/splunklib", "RSS MB stdlib/splunklib/t1114",
               "start-up s splunklib/t1114"]
    try:
        for _version, python in pythons:
            write_bytecode(command, python)   # not part of start-up
        _table(options.markdown, columns)
        for mix in options.mixes:
            chunks = make_stream(options.chunk, max(options.events), mix)
            size = sum(len(body) for _, _, body, _ in chunks) / sum(count for _, count, _, _ in chunks)
            for version, python in pythons:
                for total in options.events:
                    plan = send_plan(chunks, total, mix)
                    rounds = []
                    for _ in range(options.repeat):
                        rounds.append({name: run_once(script, python, args, plan)
                                       for name, (script, args) in command.items()})
                    best = {name: summary([r[name] for r in rounds]) for name in COMMANDS}
                    _row(options.markdown, [
                        mix, "%.0f" % size, version, "{:,}".format(total)]
                        + ["%.0f" % best[name]["events_per_s"] for name in COMMANDS]
                        + [ratio_text(rounds, "t1114 all", "stdlib"), ratio_text(rounds, "t1114 all", "splunklib"),
                           "%.0f / %.0f / %.0f" % (best["stdlib"]["peak_rss_mb"], best["splunklib"]["peak_rss_mb"],
                                                   best["t1114 all"]["peak_rss_mb"]),
                           "%.3f / %.3f" % (best["splunklib"]["startup_s"], best["t1114 all"]["startup_s"])])
        if options.startup_rounds > 0:
            startup_table(options, app_dir, command, pythons)
        if options.allowlist:
            allowlist_table(options, app_dir, pythons)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_bytecode(command, python):
    """Starts every command's script once with `python` over one event, which writes its
    __pycache__ (WARM_ENV), so the starts measured after it are warm ones."""
    one_event = send_plan(make_stream(1, 1), 1)
    for script in sorted(set(script for script, _ in command.values())):
        run_once(script, python, [], one_event)


def _drop_bytecode(app_dir):
    for folder, names, _ in os.walk(app_dir):
        if "__pycache__" in names:
            shutil.rmtree(os.path.join(folder, "__pycache__"))
            names.remove("__pycache__")


def startup_table(options, app_dir, command, pythons):
    """Start-up (getinfo sent to its reply read: interpreter, imports, shipped rules and
    lookups loaded) of splunklib's passthrough and t1114, warm and cold, started alternately."""
    print()
    _table(options.markdown, ["Python", "bytecode", "splunklib s fastest / median", "t1114 s fastest / median",
                              "t1114 - splunklib (medians)"])
    one_event = send_plan(make_stream(1, 1), 1)
    for version, python in pythons:
        write_bytecode(command, python)   # this Python's, which an earlier cold start removed
        for cold in (False, True):
            times = {"splunklib": [], "t1114 all": []}
            for _ in range(options.startup_rounds):
                for name in times:
                    script, args = command[name]
                    if cold:
                        _drop_bytecode(app_dir)
                    times[name].append(run_once(script, python, args, one_event,
                                                env=COLD_ENV if cold else WARM_ENV)["startup_s"])
            ours, theirs = median(times["t1114 all"]), median(times["splunklib"])
            _row(options.markdown, [version, "none (cold)" if cold else "cached (warm)",
                                    "%.3f / %.3f" % (min(times["splunklib"]), theirs),
                                    "%.3f / %.3f" % (min(times["t1114 all"]), ours), "%+.3f" % (ours - theirs)])
    for _, python in pythons:
        write_bytecode(command, python)   # back for what follows


def allowlist_table(options, app_dir, pythons):
    """t1114 mode=all on the tenant mix with the site's account allowlist at each size."""
    print()
    _table(options.markdown, ["Python", "allowlist rows", "kind", "t1114 all ev/s", "vs first size", "start-up s"])
    mix = "tenant" if real_streams.available() else "light"
    chunks = make_stream(options.chunk, max(options.events), mix)
    plan = send_plan(chunks, max(options.events), mix)
    lookup = os.path.join(app_dir, "lookups", "t1114_allowlist_accounts.csv")
    for version, python in pythons:
        for kind in ("mixed", "wildcard"):
            rounds = []
            for _ in range(options.repeat):
                measured = {}
                for count in options.allowlist:
                    with open(lookup, "w") as handle:
                        handle.write(allowlist_rows(count, kind == "wildcard"))
                    measured[count] = run_once(script_path(app_dir), python, ["mode=all"], plan)
                rounds.append(measured)
            first = options.allowlist[0]
            for count in options.allowlist:
                best = summary([r[count] for r in rounds])
                _row(options.markdown, [version, "{:,}".format(count), kind, "%.0f" % best["events_per_s"],
                                        ratio_text(rounds, count, first), "%.3f" % best["startup_s"]])
    os.remove(lookup)


if __name__ == "__main__":
    main()
