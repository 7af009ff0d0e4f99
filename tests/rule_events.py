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

Each case is also shown in every other shape its rule's `data_sources` claim (CLAIMED_SHAPES
below: classic WinEventLog, Defender XDR rows, CloudAppEvents, CmdletLogs XML, the 4103 module
log of a one-cmdlet call: tests/powershell_module_shapes.py) when the event
can be written in that shape; tests/test_rules.py requires the same findings in all of them.

A case may say `needs: <normaliser>` (a module of app.normalise, or an alias below) when
the normaliser that reads it is built elsewhere; it is skipped until that module exists.
"""

import copy
import importlib
import os

import yaml

from tests.powershell_module_shapes import module_log_shapes
from tests.splunk_shapes import (classic_powershell_shapes, classic_security_shapes, cloud_app_events_shapes, defender_device_shapes,
                                  exchange_cmdlet_xml_shapes, extracted, raw_only)

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


# A rule's `data_sources` naming one of these claims it reads that shape too; every test event
# of the rule that can be shown in that shape is then tested in it as well.
CLAIMED_SHAPES = (
    ("CloudAppEvents", "cloud_app_events"),
    ("WinEventLog:Security (classic", "classic_security"),
    ("DeviceProcessEvents", "defender_device"),
    ("DeviceFileEvents", "defender_device"),
    ("XmlWinEventLog:MSExchange Management", "exchange_cmdlet_xml"),
    ("WinEventLog:Microsoft-Windows-PowerShell/Operational (classic", "classic_powershell"),
    ("PowerShell module logging (EventID 4103", "powershell_module"),
)
_CONVERTERS = {
    "classic_security": classic_security_shapes,
    "defender_device": defender_device_shapes,
    "exchange_cmdlet_xml": exchange_cmdlet_xml_shapes,
    "classic_powershell": classic_powershell_shapes,
    "powershell_module": module_log_shapes,
}


def claimed_shapes(rule_id):
    """The extra shapes a rule's `data_sources` claim (CLAIMED_SHAPES), in a stable order."""
    path = os.path.join(RULES_DIR, rule_id + ".yml")
    with open(path, encoding="utf-8") as handle:
        sources = (yaml.safe_load(handle) or {}).get("data_sources") or ()
    text = " ".join(str(item) for item in sources)
    return tuple(dict.fromkeys(shape for token, shape in CLAIMED_SHAPES if token in text))


def presentations(case):
    """[(shape name, Splunk record)] for a test case: its own shape(s), then each shape its rule
    claims (`_claims`, set by all_cases) that the event can be shown in."""
    claims = case.get("_claims", ())
    if "o365" in case:
        shapes = [("raw", raw_only(copy.deepcopy(case["o365"]))), ("extracted", extracted(copy.deepcopy(case["o365"])))]
        if "cloud_app_events" in claims:
            shapes.extend(cloud_app_events_shapes(copy.deepcopy(case["o365"])))
        return shapes
    shapes = [("record", copy.deepcopy(case["record"]))]
    for claim in claims:
        converter = _CONVERTERS.get(claim)
        if converter is not None:
            shapes.extend(converter(copy.deepcopy(case["record"])))
    return shapes


def all_cases():
    """(rule id, polarity, case) for every test event of every rule."""
    for path in rule_test_files():
        document = load_cases(path)
        claims = claimed_shapes(rule_id_of(path))
        for polarity in ("positive", "negative"):
            for case in document.get(polarity) or ():
                case["_claims"] = claims
                yield rule_id_of(path), polarity, case
