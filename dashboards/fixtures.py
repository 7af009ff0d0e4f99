"""Fixture results for the dashboard render test, one per search data source, built from the
t1114 command's real output on the bundled sample events.

    python dashboards/fixtures.py [--out dashboards/build/fixtures.json]

The app is staged by tools/build.py and samples/sample_events.jsonl goes through the staged
`| t1114 mode=all expand=true` the way splunkd runs it (tools/chunked_client.py: a subprocess
speaking the chunked protocol). From that output come the rows the scheduled searches write to
the summary index t1114_summary with `| collect` (one per finding, suppressed and report-only
included; one per chain), and from those rows each data source's result, computed here as its
SPL would (the fixture of a data source is keyed by its id in the view). Data sources that read
lookups or configuration get the repository's own files (shipped lookups, savedsearches.conf,
macros.conf); those that read Splunk's own logs (_audit, _internal) get no rows, as on a
Splunk that has none, and their panels must still draw.

Prints nothing on success; exits 1 when the command fails.
"""

import argparse
import collections
import configparser
import csv
import datetime
import fnmatch
import glob
import json
import os
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

from tools.build import build  # noqa: E402
from tools.chunked_client import run, script_path  # noqa: E402

SAMPLES = os.path.join(REPO, "samples", "sample_events.jsonl")
# The identity the Investigation dashboard is rendered for: the sample's chain (a permission
# grant on the CEO's mailbox, an application reading it, forwarding from it).
INVESTIGATED = "ceo@contoso.com"
SOURCE_BY_TECHNIQUE = {
    "T1114.001": "T1114.001 - Local Email Collection - Rule",
    "T1114.002": "T1114.002 - Remote Email Collection - Rule",
    "T1114.003": "T1114.003 - Email Forwarding - Rule",
}
CHAIN_SOURCE = "T1114 - Email Collection Chain - Rule"
HELD_BACK = ("finding", "report_only", "suppressed")


def iso(epoch):
    """_time as Splunk's search API returns it to a dashboard."""
    return datetime.datetime.fromtimestamp(float(epoch), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


def ctime(epoch):
    """`convert ctime(...)`'s text (its default format)."""
    return datetime.datetime.fromtimestamp(float(epoch), datetime.timezone.utc).strftime("%m/%d/%Y %H:%M:%S")


def table(fields, rows):
    """A data source result in the column form DashboardCore's data sources hand over."""
    return {"fields": [{"name": name} for name in fields],
            "columns": [[row.get(name) for row in rows] for name in fields]}


def mv(values):
    """A multivalue field: sorted distinct values, as `values()` gives them."""
    values = sorted({v for v in values if v not in (None, "")})
    return values if len(values) != 1 else values[0]


def command_output(records):
    work = tempfile.mkdtemp(prefix="t1114-dashboards-")
    try:
        app_dir, _ = build(build_dir=work, package=False)
        result = run(script_path(app_dir), records, args=["mode=all", "expand=true"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if result["exit_code"] != 0:
        raise SystemExit("the t1114 command failed:\n%s" % result["stderr"][-2000:])
    return result["records"]


def mailbox_of(row):
    obj = (row.get("object") or "").lower()
    return obj if "@" in obj else None


def summary_rows(output):
    """What the per-sub-technique searches write with `| collect index=t1114_summary`."""
    rows = []
    for record in output:
        if record.get("t1114_status") not in HELD_BACK:
            continue
        row = {k: v for k, v in record.items() if v not in (None, "") and (k.startswith("t1114_") or k in (
            "_time", "mitre_technique_id", "risk_score", "user", "object", "src", "dest", "action", "app", "host", "sourcetype"))}
        row.update(t1114_kind="finding", source=SOURCE_BY_TECHNIQUE[record["mitre_technique_id"]], mailbox=mailbox_of(record),
                   risk_score=int(record["risk_score"]) if record.get("risk_score") else None)
        rows.append(row)
    return rows


def behaviour(row):
    rule = row["t1114_rule"]
    if row["mitre_technique_id"] == "T1114.003":
        return "forwarding"
    if row["mitre_technique_id"] == "T1114.001":
        return "local collection"
    if "grant" in rule or "consent" in rule or "impersonation" in rule:
        return "grant"
    if "export" in rule:
        return "export"
    if "signin" in rule:
        return "sign-in"
    return "reading"


def chain_rows(findings):
    """The chain search's results over the risk these findings raise (user and mailbox as risk
    objects): two or more behaviours within 24 hours, or grant, then reading, then forwarding
    within 7 days, per identity."""
    steps = collections.defaultdict(list)
    for row in findings:
        if row["t1114_status"] != "finding":
            continue
        for identity in {(row.get("user") or "").lower(), row.get("mailbox") or ""} - {""}:
            steps[identity].append((float(row["_time"]), behaviour(row), row))
    chains = []
    for identity, events in sorted(steps.items()):
        events.sort(key=lambda e: e[0])
        in_24h = max(len({b for t, b, _ in events if start - 86400 < t <= start}) for start, _, _ in events)
        grant = read = None
        ordered = False
        for t, b, _ in events:
            if b == "grant":
                grant = t
            elif b in ("reading", "export") and grant is not None:
                read = grant
            elif b == "forwarding" and read is not None and t - read <= 604800:
                ordered = True
        if in_24h < 2 and not ordered:
            continue
        behaviours = sorted({b for _, b, _ in events})
        chains.append({
            "_time": events[0][0], "t1114_kind": "chain", "source": CHAIN_SOURCE, "t1114_entity": identity, "t1114_entity_type": "user",
            "t1114_chain": "grant, then reading, then forwarding within 7 days" if ordered else "%d distinct behaviours within 24 hours" % in_24h,
            "t1114_behaviour": behaviours, "risk_score": sum(int(r["risk_score"]) for _, _, r in events),
            "first_seen": iso(events[0][0]), "last_seen": iso(events[-1][0]),
            "t1114_story": ["%s %s (%s)" % (iso(t), b, r["t1114_rule"]) for t, b, r in events],
        })
    return chains


def timechart(rows, by):
    """`timechart count by <by>` with daily buckets over the rows' days."""
    days = sorted({int(float(r["_time"]) // 86400) for r in rows})
    series = sorted({r[by] for r in rows})
    out = []
    for day in range(days[0], days[-1] + 1) if days else []:
        counts = collections.Counter(r[by] for r in rows if int(float(r["_time"]) // 86400) == day)
        out.append(dict({"_time": iso(day * 86400), "_span": 86400}, **{s: counts.get(s, 0) for s in series}))
    return table(["_time"] + series, out)


def overview(findings, chains):
    found = [r for r in findings if r["t1114_status"] == "finding"]
    fx = {"ds_results": table(["_time", "t1114_kind", "t1114_status", "source"],
                              [dict(r, _time=iso(r["_time"])) for r in findings + chains])}
    fx["ds_findings_count"] = table(["count"], [{"count": len(found)}])
    fx["ds_high_count"] = table(["count"], [{"count": sum(r["t1114_severity"] in ("high", "critical") for r in found)}])
    fx["ds_mailbox_count"] = table(["mailboxes"], [{"mailboxes": len({r["mailbox"] for r in found if r.get("mailbox")})}])
    fx["ds_chain_count"] = table(["identities"], [{"identities": len({c["t1114_entity"] for c in chains})}])
    fx["ds_chains"] = table(
        ["t1114_entity", "t1114_entity_type", "t1114_chain", "behaviours", "risk_score", "first_seen", "last_seen", "story"],
        [dict(c, behaviours=", ".join(c["t1114_behaviour"]), story=" | ".join(c["t1114_story"]))
         for c in sorted(chains, key=lambda c: -c["risk_score"])])
    fx["ds_by_technique"] = timechart(found, "mitre_technique_id")
    order = ["critical", "high", "medium", "low", "informational"]
    severities = collections.Counter(r["t1114_severity"] for r in found)
    fx["ds_by_severity"] = table(["t1114_severity", "count"],
                                 [{"t1114_severity": s, "count": severities[s]} for s in sorted(severities, key=order.index)])
    actors = collections.defaultdict(list)
    for r in found:
        actors[r.get("app") or r.get("user")].append(r)
    rows = [{"actor": a, "findings": len(rs), "max_risk_score": max(r["risk_score"] for r in rs),
             "techniques": mv(r["mitre_technique_id"] for r in rs), "mailboxes": len({r["mailbox"] for r in rs if r.get("mailbox")}),
             "rules": mv(r["t1114_rule"] for r in rs)} for a, rs in actors.items()]
    rows.sort(key=lambda r: (-r["max_risk_score"], -r["findings"]))
    fx["ds_top_actors"] = table(["actor", "findings", "max_risk_score", "techniques", "mailboxes", "rules"], rows[:20])
    destinations = collections.defaultdict(list)
    for r in found:
        if r.get("t1114_external_destination"):
            destinations[r["t1114_external_destination"]].append(r)
    rows = [{"t1114_external_destination": d, "mailboxes": len({r["mailbox"] for r in rs if r.get("mailbox")}), "findings": len(rs),
             "actors": mv(r.get("user") for r in rs), "rules": mv(r["t1114_rule"] for r in rs)} for d, rs in destinations.items()]
    rows.sort(key=lambda r: (-r["mailboxes"], -r["findings"]))
    fx["ds_destinations"] = table(["t1114_external_destination", "mailboxes", "findings", "actors", "rules"], rows[:20])
    held = collections.defaultdict(list)
    for r in findings:
        if r["t1114_status"] != "finding":
            held[(r["t1114_status"], r["t1114_rule"])].append(r)
    rows = [{"t1114_status": s, "t1114_rule": rule, "findings": len(rs), "actors": len({r.get("user") for r in rs})}
            for (s, rule), rs in held.items()]
    fx["ds_held_back"] = table(["t1114_status", "t1114_rule", "findings", "actors"], sorted(rows, key=lambda r: -r["findings"]))
    latest = sorted(found, key=lambda r: -float(r["_time"]))[:100]
    fields = ["_time", "t1114_severity", "risk_score", "t1114_reason", "user", "mailbox", "t1114_external_destination", "t1114_rule"]
    fx["ds_latest"] = table(fields, [dict(r, _time=iso(r["_time"])) for r in latest])
    return fx


def raw_json(record):
    try:
        return json.loads(record.get("_raw") or "{}")
    except ValueError:
        return {}


def investigation(records, findings, chains, subject):
    fx = {}
    recorded = [r for r in findings + chains if subject in {
        (r.get("user") or "").lower(), r.get("mailbox"), (r.get("object") or "").lower(), r.get("t1114_entity"), r.get("app"),
        r.get("t1114_external_destination")}]
    recorded.sort(key=lambda r: -float(r["_time"]))
    fx["ds_recorded"] = table(
        ["_time", "kind", "mitre_technique_id", "t1114_severity", "risk_score", "what", "user", "mailbox", "t1114_external_destination",
         "source"],
        [dict(r, _time=iso(r["_time"]), what=r.get("t1114_chain") or r.get("t1114_reason"),
              kind=r["t1114_kind"] + (" (%s)" % r["t1114_status"] if r.get("t1114_status") else "")) for r in recorded])
    # On demand: the command over the events that hold the subject's text (`t1114_events` "subject"),
    # kept when the finding's user, object or destination is the subject.
    matching = [r for r in records if subject in json.dumps(r).lower()]
    annotated = [r for r in command_output(matching) if r.get("t1114_status") in HELD_BACK and subject in {
        (r.get("user") or "").lower(), (r.get("object") or "").lower(), (r.get("t1114_destination") or "").lower()}]
    fx["ds_annotated"] = table(["_time", "t1114_status", "mitre_technique_id", "t1114_rule", "user", "object"],
                               [dict(r, _time=iso(r["_time"])) for r in annotated])
    statuses = sorted({r["t1114_status"] for r in annotated})
    days = sorted({int(float(r["_time"]) // 86400) for r in annotated})
    timeline = [dict({"_time": iso(d * 86400), "_span": 86400},
                     **{s: sum(1 for r in annotated if r["t1114_status"] == s and int(float(r["_time"]) // 86400) == d) for s in statuses})
                for d in range(days[0], days[-1] + 1)] if days else []
    fx["ds_timeline"] = table(["_time"] + statuses, timeline)
    by_rule = collections.Counter((r["t1114_status"], r["mitre_technique_id"], r["t1114_rule"], r["t1114_severity"]) for r in annotated)
    fx["ds_by_rule"] = table(["t1114_status", "mitre_technique_id", "t1114_rule", "t1114_severity", "count"],
                             [dict(zip(("t1114_status", "mitre_technique_id", "t1114_rule", "t1114_severity"), k), count=n)
                              for k, n in by_rule.most_common()])
    fields = ["_time", "t1114_status", "mitre_technique_id", "t1114_severity", "risk_score", "t1114_rule", "t1114_reason", "user", "object",
              "src", "dest", "t1114_destination", "t1114_external_destination", "t1114_suppressed_by", "sourcetype", "host"]
    fx["ds_findings"] = table(fields, [dict(r, _time=iso(r["_time"])) for r in sorted(annotated, key=lambda r: -float(r["_time"]))])
    forwarding = collections.defaultdict(list)
    for r in annotated:
        if r["mitre_technique_id"] == "T1114.003" and r.get("t1114_destination"):
            forwarding[(r.get("user"), r.get("object"), r["t1114_destination"])].append(r)
    fx["ds_forwarding"] = table(
        ["user", "object", "t1114_destination", "count", "first_seen", "last_seen", "rules", "status"],
        [{"user": u, "object": o, "t1114_destination": d, "count": len(rs), "first_seen": ctime(min(float(r["_time"]) for r in rs)),
          "last_seen": ctime(max(float(r["_time"]) for r in rs)), "rules": mv(r["t1114_rule"] for r in rs),
          "status": mv(r["t1114_status"] for r in rs)} for (u, o, d), rs in forwarding.items()])
    reads = collections.defaultdict(list)
    signins = collections.defaultdict(list)
    for record in records:
        event = raw_json(record)
        if event.get("Operation") == "MailItemsAccessed" and subject in (str(event.get("UserId", "")).lower(),
                                                                         str(event.get("MailboxOwnerUPN", "")).lower()):
            client = event.get("ClientAppId") or event.get("AppId") or "(no app id)"
            reads[(event.get("UserId"), event.get("MailboxOwnerUPN"), client, event.get("ClientInfoString") or "(none)")].append((record, event))
        properties = event.get("properties") or {}
        if event.get("category") == "SignInLogs" and str(properties.get("userPrincipalName", "")).lower() == subject:
            signins[(properties.get("userPrincipalName"), properties.get("clientAppUsed"), properties.get("appDisplayName"))].append(
                (record, properties))
    fx["ds_mail_read"] = table(
        ["UserId", "MailboxOwnerUPN", "client_app", "ClientInfoString", "audit_records", "items", "first_seen", "last_seen", "src", "logon_types"],
        [{"UserId": k[0], "MailboxOwnerUPN": k[1], "client_app": k[2], "ClientInfoString": k[3], "audit_records": len(v),
          "items": sum(int(e.get("OperationCount") or 0) for _, e in v), "first_seen": ctime(min(float(r["_time"]) for r, _ in v)),
          "last_seen": ctime(max(float(r["_time"]) for r, _ in v)), "src": mv(e.get("ClientIPAddress") or e.get("ClientIP") for _, e in v),
          "logon_types": mv(str(e.get("LogonType")) for _, e in v)} for k, v in reads.items()])
    fx["ds_signins"] = table(
        ["upn", "client_app_used", "application", "count", "last_seen", "src"],
        [{"upn": k[0], "client_app_used": k[1], "application": k[2], "count": len(v), "last_seen": ctime(max(float(r["_time"]) for r, _ in v)),
          "src": mv(p.get("ipAddress") for _, p in v)} for k, v in signins.items()])
    return fx


def read_csv(pattern):
    rows = []
    for path in sorted(glob.glob(os.path.join(REPO, "lookups", pattern))):
        with open(path, encoding="utf-8", newline="") as handle:
            rows.extend(csv.DictReader(handle))
    return rows


def allowlist_audit(findings):
    fx = {}
    held = collections.defaultdict(list)
    for r in findings:
        if r["t1114_status"] == "finding":
            continue
        match = re.match(r"^(\S+) line (\d+)", r.get("t1114_suppressed_by") or "")
        key = (match.group(1) if match else ("(report-only rule)" if r["t1114_status"] == "report_only" else "-"),
               int(match.group(2)) if match else None, r["t1114_status"], r["t1114_rule"], r.get("mailbox") or r.get("object") or "-",
               r.get("t1114_suppressed_by"))
        held[key].append(r)
    names = ["allowlist_file", "allowlist_line", "t1114_status", "t1114_rule", "mailbox", "t1114_suppressed_by"]
    rows = [dict(zip(names, k), held_back_findings=len(rs), actors=len({r.get("user") for r in rs}), sample_actors=mv(r.get("user") for r in rs),
                 first_seen=ctime(min(float(r["_time"]) for r in rs)), last_seen=ctime(max(float(r["_time"]) for r in rs)))
            for k, rs in sorted(held.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))]
    fx["ds_suppressed"] = table(["allowlist_file", "allowlist_line", "t1114_status", "t1114_rule", "mailbox", "held_back_findings", "last_seen",
                                 "first_seen", "actors", "sample_actors", "t1114_suppressed_by"], rows)
    # The site's own allowlist and override lookups are never in the repository: a fresh install's.
    fx["ds_expiring"] = table(["allowlist", "allowlist_line", "state", "valid_from", "valid_until", "rules", "reason"], [])
    fx["ds_rows"] = table(["line", "class", "account", "mailbox", "rules", "valid_from", "valid_until", "reason"], [])
    fx["ds_changes"] = table(["time", "user", "lookup", "how", "what"], [])
    shipped = []
    for name in ("accounts", "processes", "applications"):
        shipped.extend(dict(row, lookup="t1114_shipped_" + name) for row in read_csv("t1114_shipped_%s_*.csv" % name))
    extra = sorted({k for row in shipped for k in row} - {"lookup", "row_id", "class", "reason", "source", "rules"})
    fx["ds_shipped"] = table(["lookup", "row_id", "class", "reason", "source", "rules"] + extra, shipped)
    fx["ds_overrides"] = table(["line", "target_type", "target", "state", "severity", "risk_score", "reason", "added_by", "added_at"], [])
    return fx


def conf(name):
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    with open(os.path.join(REPO, "default", name), encoding="utf-8") as handle:
        parser.read_string(re.sub(r"\\\n", " ", handle.read()))
    return parser


def macro_matcher(macros, name):
    """The sourcetype/source terms of a data-source macro, ORed, as | tstats applies them."""
    terms = re.findall(r'(sourcetype|source)="([^"]*)"', macros[name]["definition"])

    def matches(record):
        return any(fnmatch.fnmatchcase((record.get(key) or "").lower(), value.lower()) for key, value in terms)
    return matches


def data_check(records, findings, chains, definition):
    fx = {}
    macros = conf("macros.conf")
    sources = re.findall(r'`(t1114_\w+)` \| eval data_source="([^"]+)", macro="[^"]+", needed_for="([^"]+)"',
                         definition["dataSources"]["ds_sources"]["options"]["query"])
    rows = []
    for macro, label, needed in sources:
        hits = [r for r in records if macro_matcher(macros, macro)(r)]
        latest = max((float(r["_time"]) for r in hits), default=None)
        rows.append({"data_source": label, "status": "events found" if hits else "NO EVENTS", "count": len(hits),
                     "latest_event": datetime.datetime.fromtimestamp(latest, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if latest else "-",
                     "macro": macro, "needed_for": needed})
    fx["ds_sources"] = table(["data_source", "status", "count", "latest_event", "macro", "needed_for"], rows)
    expected = [("Security", c) for c in ("4624", "4625", "4663", "4688", "4776", "5145")] + [("Sysmon", "1"), ("Sysmon", "11"),
                                                                                             ("PowerShell", "4104"), ("Exchange management", "1")]
    logs = {"t1114_windows_security": "Security", "t1114_sysmon": "Sysmon", "t1114_powershell": "PowerShell",
            "t1114_exchange_management": "Exchange management"}
    counts = collections.Counter()
    for record in records:
        for macro, log in logs.items():
            if macro_matcher(macros, macro)(record) and (log, record.get("EventCode")) in expected:
                counts[(log, record["EventCode"])] += 1
    fx["ds_event_codes"] = table(["log", "EventCode", "status", "count"],
                                 [{"log": log, "EventCode": code, "count": counts[(log, code)],
                                   "status": "events found" if counts[(log, code)] else "NO EVENTS"} for log, code in sorted(expected)])
    operations = ["MailItemsAccessed", "New-InboxRule", "Set-InboxRule", "UpdateInboxRules", "Set-Mailbox", "Add-MailboxPermission",
                  "New-TransportRule", "Set-TransportRule"]
    seen = collections.Counter(record.get("Operation") or raw_json(record).get("Operation") for record in records
                               if macro_matcher(macros, "t1114_o365")(record))
    fx["ds_o365_ops"] = table(["Operation", "status", "count"], [{"Operation": op, "count": seen[op], "status": "events found" if seen[op]
                                                                  else "none in range"} for op in sorted(operations)])
    # A fresh install: the site lookups and the baseline are empty.
    fx["ds_lookups"] = table(["check", "result"], [
        {"check": "t1114_org_domains rows", "result": "EMPTY: add your mail domains"},
        {"check": "t1114_allowlist_accounts rows", "result": 0},
        {"check": "t1114_mail_client_baseline rows", "result": "EMPTY: fill it before enabling the first-time detection"}])
    written = collections.Counter(r["source"] for r in findings + chains)
    last = {}
    for r in findings + chains:
        last[r["source"]] = max(last.get(r["source"], 0), float(r["_time"]))
    searches = conf("savedsearches.conf")
    rows = []
    for name in sorted(set(searches.sections()) | set(written)):
        section = searches[name] if searches.has_section(name) else {}
        if section and section.get("enableSched") != "1":
            continue
        enabled = "no" if section.get("disabled") in ("1", "true") else ("yes" if section else None)
        # As on a site that just installed the app: the searches ship disabled and the scheduler
        # has run none; the rows written are the ones this fixture's sample run wrote.
        rows.append({"search_name": name, "enabled": enabled, "cron_schedule": section.get("cron_schedule"), "runs_succeeded": 0,
                     "runs_skipped": 0, "runs_failed": 0, "last_status": None, "last_run": "-", "results_written": written[name],
                     "last_result": datetime.datetime.fromtimestamp(last[name], datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
                     if name in last else "-",
                     # The panel's case(), in its order.
                     "state": "disabled" if enabled == "no" else "NOT RUN in the range"})
    fx["ds_scheduled"] = table(["search_name", "state", "enabled", "cron_schedule", "runs_succeeded", "runs_skipped", "runs_failed",
                                "last_status", "last_run", "results_written", "last_result"], rows)
    return fx


def read_definition(name):
    with open(os.path.join(REPO, "default", "data", "ui", "views", name + ".xml"), encoding="utf-8") as handle:
        return json.loads(re.search(r"<definition><!\[CDATA\[(.*?)\]\]></definition>", handle.read(), re.S).group(1))


def build_fixtures():
    with open(SAMPLES, encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    findings = summary_rows(command_output(records))
    chains = chain_rows(findings)
    return {
        "t1114_overview": {"fixtures": overview(findings, chains), "tokens": {}},
        "t1114_investigation": {"fixtures": investigation(records, findings, chains, INVESTIGATED), "tokens": {"subject": INVESTIGATED}},
        "t1114_allowlist_audit": {"fixtures": allowlist_audit(findings), "tokens": {}},
        "t1114_data_check": {"fixtures": data_check(records, findings, chains, read_definition("t1114_data_check")), "tokens": {}},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(HERE, "build", "fixtures.json"), help="where to write them (default: %(default)s)")
    options = parser.parse_args(argv)
    fixtures = build_fixtures()
    os.makedirs(os.path.dirname(os.path.abspath(options.out)), exist_ok=True)
    with open(options.out, "w", encoding="utf-8") as handle:
        json.dump(fixtures, handle, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
