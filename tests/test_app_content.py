"""The SOC content of the app: conf files, saved searches, macros, dashboards, navigation,
search-bar help, and AppInspect over the built package.

There is no Splunk here, so SPL is checked statically: macros are expanded the way splunkd
expands them, pipelines are split on top-level pipes (quotes and subsearches respected), and
every command, macro, lookup, t1114 option and t1114_* field a query names must exist.
"""

import json
import os
import re
import xml.etree.ElementTree as ElementTree

import pytest

from app.finding import OUTPUT_FIELDS
from tests.helpers import (APP_ID, ATTACK_ID, BUILTIN_VIEWS, CONF_FILES, CRON_FIELD, DASHBOARD_TOKEN, DEFAULT, MACRO_CALL, NAV, REPO, RISK_OBJECT_TYPES, THREAT_OBJECT_TYPES, _admin_readme_searches, _allowlist_audit_queries, _seconds, _set_mailbox_forwarding, conf, content_queries, correlation_searches, dashboard_queries, expand_macros, final_table_fields, macro_table, pipeline_commands, problems_in_query, read_conf, rule_attack_ids, rules, saved_searches, studio_definition, t1114_calls, view_names)


# --- reading .conf files the way splunkd does -------------------------------------------------


# --- reading SPL -------------------------------------------------------------------------------


# --- the content under test --------------------------------------------------------------------


@pytest.mark.parametrize("name", CONF_FILES)
def test_conf_file_parses_without_duplicates(name):
    _, problems = read_conf(os.path.join(DEFAULT, name))
    assert problems == []


def test_metadata_parses():
    _, problems = read_conf(os.path.join(REPO, "metadata", "default.meta"))
    assert problems == []


@pytest.mark.parametrize("name", sorted(saved_searches()))
def test_saved_search_query_names_only_what_exists(name):
    problems, _ = problems_in_query(saved_searches()[name]["search"], macro_table())
    assert problems == []


@pytest.mark.parametrize("view,search_id,query,postprocess", dashboard_queries(),
                         ids=["%s:%s" % (q[0], q[1]) for q in dashboard_queries()])
def test_dashboard_query_names_only_what_exists(view, search_id, query, postprocess):
    problems, _ = problems_in_query(query, macro_table(), postprocess=postprocess, dashboard=True)
    assert problems == []


def test_every_macro_definition_expands():
    macros = macro_table()
    for name, keys in macros.items():
        assert keys.get("definition"), "%s has no definition" % name
        missing = []
        expand_macros("`%s`" % name, macros, set(), missing)
        assert missing == [], "%s calls undefined macros %s" % (name, missing)


def test_data_source_macros_are_parenthesised_index_time_terms():
    """They are ORed together and run through | tstats, so: one parenthesised group of
    index/sourcetype/source/host terms and TERM() of indexed words."""
    sources = ("t1114_o365", "t1114_windows_security", "t1114_sysmon", "t1114_powershell",
               "t1114_exchange_management", "t1114_exchange_message_tracking", "t1114_entra",
               "t1114_graph_activity", "t1114_defender_xdr")
    macros = macro_table()
    for name in sources:
        definition = macros[name]["definition"]
        assert definition.startswith("(") and definition.endswith(")"), name
        fields = set(re.findall(r"\b(\w+)\s*=", definition))
        assert fields <= {"index", "sourcetype", "source", "host"}, (name, fields)
        bare = re.sub(r'TERM\([^)]*\)|\w+="[^"]*"|\b(?:OR|AND|NOT)\b|[()\s]', "", definition)
        assert bare == "", "%s: %r is neither a field term nor TERM()" % (name, bare)
        assert "index" not in fields, "%s: the shipped macros carry no index (site-specific)" % name


def test_each_saved_search_has_its_own_filter_macro():
    macros = macro_table()
    owners = {}
    for name, keys in saved_searches().items():
        filters = [m.group(1) for m in MACRO_CALL.finditer(keys["search"]) if m.group(1).endswith("_filter")]
        assert len(filters) == 1, "%s should end in exactly one _filter macro, has %s" % (name, filters)
        assert macros[filters[0]]["definition"] == "search *", filters[0]
        assert filters[0] not in owners, "%s and %s share %s" % (name, owners.get(filters[0]), filters[0])
        owners[filters[0]] = name
    unused = {m for m in macros if m.endswith("_filter")} - set(owners)
    assert unused == set(), "filter macros no saved search uses: %s" % sorted(unused)


def test_every_macro_is_used_somewhere():
    macros = macro_table()
    used = set()
    texts = [keys["search"] for keys in saved_searches().values()] + [q[2] for q in dashboard_queries()]
    texts += [v for k, v in conf("searchbnf")["t1114-command"].items() if k.startswith("example")]
    for text in texts:
        expand_macros(DASHBOARD_TOKEN.sub('"TOKEN"', text.replace("$$", "")), macros, used, [])
    assert set(macros) - used == set()


def test_saved_searches_are_scheduled_lagged_staggered_and_ship_disabled():
    minutes = {}
    for name, keys in saved_searches().items():
        assert keys.get("disabled") == "1", "%s: detections ship disabled (docs/soc_content.md)" % name
        assert keys.get("enableSched") == "1", name
        cron = keys["cron_schedule"].split()
        assert len(cron) == 5 and all(CRON_FIELD.match(f) for f in cron), (name, cron)
        assert cron[0].isdigit(), "%s: a fixed minute, so searches can be staggered" % name
        assert cron[0] not in minutes, "%s starts at minute %s like %s" % (name, cron[0], minutes.get(cron[0]))
        minutes[cron[0]] = name
        earliest, latest = keys["dispatch.earliest_time"], keys["dispatch.latest_time"]
        assert earliest.startswith("-") and "@" in earliest, (name, earliest)
        assert latest != "now" and "@" in latest, "%s: the window ends on a snapped time" % name
        assert "rt" not in earliest + latest, "%s: no real-time searches" % name
        # Lagged behind the run: endpoint events arrive 10+ minutes late, Office 365 and
        # Entra audit 30-90 minutes late.
        expanded = expand_macros(keys["search"], macro_table(), set(), [])
        cloud = "o365:management:activity" in expanded or "azure:monitor:aad" in expanded
        lag = _seconds(latest) if latest.startswith("-") else 0
        if "index=risk" not in expanded:  # the risk index is written by these searches, already lagged
            assert lag >= (7200 if cloud else 3600), "%s: window ends %s, too close to the run" % (name, latest)
        if cron[1:] == ["*"] * 4:
            # Hourly windows are contiguous only if the scheduler never skips a period.
            assert keys.get("realtime_schedule") == "0", "%s: continuous scheduling" % name


def test_correlation_searches_carry_annotations_es_can_read():
    searches = correlation_searches()
    assert len(searches) >= 7
    for name, keys in searches.items():
        assert keys["action.correlationsearch.label"] == name
        annotations = json.loads(keys["action.correlationsearch.annotations"])
        assert isinstance(annotations, dict) and isinstance(annotations["mitre_attack"], list), name
        assert all(ATTACK_ID.match(i) for i in annotations["mitre_attack"]), name
        technique = name.split(" ")[0]
        if t1114_calls(keys["search"]):
            # Every ATT&CK id the rules behind the search carry (T1098.002 for grants, ...).
            # A search that keeps only some rules' findings (t1114_rule="...") carries theirs.
            named = set(re.findall(r't1114_rule="?([a-z0-9_]+)', keys["search"]))
            named |= set(re.findall(r'"(t1114_\d{3}_[a-z0-9_]+)"', keys["search"]))
            wanted = rule_attack_ids(None if technique == "T1114" else technique, named)
            assert wanted <= set(annotations["mitre_attack"]), (name, sorted(wanted - set(annotations["mitre_attack"])))
        assert technique in annotations["mitre_attack"], name


def test_risk_settings_parse_as_es_reads_them():
    risky = {n: k for n, k in correlation_searches().items() if k.get("action.risk") == "1"}
    assert len(risky) >= 6
    for name, keys in risky.items():
        risk = json.loads(keys["action.risk.param._risk"])
        assert isinstance(risk, list) and risk and all(isinstance(r, dict) for r in risk), name
        objects = [r for r in risk if "risk_object_field" in r]
        assert objects, "%s: no risk object" % name
        for entry in risk:
            if "risk_object_field" in entry:
                assert set(entry) == {"risk_object_field", "risk_object_type", "risk_score"}, (name, entry)
                assert entry["risk_object_type"] in RISK_OBJECT_TYPES, (name, entry)
                assert isinstance(entry["risk_score"], int) and 1 <= entry["risk_score"] <= 100, (name, entry)
            else:
                assert set(entry) == {"threat_object_field", "threat_object_type"}, (name, entry)
                assert entry["threat_object_type"] in THREAT_OBJECT_TYPES, (name, entry)
        produced = final_table_fields(keys["search"])
        wanted = {r.get("risk_object_field") or r.get("threat_object_field") for r in risk}
        wanted |= set(re.findall(r"\$(\w+)\$", keys["action.risk.param._risk_message"]))
        wanted |= {"mitre_technique_id", "t1114_severity", "risk_score", "t1114_reason"}
        assert wanted <= produced, "%s does not output %s" % (name, sorted(wanted - produced))


def test_per_finding_detections_risk_the_actor_and_the_mailbox():
    for technique in ("T1114.002", "T1114.003"):
        (name,) = [n for n in saved_searches() if n.startswith(technique + " - ") and n.endswith("Collection - Rule")
                   or n == "T1114.003 - Email Forwarding - Rule" and technique == "T1114.003"]
        risk = json.loads(saved_searches()[name]["action.risk.param._risk"])
        fields = {r.get("risk_object_field") for r in risk}
        assert {"user", "mailbox"} <= fields, name
        # The mailbox is a second risk object only when it is not the actor itself (an own
        # inbox rule would otherwise count twice against one person).
        assert 'lower(object)!=lower(user)' in expand_macros(saved_searches()[name]["search"], macro_table(), set(), [])


def test_high_and_critical_findings_raise_a_notable_with_drilldowns_and_next_steps():
    notables = {n: k for n, k in correlation_searches().items() if k.get("action.notable") == "1"}
    assert notables, "no search raises notables"
    macros = macro_table()
    for name, keys in notables.items():
        if t1114_calls(keys["search"]):
            assert 't1114_severity IN ("high", "critical")' in keys["search"], name
        assert keys.get("action.risk") != "1", "%s: risk is raised once, by the sub-technique searches" % name
        produced = final_table_fields(keys["search"])
        for key in ("action.notable.param.rule_title", "action.notable.param.rule_description"):
            assert set(re.findall(r"\$(\w+)\$", keys[key])) <= produced, key
        drilldowns = json.loads(keys["action.notable.param.drilldown_searches"])
        assert isinstance(drilldowns, list) and len(drilldowns) >= 2
        names = " ".join(d["name"] for d in drilldowns)
        assert "findings" in names.lower() and "risk" in names.lower()
        for drilldown in drilldowns:
            assert set(drilldown) == {"name", "search", "earliest_offset", "latest_offset"}, drilldown
            tokens = set(re.findall(r"\$(\w+)\$", drilldown["name"] + drilldown["search"]))
            assert tokens <= produced, (drilldown["name"], tokens - produced)
            spl = re.sub(r"\$\w+\$", "TOKEN", drilldown["search"])
            problems, _ = problems_in_query(spl, macros)
            assert problems == [], (drilldown["name"], problems)
        steps = json.loads(keys["action.notable.param.next_steps"])
        assert steps["version"] == 1 and len(steps["data"]) > 50
        assert keys["action.notable.param.security_domain"] in ("access", "endpoint", "network", "threat", "identity", "audit")
        assert keys["action.notable.param.severity"] in ("informational", "low", "medium", "high", "critical")


def test_saved_searches_are_exported_for_enterprise_security():
    meta, _ = read_conf(os.path.join(REPO, "metadata", "default.meta"))
    assert meta["savedsearches"]["export"] == "system"
    assert meta["macros"]["export"] == "system"


@pytest.mark.parametrize("where,query", content_queries(), ids=[q[0] for q in content_queries()])
def test_content_reading_t1114_fields_uses_the_per_finding_form(where, query):
    """A query that runs the command and counts, groups or lists its fields does so per
    finding: | t1114 expand=true, or spath over t1114_findings. The summary fields of a
    one-row-per-event result would count a three-finding event once, under one rule."""
    calls = t1114_calls(query)
    if not calls:
        return
    for arguments in calls:
        options = dict(word.partition("=")[::2] for word in arguments.split())
        per_finding = options.get("expand", "false").lower() in ("1", "t", "true", "y", "yes")
        assert per_finding or "spath input=t1114_findings" in query, (where, arguments)


@pytest.mark.parametrize("name", sorted(n for n, k in saved_searches().items()
                                        if k.get("action.correlationsearch.enabled") == "1" and "t1114 " in k["search"]))
def test_alerting_searches_alert_on_status_finding_only(name):
    """Suppressed and report-only findings never alert; mode=findings alone would still
    return report-only ones."""
    search = saved_searches()[name]["search"]
    assert 'search t1114_status="finding"' in search, name


def test_each_finding_is_counted_in_its_own_sub_technique_search_only():
    searches = saved_searches()
    for technique in ("T1114.001", "T1114.002", "T1114.003"):
        for name, keys in searches.items():
            if t1114_calls(keys["search"]) and name.startswith(technique):
                assert 'mitre_technique_id="%s"' % technique in keys["search"], name


def test_forwarding_change_macro_reads_every_operation_the_forwarding_rules_match():
    from app.rules import compile_rules
    from app.problems import ProblemLog

    definition = macro_table()["t1114_forwarding_change_events"]["definition"]
    listed = {op.lower() for op in re.findall(r'"([A-Za-z-]+)"', definition)}
    for rule in compile_rules(rules(), ProblemLog()):
        if rule.technique != "T1114.003" or rule.operations is None:
            continue
        if rule.sources is not None and "o365" not in rule.sources:
            continue  # message tracking: one org-wide transport rule, not one change per mailbox
        assert set(rule.operations) <= listed, (rule.id, sorted(set(rule.operations) - listed))


def test_throttling_covers_the_whole_window():
    for name, keys in saved_searches().items():
        if keys.get("alert.suppress") == "1":
            window = _seconds(keys["dispatch.earliest_time"]) - _seconds(keys["dispatch.latest_time"])
            assert _seconds(keys["alert.suppress.period"]) >= window, name
            assert keys["alert.suppress.fields"], name


def test_one_actor_search_attributes_app_only_access_to_the_application():
    keys = saved_searches()["T1114.002 - One Actor Reading Many Mailboxes - Rule"]
    assert "actor=coalesce(app, lower(user))" in keys["search"]
    risk = json.loads(keys["action.risk.param._risk"])
    assert {"risk_object_field": "app", "risk_object_type": "other", "risk_score": 70} in risk


def test_docs_agree_with_the_config():
    """The baseline is a KV store collection, and the macros are exported."""
    text = open(os.path.join(REPO, "docs", "soc_content.md"), encoding="utf-8").read()
    text += open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    for keys in saved_searches().values():
        text += keys.get("description", "")
    assert "t1114_mail_client_baseline.csv" not in text
    assert "macros are shared inside this app only" not in text


def test_one_detection_per_sub_technique_runs_the_command():
    searches = saved_searches()
    for technique in ("T1114.001", "T1114.002", "T1114.003"):
        runs = [n for n, k in searches.items() if n.startswith(technique + " ")
                and any(c == "t1114" for c, _ in pipeline_commands(expand_macros(k["search"], macro_table(), set(), [])))
                and 'mitre_technique_id="%s"' % technique in k["search"]]
        assert runs, "no scheduled t1114 detection for %s" % technique


def test_mail_client_baseline_is_a_kvstore_lookup_the_searches_share():
    transforms = conf("transforms")["t1114_mail_client_baseline"]
    collections = conf("collections")
    assert transforms["external_type"] == "kvstore"
    assert transforms["collection"] in collections
    fields = {f.strip() for f in transforms["fields_list"].split(",")} - {"_key"}
    assert fields == {k[len("field."):] for k in collections[transforms["collection"]] if k.startswith("field.")}
    generator = saved_searches()["T1114 - Mail Client Baseline - Lookup Gen"]["search"]
    assert "outputlookup" in generator and "t1114_mail_client_baseline" in generator
    detection = saved_searches()["T1114.002 - First Time A Client App Reads Mail - Rule"]
    baseline = saved_searches()["T1114 - Mail Client Baseline - Lookup Gen"]
    # Same window; the detection runs before the baseline absorbs that hour.
    for key in ("dispatch.earliest_time", "dispatch.latest_time"):
        assert detection[key] == baseline[key]
    assert int(detection["cron_schedule"].split()[0]) < int(baseline["cron_schedule"].split()[0])


def test_views_are_dashboard_studio_and_chain_bases_and_link_targets_exist():
    """Splunk's validator and a browser check the definitions (dashboards/, tox env
    dashboards); this keeps the Python suite's own view of them honest."""
    assert set(view_names()) >= {"t1114_overview", "t1114_investigation", "t1114_allowlist_audit", "t1114_data_check"}
    for view in view_names():
        root, definition = studio_definition(view)
        assert root.tag == "dashboard" and root.get("version") == "2", view
        assert root.findtext("label") and definition.get("title"), view
        sources = definition["dataSources"]
        for ds_id, ds in sources.items():
            if ds["type"] == "ds.chain":
                assert ds["options"]["extend"] in sources, (view, ds_id)
        for viz_id, viz in definition["visualizations"].items():
            for handler in viz.get("eventHandlers", []):
                url = handler.get("options", {}).get("url", "")
                match = re.match(r"^/app/%s/([\w]+)\?" % APP_ID, url)
                assert match and match.group(1) in view_names(), (view, viz_id, url)


def test_only_the_investigation_runs_the_command_and_over_one_identity():
    """The other dashboards read what the scheduled searches wrote (`t1114_summary`);
    re-running | t1114 over raw events on every open repeats their work."""
    for where, query in content_queries():
        if where.startswith("savedsearch"):
            continue
        view = where.split(":")[0]
        if view != "t1114_investigation":
            assert not t1114_calls(query), where
        elif t1114_calls(query):
            assert query.startswith('`t1114_events` "TOKEN" | where match("TOKEN", "[^*]{3,}") | t1114 '), where
    reads_summary = {w.split(":")[0] for w, q in content_queries() if "`t1114_summary" in q}
    assert reads_summary >= {"t1114_overview", "t1114_investigation", "t1114_allowlist_audit", "t1114_data_check"}


def test_nav_names_existing_views_and_shows_the_dashboards():
    root = ElementTree.parse(NAV).getroot()
    named = [v.get("name") for v in root.iter("view")]
    for name in named:
        assert name in view_names() or name in BUILTIN_VIEWS, name
    assert set(view_names()) <= set(named)
    assert [v.get("name") for v in root.iter("view") if v.get("default") == "true"] == ["t1114_overview"]


def test_searchbnf_describes_the_command_options_and_examples():
    bnf = conf("searchbnf")
    command = bnf["t1114-command"]
    for key in ("syntax", "shortdesc", "description", "usage", "example1", "comment1"):
        assert command.get(key), key
    referenced = re.findall(r"<([\w-]+)>", command["syntax"])
    assert referenced, "the syntax names its option stanzas"
    for option in referenced:
        assert option in bnf and bnf[option].get("syntax") and bnf[option].get("description"), option
    assert "mode" in bnf["t1114-mode-option"]["syntax"] and "allowlist" in bnf["t1114-allowlist-option"]["syntax"]
    macros = macro_table()
    for key in sorted(k for k in command if k.startswith("example")):
        problems, _ = problems_in_query(command[key], macros)
        assert problems == [], (key, problems)
        assert command.get(key.replace("example", "comment")), "%s has no comment" % key


def test_static_checker_catches_mistakes():
    """The checks above would pass vacuously if the SPL reader saw nothing."""
    macros = macro_table()
    assert problems_in_query("`t1114_events` | t1114 mode=some", macros)[0]
    assert problems_in_query("`t1114_nope` | t1114", macros)[0]
    assert problems_in_query("| inputlookup t1114_nope | stats count", macros)[0]
    assert problems_in_query("`t1114_o365` | statz count", macros)[0]
    assert problems_in_query("`t1114_o365` | t1114 | table t1114_reasons", macros)[0]
    assert problems_in_query('| makeresults | map search="| inputlookup t1114_nope"', macros)[0]
    assert problems_in_query("`t1114_o365` | eval n=[| inputlookup t1114_nope | return $count]", macros)[0]
    assert problems_in_query("`t1114_o365` | t1114 allowlist=false mode=all | table _time", macros)[0] == []


def test_command_output_has_what_the_searches_and_dashboards_read(built_app):
    """The aggregation counts mailboxes (object) per t1114_external_destination among
    per-finding T1114.003 rows, while an event without findings has every t1114 field empty
    (absent, to Splunk): check both against the real command, run as splunkd runs it."""
    from tools.chunked_client import run, script_path

    mailboxes = ["ann@contoso.com", "bob@contoso.com", "cy@contoso.com"]
    records = [_set_mailbox_forwarding(m, "drop@collector.example") for m in mailboxes]
    # Several rules on one mailbox are one mailbox: a second change to ann's forwarding.
    records.append(_set_mailbox_forwarding("ann@contoso.com", "drop@collector.example"))
    records.append({"_time": "1795352400", "sourcetype": "o365:management:activity"})  # nothing to find
    for index, record in enumerate(records):
        record["test_event"] = str(index)  # passes through: which output rows each event gave
    result = run(script_path(built_app), records, args=["mode=all", "expand=true"])
    assert result["exit_code"] == 0, result["stderr"][-2000:]
    rows = {}
    for row in result["records"]:
        rows.setdefault(int(row["test_event"]), []).append(row)
    # Other rules may fire on these events too: the forwarding rule's rows are the ones counted.
    findings = [next(r for r in rows[index] if r["t1114_rule"] == "t1114_003_mailbox_forwarding")
                for index in range(4)]
    (quiet,) = rows[4]
    for record, mailbox in zip(findings, mailboxes + ["ann@contoso.com"]):
        assert record["t1114_status"] == "finding" and record["mitre_technique_id"] == "T1114.003"
        assert record["object"].lower() == mailbox
        assert record["t1114_external_destination"] == "drop@collector.example"
    threshold = int(macro_table()["t1114_forwarding_destination_min_mailboxes"]["definition"])
    assert len({r["object"].lower() for r in findings}) == 3 >= threshold
    assert all(quiet[name] == "" for name in OUTPUT_FIELDS if name.startswith("t1114_"))


def test_allowlist_audit_shows_who_changed_the_lookups_the_shipped_rows_and_the_overrides():
    queries = _allowlist_audit_queries()
    (changes,) = [q for q in queries if "index=_audit" in q]
    # The three places Splunk records a lookup change: the search that ran | outputlookup, the
    # Lookup Editor app's log line, and Splunk Web's lookup-table-files endpoint.
    assert "sourcetype=audittrail action=search info=granted" in changes
    assert '"Lookup edited successfully"' in changes and "lookup_file=" in changes
    assert "sourcetype=splunkd_access" in changes and "/data/lookup-table-files" in changes
    assert changes.rstrip().endswith("| table time user lookup how what")
    for lookup in ("t1114_shipped_accounts", "t1114_shipped_processes", "t1114_shipped_applications"):
        (shipped,) = [q for q in queries if "| inputlookup %s " % lookup in q]
        assert "| table lookup row_id class reason source" in shipped
    (overrides,) = [q for q in queries if "| inputlookup t1114_overrides" in q]
    for column in ("target_type", "target", "state", "severity", "risk_score", "reason", "added_by", "added_at"):
        assert " %s " % column in overrides, column


def test_allowlist_audit_finds_the_readme_searches_that_add_a_row_and_not_itself():
    """The audit panel's own filter and lookup extraction, run in Python over the searches the
    admin's README tells a site to run (as _audit records them, one line), and over the panel's
    own query, which _audit records too and which names outputlookup and t1114_allowlist_."""
    (changes,) = [q for q in _allowlist_audit_queries() if "index=_audit" in q]
    where = re.search(r'\| where match\(search, "((?:[^"\\]|\\.)*)"\)', changes).group(1)
    rex = re.search(r'\| rex field=search max_match=0 "((?:[^"\\]|\\.)*)"', changes).group(1)
    rex = rex.replace("(?<", "(?P<")
    searches = _admin_readme_searches()
    written = set()
    for spl in searches:
        assert problems_in_query(spl, macro_table())[0] == [], spl
        assert re.search(where, spl), spl
        written.update(m.group("lookup") for m in re.finditer(rex, spl))
    assert {"t1114_allowlist_accounts", "t1114_overrides"} <= written
    assert not re.search(where, changes)
