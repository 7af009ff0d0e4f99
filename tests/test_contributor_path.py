"""The README's "Adding a rule", followed literally: its example rule and test events, put in
a copy of the app, build (schema included), fire and stay quiet as its events say, and the
docs check asks for the table row step 3 says to add, until it is added."""

import os
import re
import shutil

import yaml

from app.engine import Engine
from tests.conftest import REPO, copy_app_root
from tests.rule_docs import undocumented
from tests.rule_events import presentations
from tools.build import compile_rule_set


def _readme_section(title):
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    start = text.index("## " + title)
    return text[start:text.index("\n## ", start + 1)]


def _example():
    blocks = re.findall(r"```yaml\n(.*?)```", _readme_section("Adding a rule"), re.DOTALL)
    rule, cases = (yaml.safe_load(block) for block in blocks[:2])
    return rule, cases, blocks


def test_the_readme_example_builds_fires_and_is_asked_for_in_the_docs(tmp_path):
    rule, cases, blocks = _example()
    copy_app_root(tmp_path, parts=(("app", "rules"), ("default",), ("docs",)))
    shutil.copy(os.path.join(REPO, "README.md"), str(tmp_path / "README.md"))
    rules_dir = tmp_path / "app" / "rules"
    # Steps 1 and 2: the two files, exactly as the README writes them.
    (rules_dir / (rule["id"] + ".yml")).write_text(blocks[0], encoding="utf-8")
    (rules_dir / (rule["id"] + ".test.yml")).write_text(blocks[1], encoding="utf-8")

    compile_rule_set(str(tmp_path / "rules.json"), str(tmp_path))   # what tools/build.py runs
    engine = Engine.load(str(tmp_path))
    assert rule["id"] in {r.id for r in engine.rules}
    for case in cases["positive"]:
        for shape, record in presentations(case):
            annotated = dict(record)
            engine.annotate(annotated, use_allowlist=False)
            assert rule["id"] in annotated["t1114_rule"], (case["name"], shape)
            for field, expected in case.get("expect", {}).items():
                assert annotated[field] == expected, (case["name"], shape, field)
    for case in cases["negative"]:
        for shape, record in presentations(case):
            assert rule["id"] not in [f.rule.id for f in engine.detect(record, use_allowlist=False)], (case["name"], shape)

    # Step 3: until its row is in the README's T1114.003 table, the docs test names it.
    assert undocumented(engine.rules, str(tmp_path)) == [(rule["id"], "README.md")]
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    last_row = [line for line in readme.splitlines() if line.startswith("| `t1114_003_")][-1]
    row = "| `%s` | T1114.003 | %s | %s |" % (rule["id"], rule["title"], rule["severity"])
    (tmp_path / "README.md").write_text(readme.replace(last_row, last_row + "\n" + row, 1), encoding="utf-8")
    assert undocumented(engine.rules, str(tmp_path)) == []
