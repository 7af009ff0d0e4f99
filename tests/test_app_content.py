"""The SOC content of the app: conf files, saved searches, macros, dashboards, navigation,
search-bar help, and AppInspect over the built package.

There is no Splunk here, so SPL is checked statically: macros are expanded the way splunkd
expands them, pipelines are split on top-level pipes (quotes and subsearches respected), and
every command, macro, lookup, t1114 option and t1114_* field a query names must exist.
"""

import glob
import json
import os
import re
import xml.etree.ElementTree as ElementTree

import pytest

from app.finding import OUTPUT_FIELDS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT = os.path.join(REPO, "default")
VIEWS = os.path.join(DEFAULT, "data", "ui", "views")
NAV = os.path.join(DEFAULT, "data", "ui", "nav", "default.xml")
APP_ID = "t1114_email_collection"

# Splunk's own search commands that the app's content may use (Search Reference). A name not
# here and not in commands.conf is a typo or a command Splunk Cloud does not have.
SPLUNK_COMMANDS = {
    "append", "appendcols", "bin", "bucket", "chart", "convert", "dedup", "eval", "eventstats",
    "fields", "fillnull", "head", "inputlookup", "lookup", "makeresults", "map", "mvexpand",
    "outputlookup", "rename", "rest", "return", "rex", "search", "sort", "stats", "streamstats",
    "table", "tail", "timechart", "top", "tstats", "where", "spath", "from",
    # the scheduled searches write their results to the summary index the dashboards read
    "collect",
}
# Views Splunk provides to every app, which the navigation menu may name.
BUILTIN_VIEWS = {"search", "datasets", "reports", "alerts", "dashboards", "analytics_workspace"}
BOOLEAN_VALUES = {"1", "0", "t", "f", "true", "false", "y", "n", "yes", "no"}
T1114_OPTIONS = {"mode": {"findings", "all"}, "allowlist": BOOLEAN_VALUES, "expand": BOOLEAN_VALUES}


# --- reading .conf files the way splunkd does -------------------------------------------------

def read_conf(path):
    """({stanza: {key: value}}, [problems]). A line ending in a backslash continues on the next
    line; '#' starts a comment only at the start of a line; keys before any stanza belong to
    [default]. Duplicate stanzas and keys are problems: splunkd would silently merge them."""
    stanzas = {"default": {}}
    problems = []
    current = "default"
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    index = 0
    while index < len(lines):
        number = index + 1
        line = lines[index].strip()
        index += 1
        while line.endswith("\\") and index < len(lines):
            line = line[:-1] + "\n" + lines[index].strip()
            index += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                problems.append("line %d: stanza header without ']': %r" % (number, line))
                continue
            current = line[1:-1]
            if current in stanzas and current != "default":
                problems.append("line %d: stanza [%s] appears twice" % (number, current))
            stanzas.setdefault(current, {})
            continue
        if "=" not in line:
            problems.append("line %d: not 'key = value': %r" % (number, line))
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if key in stanzas[current]:
            problems.append("line %d: [%s] sets %s twice" % (number, current, key))
        stanzas[current][key] = value
    return stanzas, problems


def conf(name):
    stanzas, problems = read_conf(os.path.join(DEFAULT, name + ".conf"))
    assert not problems, problems
    return stanzas


# --- reading SPL -------------------------------------------------------------------------------

MACRO_CALL = re.compile(r"`([^`(]+?)(?:\(([^`]*)\))?`")
DASHBOARD_TOKEN = re.compile(r"\$[\w.:|]+\$")
T1114_FIELD = re.compile(r"\bt1114_[a-z0-9_]+")


def macro_table():
    table = {}
    for stanza, keys in conf("macros").items():
        if stanza != "default":
            table[stanza] = keys
    return table


def expand_macros(spl, macros, used, missing, depth=0):
    """spl with every macro call replaced by its definition, recursively."""
    if depth > 10:
        missing.append("macro nesting deeper than 10 (a macro calls itself?)")
        return spl

    def replace(match):
        name = match.group(1).strip()
        args = [a.strip() for a in match.group(2).split(",")] if match.group(2) is not None else []
        key = "%s(%d)" % (name, len(args)) if args else name
        if key not in macros:
            missing.append(key)
            return "MISSING_MACRO"
        used.add(key)
        definition = macros[key].get("definition", "")
        names = [a.strip() for a in macros[key].get("args", "").split(",") if a.strip()]
        for arg_name, value in zip(names, args):
            definition = definition.replace("$%s$" % arg_name, value)
        return expand_macros(definition, macros, used, missing, depth + 1)

    return MACRO_CALL.sub(replace, spl)


def split_pipeline(spl):
    """(top-level segments, subsearch texts): pipes inside quotes or [subsearches] do not split."""
    segments, subsearches, buffer = [], [], []
    depth, quoted, start, index = 0, False, 0, 0
    while index < len(spl):
        char = spl[index]
        if quoted:
            if char == "\\" and index + 1 < len(spl):
                buffer.append(spl[index:index + 2])
                index += 2
                continue
            if char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "[":
            depth += 1
            if depth == 1:
                start = index + 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                subsearches.append(spl[start:index])
        elif char == "|" and depth == 0:
            segments.append("".join(buffer))
            buffer = []
            index += 1
            continue
        buffer.append(char)
        index += 1
    segments.append("".join(buffer))
    assert depth == 0 and not quoted, "unbalanced brackets or quotes in: %s" % spl
    return segments, subsearches


def pipeline_commands(spl, postprocess=False):
    """[(command, arguments)] of a pipeline and all its subsearches and map searches. The first
    segment of a pipeline that does not start with '|' is the implicit search command."""
    segments, subsearches = split_pipeline(spl)
    commands = []
    for position, segment in enumerate(segments):
        text = segment.strip()
        if position == 0 and not postprocess:
            if not text:
                continue  # the pipeline starts with '|': a generating command follows
            commands.append(("search", text))
            continue
        name, _, arguments = text.partition(" ")
        commands.append((name.strip().lower(), arguments.strip()))
        if name.strip().lower() == "map":
            inner = re.search(r'search="((?:[^"\\]|\\.)*)"', arguments)
            assert inner, "map without search=\"...\": %s" % text
            commands.extend(pipeline_commands(inner.group(1).replace('\\"', '"')))
    for subsearch in subsearches:
        commands.extend(pipeline_commands(subsearch.strip()))
    return commands


def lookup_names():
    names = {s for s in conf("transforms") if s != "default"}
    names.update(os.path.basename(p) for p in glob.glob(os.path.join(REPO, "lookups", "*.csv")))
    return names


def lookup_argument(arguments):
    """The lookup a lookup/inputlookup/outputlookup names: its first argument that is not option=value."""
    for word in arguments.split():
        if "=" not in word:
            return word
    return None


# t1114_* fields the SOC content computes itself (the command writes the others, OUTPUT_FIELDS);
# test_content_fields_are_computed_where_they_are_read holds each to an assignment.
CONTENT_FIELDS = {"t1114_behaviour", "t1114_entity", "t1114_entity_type", "t1114_entity_hash", "t1114_story",
                  "t1114_step", "t1114_rules", "t1114_chain"}
# The summary index the scheduled searches write with | collect and the dashboards read, the
# field its collect clauses add (t1114_kind: finding, aggregation or chain), and the fields of
# the chain search's results (t1114_entity ... t1114_story) the Overview shows.
SUMMARY_NAMES = {"t1114_summary", "t1114_kind", "t1114_entity", "t1114_entity_type", "t1114_entity_hash", "t1114_chain",
                 "t1114_behaviour", "t1114_story"}


def problems_in_query(spl, macros, postprocess=False, dashboard=False):
    """Sentences naming what a query gets wrong, and the macros it used."""
    problems, used, missing = [], set(), []
    if dashboard:
        spl = spl.replace("$$", "\x00")       # Simple XML's escaped dollar (map's $field$)
        spl = DASHBOARD_TOKEN.sub('"TOKEN"', spl).replace("\x00", "$")
    expanded = expand_macros(spl, macros, used, missing)
    problems.extend("macro `%s` is not defined in macros.conf" % m for m in missing)
    try:
        commands = pipeline_commands(expanded, postprocess)
    except AssertionError as error:
        return problems + [str(error)], used
    known = SPLUNK_COMMANDS | {s for s in conf("commands") if s != "default"}
    lookups = lookup_names()
    for name, arguments in commands:
        if name not in known:
            problems.append("command %r is neither a Splunk command in the allowed set nor in commands.conf" % name)
        if name in ("lookup", "inputlookup", "outputlookup"):
            table = lookup_argument(arguments)
            if table and not table.startswith(('"TOKEN"', "$")) and table not in lookups:
                problems.append("%s names %r, which transforms.conf and lookups/ do not define" % (name, table))
        if name == "t1114":
            seen = set()
            for word in arguments.split():
                option, _, value = word.partition("=")
                if option not in T1114_OPTIONS or value.lower() not in T1114_OPTIONS[option]:
                    problems.append("t1114 does not take %r (mode=findings|all, allowlist=<bool>, expand=<bool>)" % word)
                if option in seen:
                    problems.append("t1114 option %s given twice" % option)
                seen.add(option)
    known_names = (set(OUTPUT_FIELDS) | CONTENT_FIELDS | lookup_names() | set(macros) | set(view_names())
                   | set(rule_ids()) | {APP_ID, "t1114_allowlist_"} | SUMMARY_NAMES)
    for field in set(T1114_FIELD.findall(MACRO_CALL.sub(" ", spl))):
        if field not in known_names:
            problems.append("%s is not a t1114 output field, lookup, macro or view" % field)
    return problems, used


def rules():
    from app.rules import read_rule_sources
    return [d for d in read_rule_sources(os.path.join(REPO, "app", "rules")) if isinstance(d, dict)]


def rule_ids():
    return [d["id"] for d in rules()]


# --- the content under test --------------------------------------------------------------------

def saved_searches():
    return {name: keys for name, keys in conf("savedsearches").items() if name != "default"}


def view_names():
    return sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(VIEWS, "*.xml")))


def studio_definition(view):
    """(root element, Dashboard Studio definition) of a view: <dashboard version="2"> with its
    JSON definition in <definition>."""
    root = ElementTree.parse(os.path.join(VIEWS, view + ".xml")).getroot()
    return root, json.loads(root.findtext("definition"))


def dashboard_queries():
    """(view, data source id, query text, is a chain) for every search in every view."""
    found = []
    for view in view_names():
        _, definition = studio_definition(view)
        for ds_id, ds in sorted(definition.get("dataSources", {}).items()):
            query = ds.get("options", {}).get("query")
            if query is not None:
                found.append((view, ds_id, query, ds["type"] == "ds.chain"))
    return found


CONF_FILES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(DEFAULT, "*.conf")))


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


CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")


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


# Risk and threat object types Enterprise Security accepts, as splunk/contentctl (the tool
# that builds ESCU) validates them (contentctl/objects/rba.py).
RISK_OBJECT_TYPES = {"user", "system", "other"}
THREAT_OBJECT_TYPES = {
    "certificate_common_name", "certificate_organization", "certificate_serial", "certificate_unit",
    "command", "domain", "email_address", "email_subject", "file_hash", "file_name", "file_path",
    "http_user_agent", "ip_address", "process", "process_name", "parent_process", "parent_process_name",
    "process_hash", "registry_path", "registry_value_name", "registry_value_text", "service", "signature",
    "system", "tls_hash", "url",
}
ATTACK_ID = re.compile(r"^T\d{4}(\.\d{3})?$")


def correlation_searches():
    return {n: k for n, k in saved_searches().items() if k.get("action.correlationsearch.enabled") == "1"}


def rule_attack_ids(technique=None, only_rules=None):
    """Every ATT&CK id the rules of one sub-technique (or all rules, or only the rules named)
    can put on a finding."""
    ids = set()
    for document in rules():
        if only_rules and document["id"] not in only_rules:
            continue
        if technique is None or document["technique"] == technique:
            ids.add(document["technique"])
            ids.update(document.get("also_techniques") or ())
            for escalation in document.get("escalate") or ():
                ids.update(escalation.get("also_techniques") or ())
    return ids


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


def t1114_calls(spl):
    macros = macro_table()
    return [arguments for name, arguments in pipeline_commands(expand_macros(spl, macros, set(), []))
            if name == "t1114"]


def content_queries():
    """(where, full query) of every saved search and dashboard search; a chained data source is
    read after the search it extends, as Splunk runs it."""
    found = [("savedsearch " + n, k["search"]) for n, k in saved_searches().items()]
    for view in view_names():
        _, definition = studio_definition(view)
        sources = definition.get("dataSources", {})
        for ds_id, ds in sorted(sources.items()):
            if "query" in ds.get("options", {}):
                found.append(("%s:%s" % (view, ds_id), DASHBOARD_TOKEN.sub('"TOKEN"', full_query(ds, sources))))
    return found


def full_query(ds, sources):
    """A data source's query as Splunk runs it: a chain after the search it extends."""
    query = ds["options"]["query"]
    if ds["type"] == "ds.chain":
        return full_query(sources[ds["options"]["extend"]], sources) + " | " + query
    return query


SUMMARY_ONLY_FIELDS = ("t1114_rule", "t1114_severity", "t1114_reason", "t1114_destination",
                       "t1114_external_destination", "t1114_suppressed_rule", "t1114_suppressed_by",
                       "mitre_technique_id", "risk_score", "t1114_status")


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


def _seconds(relative):
    """Length of a relative time such as -7d@h, 7d, 24h (the snapping ignored)."""
    match = re.match(r"^-?(\d+)([smhdw])", relative)
    if match is None:
        return 0  # now, @h: the run's own time
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]


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


def final_table_fields(search):
    segments, _ = split_pipeline(search)
    tables = [s.strip() for s in segments if s.strip().startswith("table ")]
    assert tables, "the search ends with a table of its output fields"
    return set(tables[-1].split()[1:])


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


def _set_mailbox_forwarding(mailbox, destination):
    record = {"CreationTime": "2026-11-22T13:00:00", "Operation": "Set-Mailbox", "RecordType": 1,
              "ResultStatus": "True", "UserType": 2, "Workload": "Exchange", "ClientIP": "203.0.113.50",
              "UserId": "helpdesk@contoso.com", "ObjectId": mailbox.split("@")[0],
              "Parameters": [{"Name": "Identity", "Value": mailbox},
                             {"Name": "ForwardingSmtpAddress", "Value": "smtp:" + destination}]}
    return {"_time": "1795352400", "sourcetype": "o365:management:activity", "_raw": json.dumps(record)}


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


def _allowlist_audit_queries():
    _, definition = studio_definition("t1114_allowlist_audit")
    return [ds["options"]["query"] for ds in definition["dataSources"].values() if ds.get("options", {}).get("query")]


def _admin_readme_searches():
    """The SPL blocks of the admin's README (packaging/README.md) that write a lookup."""
    with open(os.path.join(REPO, "packaging", "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    return [" ".join(line.strip() for line in block.splitlines()) for block in blocks if "| outputlookup" in block]


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
