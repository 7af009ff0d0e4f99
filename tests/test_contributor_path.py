"""The README's "Adding a rule", followed literally: its example rule and test events, put in
a copy of the app, build (schema included), fire and stay quiet as its events say, and the
docs check asks for the table row step 3 says to add, until it is added."""

import os
import re
import shlex
import shutil
import subprocess
import sys

import yaml

from app.engine import Engine
from tests.conftest import REPO
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
    for part in (("app", "rules"), ("app", "allowlists"), ("default",), ("docs",)):
        shutil.copytree(os.path.join(REPO, *part), str(tmp_path.joinpath(*part)))
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


def _single_rule_command():
    """The README's single-rule command (Adding a rule, step 4), as written there."""
    found = re.search(r"```\n\s*(python3 -m pytest [^\n]*<id>[^\n]*)\n", _readme_section("Adding a rule"))
    assert found, "the README's single-rule command"
    return found.group(1)


def _checkout_copy(tmp_path):
    """The repository's files (no .git, no environments) in tmp_path/repo."""
    target = tmp_path / "repo"
    shutil.copytree(REPO, str(target), ignore=shutil.ignore_patterns(
        ".git", ".tox", ".venv", "build", "dist", "__pycache__", ".cache"))
    return target


def _run_single_rule_command(root, rule_id):
    command = shlex.split(_single_rule_command().replace("<id>", rule_id))
    assert command[:3] == ["python3", "-m", "pytest"]
    command = [sys.executable] + command[1:] + ["-p", "no:cacheprovider"]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(command, cwd=str(root), capture_output=True, text=True, env=env, timeout=600)


def test_the_scaffold_writes_a_rule_the_single_rule_command_passes_and_each_missing_piece_fails(tmp_path):
    """tools/new_rule.py writes the rule, its test events and its docs row; the README's
    single-rule command passes on them, and fails (naming what to fix) with a mistake the
    schema refuses, without the test file, or without the docs row."""
    root = _checkout_copy(tmp_path)
    rule_id = "t1114_002_scaffolded"
    scaffold = subprocess.run([sys.executable, "tools/new_rule.py", rule_id], cwd=str(root), capture_output=True,
                              text=True, timeout=120)
    assert scaffold.returncode == 0, scaffold.stderr
    rules = root / "app" / "rules"
    assert (rules / (rule_id + ".yml")).exists() and (rules / (rule_id + ".test.yml")).exists()
    assert "| `%s` |" % rule_id in (root / "docs" / "remote_collection.md").read_text(encoding="utf-8")
    passed = _run_single_rule_command(root, rule_id)
    assert passed.returncode == 0, passed.stdout[-3000:]

    rule_path = rules / (rule_id + ".yml")
    good = rule_path.read_text(encoding="utf-8")
    rule_path.write_text(good.replace("field: extra.external_destination", "field: extra.external_destinaton"),
                         encoding="utf-8")
    refused = _run_single_rule_command(root, rule_id)
    assert refused.returncode != 0
    assert "`extra.external_destinaton`: no such fact; did you mean `extra.external_destination`?" in refused.stdout
    rule_path.write_text(good, encoding="utf-8")

    test_file = rules / (rule_id + ".test.yml")
    cases = test_file.read_text(encoding="utf-8")
    test_file.unlink()
    untested = _run_single_rule_command(root, rule_id)
    assert untested.returncode != 0
    assert "app/rules/%s.test.yml: missing" % rule_id in untested.stdout
    test_file.write_text(cases, encoding="utf-8")

    docs = root / "docs" / "remote_collection.md"
    docs.write_text("\n".join(line for line in docs.read_text(encoding="utf-8").splitlines()
                              if "`%s`" % rule_id not in line) + "\n", encoding="utf-8")
    undocumented_run = _run_single_rule_command(root, rule_id)
    assert undocumented_run.returncode != 0
    assert "docs/remote_collection.md: no row for %s" % rule_id in undocumented_run.stdout
