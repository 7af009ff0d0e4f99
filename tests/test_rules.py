"""Every rule against the positive and negative events kept beside it (app/rules/<id>.test.yml).

Office 365 events are tried in both shapes Splunk can hand over (_raw only, extracted
fields only), which must agree.
"""

import os

import pytest
import yaml

from app.problems import ProblemLog
from app.rule_schema import check_rule
from app.rules import RuleError, compile_rules, read_rule_sources, rule_source_files
from app.settings import load_settings
from tests.conftest import REPO
from tests.rule_docs import RULE_TABLES, table_rule_ids
from tests.rule_events import RULES_DIR, all_cases, missing_normaliser, presentations, rule_id_of, rule_test_files

CASES = list(all_cases())
RULE_FILES = rule_source_files(RULES_DIR)


@pytest.mark.parametrize("path", RULE_FILES, ids=[os.path.basename(p)[:-len(".yml")] for p in RULE_FILES])
def test_rule_passes_the_schema_and_has_its_test_events_and_docs_row(path):
    """What the README's single-rule command runs first: the schema's own message for a rule
    it refuses, and a failure for a rule without its test file or its docs row."""
    name = os.path.basename(path)
    rule_id = name[:-len(".yml")]
    with open(path, encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    if isinstance(document, dict):
        document.setdefault("_file", name)
    try:
        check_rule(document)
    except RuleError as error:
        pytest.fail(str(error), pytrace=False)
    missing = []
    test_file = os.path.join(RULES_DIR, rule_id + ".test.yml")
    if not os.path.exists(test_file):
        missing.append("app/rules/%s.test.yml: missing; every rule has positive and negative test events beside it "
                       "(README, Adding a rule, step 2)" % rule_id)
    else:
        polarities = {polarity for rid, polarity, _ in CASES if rid == rule_id}
        for polarity in sorted({"positive", "negative"} - polarities):
            missing.append("app/rules/%s.test.yml: no %s events" % (rule_id, polarity))
    table = RULE_TABLES[document["technique"]]
    if rule_id not in table_rule_ids(os.path.join(REPO, table)):
        missing.append("%s: no row for %s in its %s table (README, Adding a rule, step 3)"
                       % (table, rule_id, document["technique"]))
    if missing:
        pytest.fail("\n".join(missing), pytrace=False)


def _case_id(item):
    rule_id, polarity, case = item
    return "%s-%s-%s" % (rule_id, polarity, case.get("name", "?")[:40])


def test_every_rule_has_positive_and_negative_events():
    rules = {os.path.basename(p)[:-4] for p in rule_source_files(RULES_DIR)}
    with_tests = {rule_id_of(p) for p in rule_test_files()}
    assert rules == with_tests, "rules without a .test.yml beside them: %s" % sorted(rules - with_tests)
    for rule_id in rules:
        polarities = {polarity for rid, polarity, _ in CASES if rid == rule_id}
        assert polarities == {"positive", "negative"}, rule_id


def test_rule_files_compile_without_problems():
    problems = ProblemLog()
    documents = read_rule_sources(RULES_DIR)
    rules = compile_rules(documents, problems, load_settings(REPO, problems))
    assert problems.messages() == []
    assert len(rules) == len(documents)
    for rule, document in zip(rules, documents):
        assert document["_file"] == rule.id + ".yml", "file name must be the rule id"


@pytest.mark.parametrize("item", CASES, ids=[_case_id(c) for c in CASES])
def test_rule_event(engine, item):
    rule_id, polarity, case = item
    missing = missing_normaliser(case)
    if missing:
        pytest.skip("needs app/normalise/%s.py, which is built in another branch" % missing)
    for shape, record in presentations(case):
        findings = engine.detect(record, use_allowlist=False)
        matched = [f.rule.id for f in findings]
        if polarity == "positive":
            assert rule_id in matched, "%s (%s shape): expected %s, got %s" % (case["name"], shape, rule_id, matched)
            annotated = dict(record)
            engine.annotate(annotated, use_allowlist=False)
            for field, expected in (case.get("expect") or {}).items():
                assert annotated[field] == expected, "%s (%s shape): %s" % (case["name"], shape, field)
            # Several rules may fire on one event; then the reasons come as a list.
            reasons = annotated["t1114_reason"]
            reasons = reasons if isinstance(reasons, list) else [reasons]
            assert reasons and all(r and "unknown" not in r.split(" ")[0] for r in reasons)
        else:
            assert rule_id not in matched, "%s (%s shape): %s fired" % (case["name"], shape, rule_id)


# Shapes a claim in CLAIMED_SHAPES produces: a claim no positive event of the rule is shown in
# would be a data source the tests never read.
_SHAPES_OF_CLAIM = {
    "cloud_app_events": {"cloud_app_events_raw", "cloud_app_events_columns"},
    "classic_security": {"classic_fields", "classic_raw"},
    "defender_device": {"defender_raw", "defender_columns"},
    "exchange_cmdlet_xml": {"exchange_xml_fields", "exchange_xml_raw"},
    "classic_powershell": {"classic_ps_fields", "classic_ps_raw"},
    "powershell_module": {"module_log_xml_fields", "module_log_xml_raw", "module_log_classic_fields",
                          "module_log_classic_raw"},
}


def test_every_claimed_shape_is_tested_with_a_positive_event():
    shown = {}
    for rule_id, polarity, case in CASES:
        if polarity == "positive":
            shown.setdefault(rule_id, set()).update(shape for shape, _ in presentations(case))
    for rule_id, _polarity, case in CASES:
        for claim in case["_claims"]:
            assert _SHAPES_OF_CLAIM[claim] <= shown[rule_id], (
                "%s claims %s in data_sources but no positive event is shown in it" % (rule_id, claim))


def test_a_failed_cmdlet_in_the_exchange_xml_log_gives_no_finding(engine):
    """EventID 6 in MSExchange Management: the cmdlet failed and changed nothing."""
    from tests.splunk_shapes import exchange_cmdlet_xml_shapes

    tried = 0
    for rule_id, polarity, case in CASES:
        if polarity != "positive" or "exchange_cmdlet_xml" not in case["_claims"] or "record" not in case:
            continue
        succeeded = exchange_cmdlet_xml_shapes(case["record"], event_code="1")
        failed = exchange_cmdlet_xml_shapes(case["record"], event_code="6")
        for (shape, ran), (_, did_not) in zip(succeeded, failed):
            assert rule_id in [f.rule.id for f in engine.detect(ran, use_allowlist=False)], (case["name"], shape)
            assert engine.detect(did_not, use_allowlist=False) == [], (case["name"], shape)
            tried += 1
    assert tried >= 8


def test_every_shape_of_an_event_gives_the_same_findings(engine):
    """A rule's event shown in another shape it claims (classic text, Defender row, CmdletLogs
    XML, CloudAppEvents) must give the same rules, severity, reason and destinations."""
    compared = 0
    for rule_id, _polarity, case in CASES:
        outputs = []
        for shape, record in presentations(case):
            annotated = dict(record)
            engine.annotate(annotated, use_allowlist=False)
            outputs.append((shape, tuple(str(annotated[field]) for field in (
                "t1114_rule", "t1114_severity", "t1114_reason", "t1114_destination", "t1114_external_destination"))))
        for shape, output in outputs[1:]:
            assert output == outputs[0][1], "%s / %s: %s differs from %s:\n%s\n%s" % (
                rule_id, case["name"], shape, outputs[0][0], output, outputs[0][1])
            compared += 1
    assert compared > 300
