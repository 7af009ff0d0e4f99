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
from tests.conftest import REPO, SHARED_DATASETS, copy_app_root
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
    if os.path.isdir(SHARED_DATASETS):   # ../shared, where the copy's tests look for the public samples
        os.symlink(os.path.dirname(SHARED_DATASETS), str(tmp_path / "shared"))
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


def _pytest_with(env_changes, *args):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **env_changes)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"] + list(args), cwd=REPO,
                          capture_output=True, text=True, env=env, timeout=600)


def test_under_ci_a_missing_shared_dataset_fails_the_run_instead_of_skipping(tmp_path):
    nowhere = str(tmp_path / "no-datasets")
    skipped = _pytest_with({"CI": "", "T1114_SHARED_DATASETS": nowhere}, "tests/test_samples_hayabusa.py")
    assert skipped.returncode == 0 and "skipped" in skipped.stdout, skipped.stdout[-2000:]
    failed = _pytest_with({"CI": "true", "T1114_SHARED_DATASETS": nowhere}, "tests/test_samples_hayabusa.py")
    assert failed.returncode != 0
    assert "CI=true and %s is not there" % nowhere in failed.stdout + failed.stderr


def _code_blocks(section, subsection):
    text = section[section.index("### " + subsection):]
    return re.findall(r"```python\n(.*?)\s*```", text, re.DOTALL)


def test_adding_a_fact_as_the_readme_says(tmp_path):
    """The README's "Adding a fact" steps, done literally in a copy of the checkout: the
    reader test fails after step 1, naming the fact, and passes after step 2."""
    root = _checkout_copy(tmp_path)
    write_fact, table_field = (block.strip() for block in
                               _code_blocks(_readme_section("Adding a rule"), "Adding a fact, an operation or a source"))
    module = root / "app" / "normalise" / "graph_activity.py"
    code = module.read_text(encoding="utf-8")
    anchor = '        "request_uri": uri,\n'
    assert code.count(anchor) == 1
    module.write_text(code.replace(anchor, anchor + "        " + write_fact + "\n"), encoding="utf-8")
    check = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_reader_tables.py",
             "-k", "every_reader_reads_and_writes"]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    step_one = subprocess.run(check, cwd=str(root), capture_output=True, text=True, env=env, timeout=600)
    assert step_one.returncode != 0 and "fact request_method of graph_activity" in step_one.stdout, step_one.stdout[-2000:]
    code = module.read_text(encoding="utf-8")
    facts_anchor = '"request_uri",'
    fields_anchor = '    fields={\n'
    table_at = code.index("READER = ReaderTable(")
    table = code[table_at:]
    assert table.count(facts_anchor) == 1 and table.count(fields_anchor) == 1
    table = table.replace(facts_anchor, facts_anchor + ' "request_method",').replace(
        fields_anchor, fields_anchor + "        " + table_field + "\n")
    module.write_text(code[:table_at] + table, encoding="utf-8")
    step_two = subprocess.run(check, cwd=str(root), capture_output=True, text=True, env=env, timeout=600)
    assert step_two.returncode == 0, step_two.stdout[-2000:]
