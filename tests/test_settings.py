"""Thresholds from default/t1114.conf and local/t1114.conf, compiled into rule conditions."""

import os

import pytest

from app.conditions import RuleError, compile_condition
from app.event import MailEvent
from app.problems import ProblemLog
from app.settings import load_settings
from tests.conftest import REPO
from tests.splunk_shapes import raw_only


def _event(count):
    event = MailEvent("o365", "MailItemsAccessed")
    event.extra["operation_count"] = str(count)
    return event


def test_default_threshold_is_shipped():
    problems = ProblemLog()
    assert load_settings(REPO, problems)["mail_items_accessed_min_count"] == "100"
    assert problems.messages() == []


def test_local_overrides_default(tmp_path):
    for layer, value in (("default", "100"), ("local", "250")):
        (tmp_path / layer).mkdir()
        (tmp_path / layer / "t1114.conf").write_text("[thresholds]\nmail_items_accessed_min_count = %s\n" % value)
    settings = load_settings(str(tmp_path), ProblemLog())
    condition = compile_condition(
        {"field": "extra.operation_count", "gte": {"setting": "mail_items_accessed_min_count"}}, "t", settings)
    assert not condition(_event(200))
    assert condition(_event(250))


def test_setting_that_is_not_a_number_is_refused():
    with pytest.raises(RuleError, match="not a number"):
        compile_condition({"field": "extra.operation_count", "gte": {"setting": "x"}}, "t", {"x": "lots"})


def test_unknown_setting_is_named():
    with pytest.raises(RuleError, match="does not define"):
        compile_condition({"field": "extra.operation_count", "gte": {"setting": "nope"}}, "t", {})


def test_missing_or_broken_conf_is_reported_once(tmp_path):
    problems = ProblemLog()
    assert load_settings(str(tmp_path), problems) == {}
    (tmp_path / "default").mkdir()
    (tmp_path / "default" / "t1114.conf").write_text("no section header here\n")
    assert load_settings(str(tmp_path), problems) == {}
    kinds = problems.counts()
    assert "settings_missing" in kinds and "settings_unreadable:default" in kinds


def test_engine_reads_local_threshold(engine_with_lookups, tmp_path):
    engine = engine_with_lookups({})
    record = raw_only({"Operation": "MailItemsAccessed", "RecordType": 50, "UserId": "a@contoso.com",
                       "MailboxOwnerUPN": "a@contoso.com", "OperationCount": 150})
    assert "t1114_002_mail_items_accessed_bulk" in [f.rule.id for f in engine.detect(record)]
    root = str(tmp_path / "approot")  # where engine_with_lookups built the app (same tmp_path)
    os.makedirs(os.path.join(root, "local"))
    with open(os.path.join(root, "local", "t1114.conf"), "w") as handle:
        handle.write("[thresholds]\nmail_items_accessed_min_count = 1000\n")
    from app.engine import Engine
    reloaded = Engine.load(root, ProblemLog())
    assert "t1114_002_mail_items_accessed_bulk" not in [f.rule.id for f in reloaded.detect(record)]
