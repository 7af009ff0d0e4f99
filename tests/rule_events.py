"""Reading the positive and negative test events kept beside each rule (app/rules/<id>.test.yml).

File format:

    positive:                 # each must give a finding of this rule
      - name: what it shows
        o365: {...}           # an Office 365 audit record; tried as _raw and as extracted fields
        expect: {t1114_severity: high}   # optional output values to check
      - name: ...
        record: {sourcetype: ..., ...}   # any other event, as the command receives it
    negative:                 # each must give no finding of this rule
      - name: ...
        o365: {...}  or  record: {...}

A case may say `needs: <normaliser>` (a module of app.normalise, or an alias below) when
the normaliser that reads it is built elsewhere; it is skipped until that module exists.
"""

import copy
import importlib
import os

import yaml

from tests.splunk_shapes import extracted, raw_only

RULES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "app", "rules")


# `needs` names used in .test.yml files -> the app.normalise module that provides them.
NEEDS_ALIASES = {"process_normaliser": "windows_endpoint"}


def missing_normaliser(case):
    """The module a case needs that app.normalise does not have yet, or ''."""
    needs = case.get("needs")
    if not needs:
        return ""
    module = NEEDS_ALIASES.get(needs, needs)
    try:
        importlib.import_module("app.normalise." + module)
    except ImportError:
        return module
    return ""


def rule_test_files():
    return sorted(os.path.join(RULES_DIR, n) for n in os.listdir(RULES_DIR) if n.endswith(".test.yml"))


def rule_id_of(path):
    return os.path.basename(path)[: -len(".test.yml")]


def load_cases(path):
    with open(path, encoding="utf-8") as handle:
        document = yaml.safe_load(handle) or {}
    return document


def presentations(case):
    """[(shape name, Splunk record)] for a test case."""
    if "o365" in case:
        return [("raw", raw_only(copy.deepcopy(case["o365"]))), ("extracted", extracted(copy.deepcopy(case["o365"])))]
    return [("record", copy.deepcopy(case["record"]))]


def all_cases():
    """(rule id, polarity, case) for every test event of every rule."""
    for path in rule_test_files():
        document = load_cases(path)
        for polarity in ("positive", "negative"):
            for case in document.get(polarity) or ():
                yield rule_id_of(path), polarity, case
