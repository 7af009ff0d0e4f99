"""The rule schema (app/rule_schema.py): each typo a detection engineer makes fails the build,
naming the file, the key path and the closest valid name, instead of compiling into a rule
that never fires. The build is run as tools/build.py runs it, on a copy of the repository's
rules with one mistake put in.
"""

import json
import os

import pytest
import yaml

from app.engine import Engine
from app.rule_schema import Vocabulary, check_rule
from app.rules import RuleError
from tests.conftest import REPO, copy_app_root, shipped_lookup_path
from tools.build import compile_rule_set

FORWARDING = "t1114_003_mailbox_forwarding"
EXPORT = "t1114_002_mailbox_export_request"


@pytest.fixture()
def app_copy(tmp_path):
    """The parts of the repository the rule build reads: rules, shipped allowlists, default/."""
    return copy_app_root(tmp_path, parts=(("app", "rules"), ("default",)))


def _edit_rule(app_root, rule_id, change):
    path = app_root / "app" / "rules" / (rule_id + ".yml")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def _build_error(app_root):
    with pytest.raises(SystemExit) as stopped:
        compile_rule_set(str(app_root / "rules.json"), str(app_root))
    return str(stopped.value)


def test_the_repository_rules_build(app_copy):
    compile_rule_set(str(app_copy / "rules.json"), str(app_copy))
    sources = [p for p in (app_copy / "app" / "rules").glob("*.yml") if not p.name.endswith(".test.yml")]
    assert len(json.loads((app_copy / "rules.json").read_text())) == len(sources)


def test_misspelt_fact(app_copy):
    def change(document):
        document["escalate"][0]["when"]["field"] = "extra.external_destinaton"
    _edit_rule(app_copy, FORWARDING, change)
    message = _build_error(app_copy)
    assert FORWARDING + ".yml: escalate[0].when.field: `extra.external_destinaton`: no such fact; " \
        "did you mean `extra.external_destination`?" in message


def test_misspelt_source_name(app_copy):
    def change(document):
        document["match"]["all"][0]["in"] = ["o365", "powershel", "exchange_cmdlet_log", "process"]
    _edit_rule(app_copy, EXPORT, change)
    message = _build_error(app_copy)
    assert EXPORT + ".yml: match.all[0].in: `powershel` is not a source" in message
    assert "did you mean `powershell`?" in message


def test_unknown_top_level_key(app_copy):
    def change(document):
        document["escalations"] = document.pop("escalate")
    _edit_rule(app_copy, FORWARDING, change)
    assert FORWARDING + ".yml: escalations: unknown key `escalations`; did you mean `escalate`?" in _build_error(app_copy)


def test_equals_with_a_list(app_copy):
    def change(document):
        document["match"]["all"][1] = {"field": "operation", "equals": ["New-MailboxExportRequest", "x"]}
    _edit_rule(app_copy, EXPORT, change)
    message = _build_error(app_copy)
    assert EXPORT + ".yml: match.all[1].equals: `equals` takes one value, not a list; for a list of values use `in`" \
        in message


def test_source_test_under_not(app_copy):
    # Before the schema this limited the rule *to* powershell: the opposite of what it says.
    def change(document):
        document["match"]["all"][0] = {"not": {"field": "source", "equals": "powershell"}}
    _edit_rule(app_copy, EXPORT, change)
    message = _build_error(app_copy)
    assert EXPORT + ".yml: match.all[0].not.equals: a `source` test belongs at the top of `match`" in message


def test_fact_the_rules_sources_never_produce(app_copy):
    def change(document):
        document["escalate"][0]["when"] = {"field": "extra.transport_rule_ids", "nonempty": True}
    _edit_rule(app_copy, EXPORT, change)
    message = _build_error(app_copy)
    assert EXPORT + ".yml: escalate[0].when.field: `extra.transport_rule_ids` is not produced by the rule's " \
        "sources (exchange_cmdlet_log, o365, powershell, powershell_module, process), only by message_tracking" in message


def test_misspelt_operator_and_wrong_types(app_copy):
    def change(document):
        document["match"]["all"][1] = {"field": "operation", "eqals": "New-MailboxExportRequest"}
        document["risk_score"] = "high"
        document["escalate"][0]["severity"] = "hihg"
    _edit_rule(app_copy, EXPORT, change)
    message = _build_error(app_copy)
    assert "match.all[1].eqals: unknown operator `eqals`; did you mean `equals`?" in message
    assert EXPORT + ".yml: risk_score: must be a whole number from 0 to 100, not 'high'" in message
    assert "escalate[0].severity: `hihg` is not a severity" in message and "did you mean `high`?" in message


def test_misspelt_reason_placeholder(app_copy):
    def change(document):
        document["reason"] = "{actr} exported {mailbox}"
    _edit_rule(app_copy, EXPORT, change)
    assert EXPORT + ".yml: reason {actr}: `actr`: no such fact; did you mean `actor`?" in _build_error(app_copy)


def test_shipped_allowlist_row_naming_a_misspelt_rule(app_copy):
    path = app_copy / "lookups" / os.path.basename(shipped_lookup_path("t1114_shipped_processes"))
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("t1114_001_mail_file_read;", "t1114_001_mail_fle_read;", 1), encoding="utf-8")
    message = _build_error(app_copy)
    assert "%s line 2: `rules` names 't1114_001_mail_fle_read', which is not a rule id " \
        "(did you mean t1114_001_mail_file_read?)" % path.name in message


def test_open_vocabularies_stay_open():
    document = yaml.safe_load(open(os.path.join(REPO, "app", "rules", FORWARDING + ".yml"), encoding="utf-8"))
    document["match"]["all"].append({"field": "param.SomeParameterNoRuleUsedYet", "nonempty": True})
    document["match"]["all"].append({"field": "prop.AnyAuditProperty", "nonempty": False})
    document["match"]["all"][0]["in"].append("Set-SomeFutureCmdlet")
    shape = check_rule(document)
    assert shape.parameter_names["someparameternoruleusedyet"] == "SomeParameterNoRuleUsedYet"
    assert "set-somefuturecmdlet" in shape.operations


def test_every_mistake_of_a_rule_is_listed_at_once():
    document = {"id": "t1114_003_x", "title": "x", "technique": "T1114.03", "severity": "medium", "risk_score": 50,
                "description": "x", "data_sources": ["x"], "false_positives": "x", "reason": "x",
                "match": {"al": [{"field": "operation", "equals": "x"}]}, "refrences": ["x"]}
    with pytest.raises(RuleError) as refused:
        check_rule(document, Vocabulary())
    lines = str(refused.value).splitlines()
    assert any("technique: `T1114.03` is not one of" in line for line in lines)
    assert any("match.al: unknown key `al`" in line and "did you mean `all`?" in line for line in lines)
    assert any("refrences: unknown key `refrences`; did you mean `references`?" in line for line in lines)


def test_a_hand_edited_rules_json_is_checked_when_splunk_loads_it(app_copy):
    # Splunk reads the compiled rules.json; the same schema refuses a rule there, with one
    # job-inspector message, and the other rules still load.
    compile_rule_set(str(app_copy / "app" / "rules" / "rules.json"), str(app_copy))
    compiled = app_copy / "app" / "rules" / "rules.json"
    documents = json.loads(compiled.read_text())
    for document in documents:
        if document["id"] == FORWARDING:
            document["escalate"][0]["when"]["field"] = "extra.external_destinaton"
    compiled.write_text(json.dumps(documents))
    engine = Engine.load(str(app_copy))
    assert FORWARDING not in {rule.id for rule in engine.rules}
    assert len(engine.rules) == len(documents) - 1
    assert any("did you mean `extra.external_destination`?" in m for m in engine.problems.messages())


def test_operation_the_rules_sources_never_write(app_copy):
    # The graph reader's operation is declared in its table (app/normalise/graph_activity.py);
    # a misspelt one used to compile into a rule that never fires.
    rule_id = "t1114_002_graph_mail_read"

    def change(document):
        document["match"]["all"][1]["equals"] = "GraphMailReed"
    _edit_rule(app_copy, rule_id, change)
    assert rule_id + ".yml: match.all[1].equals: operation `GraphMailReed` is not one the readers of " \
        "graph_activity write (GraphInboxRuleWrite, GraphMailRead); did you mean `GraphMailRead`?" in _build_error(app_copy)


def test_process_operation_limited_to_file_events():
    document = {"match": {"all": [{"field": "source", "equals": "file"},
                                  {"field": "operation", "equals": "ProcessCreate"}]}, "_file": "r.yml"}
    with pytest.raises(RuleError) as refused:
        check_rule(document)
    assert "r.yml: match.all[1].equals: operation `ProcessCreate` is not one the readers of file write " \
        "(FileAccess, FileChange, FileCreate, ShareAccess); did you mean `FileCreate`?" in str(refused.value)


def test_cmdlet_operations_need_a_source_whose_reader_reads_cmdlets(app_copy):
    def change(document):
        document["match"]["all"][0]["in"] = ["file"]
    _edit_rule(app_copy, EXPORT, change)
    assert "operation `New-MailboxExportRequest` is not one the readers of file write" in _build_error(app_copy)
