"""Benchmark streams shaped as splunkd really hands events to a command, built from the
public records in ../shared/datasets (read in place, never copied into the repository).

Each event is a real record given a fresh id, user, address and time: `_raw` whole (the
Office 365 JSON with its Folders/FolderItems, the Sysmon or Security XML), every field the
add-on's JSON/XML extraction gives (nested keys flattened `A{}.B`, arrays as multivalue
fields), the CIM aliases and Splunk's own fields (`_cd`, `_bkt`, `punct`, `date_*`,
`eventtype`, `tag`). Mixes: tenant (the Exchange/Entra audit of a tenant, about half
MailItemsAccessed), mail_items_accessed (only that), endpoint (Sysmon 1/11, Security
4663/4688, PowerShell 4104). Not a test module: tools/bench.py and the differential tests
use it.
"""

import gzip
import json
import os
import random
import sys
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)  # run as a script, its folder is tools/, not the checkout

from tests.shared_samples import json_lines, sekoia_record  # noqa: E402
DATASETS = os.path.join(os.path.dirname(REPO), "shared", "datasets")
MIXES = ("tenant", "mail_items_accessed", "endpoint")

_SEKOIA = "SEKOIA-IO__intake-formats/Office 365/o365/tests/"
_O365_FILES = [
    ("splunk__security_content/data_sources_example_logs/o365_mailitemsaccessed.example_log", "line"),
    ("splunk__security_content/data_sources_example_logs/o365_set_mailbox.example_log", "line"),
    ("splunk__security_content/data_sources_example_logs/o365_add_mailboxpermission.example_log", "line"),
    ("splunk__security_content/data_sources_example_logs/o365_modifyfolderpermissions.example_log", "line"),
    ("splunk__security_content/data_sources_example_logs/o365_consent_to_application_.example_log", "line"),
    ("elastic__integrations/packages/o365/data_stream/audit/_dev/test/pipeline/test-exchange-item.log", "line"),
    ("elastic__integrations/packages/o365/data_stream/audit/_dev/test/pipeline/test-exchange-admin.log", "line"),
] + [(_SEKOIA + name, "sekoia") for name in (
    "clientipadress.json", "exchange_item_aggregated.json", "exchange_item_group_7.json", "exchange_event1.json",
    "exchange_item_update.json", "exchange_item_group.json", "exchange_item_group_2.json",
    "exchange_item_group_3.json", "exchange_item_group_4.json", "exchange_item_group_5.json",
    "exchange_item_group_6.json", "user_logged_in.json", "user_login_failed.json", "inbox_rule.json",
    "operation_properties_01.json", "operation_properties_03.json", "email_reported2.json")]
_ENDPOINT_CODES = {("Microsoft-Windows-Sysmon/Operational", "1"), ("Microsoft-Windows-Sysmon/Operational", "11"),
                   ("Security", "4663"), ("Security", "4688"), ("Microsoft-Windows-PowerShell/Operational", "4104")}

USERS = ["%s.%s@contoso.onmicrosoft.com" % (first, last) for first in ("ana", "ben", "chloe", "dev", "emma", "femi",
         "gus", "hana", "ivan", "jo") for last in ("smith", "khan", "ng", "obi", "ruiz")]


def available():
    return os.path.isdir(DATASETS)


def _o365_templates():
    records = []
    for relative, kind in _O365_FILES:
        path = os.path.join(DATASETS, relative)
        if not os.path.exists(path):
            continue
        if kind == "line":
            records.extend(json_lines(path))
        else:
            records.append(sekoia_record(path))
    # One copy of each distinct operation shape; the elastic admin log repeats itself.
    seen, distinct = set(), []
    for record in records:
        key = (record.get("Operation"), tuple(sorted(record)))
        if key not in seen:
            seen.add(key)
            distinct.append(record)
    return distinct


def _endpoint_templates():
    events = []
    with gzip.open(os.path.join(DATASETS, "Yamato-Security__hayabusa-sample-evtx", "evtx_pool.jsonl.gz"), "rt",
                   encoding="utf-8") as handle:
        for line in handle:
            event = json.loads(line)["event"]
            if (event.get("Channel"), event.get("EventCode")) in _ENDPOINT_CODES:
                events.append(event)
    return events


def _scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def flatten(value, prefix, out):
    """KV_MODE=json extraction: `a.b`, arrays `a{}.b`, several values a multivalue field."""
    if isinstance(value, dict):
        for key, item in value.items():
            flatten(item, "%s.%s" % (prefix, key) if prefix else str(key), out)
    elif isinstance(value, list):
        for item in value:
            flatten(item, prefix + "{}", out)
    elif value not in (None, ""):
        out.setdefault(prefix, []).append(_scalar(value))


def _splunk_fields(rng, when, raw, index, sourcetype, source, host, eventtypes, tags):
    fields = {"_time": "%.3f" % when, "_raw": raw, "_cd": "%d:%d" % (rng.randrange(900), rng.randrange(10 ** 8)),
              "_bkt": "%s~%d~%s" % (index, rng.randrange(400), str(uuid.UUID(int=rng.getrandbits(128))).upper()),
              "_indextime": str(int(when) + rng.randrange(1, 90)), "_serial": str(rng.randrange(50000)),
              "_si": ["idx01", index], "_sourcetype": sourcetype, "host": host, "index": index,
              "linecount": "1", "source": source, "sourcetype": sourcetype, "splunk_server": "idx01",
              "splunk_server_group": ["dmc_group_indexer", "dmc_indexerclustergroup_c1"],
              "punct": "".join(c for c in raw[:150] if not c.isalnum() and not c.isspace())[:120],
              "eventtype": eventtypes, "tag": tags, "tag::eventtype": tags,
              "timestartpos": "16", "timeendpos": "35"}
    for name, value in (("date_hour", when // 3600 % 24), ("date_minute", when // 60 % 60),
                        ("date_second", when % 60), ("date_mday", 1 + when // 86400 % 28), ("date_year", 2026)):
        fields[name] = str(int(value))
    fields.update(date_month="november", date_wday="friday", date_zone="0")
    return fields


def _fresh_o365(rng, template, when):
    audit = json.loads(json.dumps(template))
    user = rng.choice(USERS)
    owner = user if rng.random() < 0.9 else rng.choice(USERS)
    audit["Id"] = str(uuid.UUID(int=rng.getrandbits(128)))
    audit["CreationTime"] = "2026-11-20T%02d:%02d:%02d" % (when // 3600 % 24, when // 60 % 60, when % 60)
    for key in ("UserId", "MailboxOwnerUPN"):
        if key in audit and "@" in str(audit[key]):
            audit[key] = user if key == "UserId" else owner
    for key in ("ClientIP", "ClientIPAddress"):
        if key in audit:
            audit[key] = "203.0.%d.%d" % (rng.randrange(113, 120), rng.randrange(1, 255))
    if audit.get("Operation") == "MailItemsAccessed":
        # Real MailItemsAccessed records name 1-30 messages in 1-3 folders.
        folders = []
        for path in rng.sample(["\\Inbox", "\\Sent Items", "\\Archive", "\\Inbox\\Projects"], rng.randint(1, 2)):
            items = [{"InternetMessageId": "<%s@%s.prod.outlook.com>" % (
                      "%032X" % rng.getrandbits(128), "CH0PR18MB%04d" % rng.randrange(10000)),
                      "SizeInBytes": rng.randrange(2000, 300000)} for _ in range(rng.randint(3, 9))]
            folders.append({"FolderItems": items, "Id": "LgAAAAC0AxwgOj%040x" % rng.getrandbits(160), "Path": path})
        audit["Folders"] = folders
        audit["OperationCount"] = sum(len(f["FolderItems"]) for f in folders)
    return audit


def o365_event(rng, template, when):
    audit = _fresh_o365(rng, template, when)
    raw = json.dumps(audit)
    extracted = {}
    flatten(audit, "", extracted)
    record = _splunk_fields(rng, when, raw, "o365", "o365:management:activity",
                            "ms_o365_management_Audit.Exchange", "splunk-hf01",
                            ["ms_o365_management", "ms_o365_management_exchange"], ["cloud", "change", "audit"])
    for name, values in extracted.items():
        record[name] = values if len(values) > 1 else values[0]
    user = audit.get("UserId", "")
    aliases = {"user": user, "src": audit.get("ClientIP") or audit.get("ClientIPAddress", ""),
               "dest": audit.get("Workload", ""), "action": (audit.get("ResultStatus") or "success").lower(),
               "app": "Office 365", "vendor_product": "Microsoft Office 365", "signature": audit.get("Operation", ""),
               "object": audit.get("ObjectId", ""), "status": audit.get("ResultStatus", ""),
               "user_type": str(audit.get("UserType", "")), "vendor_account": audit.get("OrganizationId", ""),
               "command": audit.get("Operation", "")}
    # splunkd sends no field an event lacks (a column is empty only where another event of the chunk has it).
    record.update((name, value) for name, value in aliases.items() if value)
    return record


def endpoint_event(rng, template, when):
    event = dict(template)
    computer = "ws-%04d.contoso.local" % rng.randrange(5000)
    user = rng.choice(USERS).split("@")[0].replace(".", "_")
    raw = event.get("_raw", "")
    for old in filter(None, (event.get("Computer"),)):
        raw = raw.replace(old, computer)
    event["_raw"] = raw
    for key in ("Computer", "dest", "host"):
        if key in event:
            event[key] = computer
    for key in ("SubjectUserName", "User", "user"):
        if event.get(key):
            event[key] = ("CONTOSO\\" + user) if "\\" in str(event[key]) else user
    record = _splunk_fields(rng, when, raw, "windows", event.get("sourcetype", "XmlWinEventLog"),
                            event.get("source", ""), computer.split(".")[0],
                            ["windows_event_signature", "ms-sysmon-process" if "Sysmon" in event.get("source", "")
                             else "wineventlog_security"], ["process", "report", "endpoint"])
    record.update({key: value for key, value in event.items() if key not in record or key in ("_raw",)})
    record.setdefault("dest", computer)
    record.setdefault("vendor_product", "Microsoft Windows")
    record.setdefault("signature_id", event.get("EventCode", ""))
    return record


def make_mix(mix, seed, size):
    """`size` events of one mix, reproducibly from `seed`."""
    rng = random.Random(seed)
    if mix == "endpoint":
        templates = _endpoint_templates()
        build = endpoint_event
    else:
        templates = _o365_templates()
        mail_items = [t for t in templates if t.get("Operation") == "MailItemsAccessed"]
        if mix == "mail_items_accessed":
            templates = mail_items
        else:
            others = [t for t in templates if t.get("Operation") != "MailItemsAccessed"]
            templates = mail_items * max(1, len(others) // max(1, len(mail_items))) + others
        build = o365_event
    start = 1795651200
    return [build(rng, rng.choice(templates), start + index * 3 + rng.randrange(3)) for index in range(size)]


def build_parser():
    """--help only: this module is imported by other tools and has no command line of its own."""
    import argparse

    return argparse.ArgumentParser(prog="tools/real_streams.py", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter, epilog="A module, not a command: tools/bench.py and tests import make_mix(mix, seed, size). Mixes: " + ", ".join(MIXES) + ".")


if __name__ == "__main__":
    build_parser().parse_args()
    build_parser().print_help()  # nothing to run: what the module is for is the answer
