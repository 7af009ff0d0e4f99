"""The README's contributor path, followed literally. "Adding a rule": its example rule and test
events, put in a copy of the app, build (schema included), fire and stay quiet as its events
say, and the docs check asks for the table row step 3 says to add, until it is added; the
scaffold and the single-rule command. "Adding a fact, an operation or a source": each
walkthrough's steps done in a copy of the checkout, each command giving what its step says."""

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
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


# The README's walkthroughs of "Adding a fact, an operation or a source", done literally in a
# copy of the checkout. Their code blocks are put where the steps' own words say (the anchors
# are read from the README text), and the steps' commands are run there. When an anchor is no
# longer in the code, the test fails naming the README step to update, not with a bare assert.

WALKTHROUGHS = "Adding a fact, an operation or a source"
# The reader-table tests a walkthrough's claims are about: the README's command limited to them,
# as the whole file also replays the real Windows events for each table left out (minutes).
TABLE_TESTS = "every_reader_reads_and_writes or every_field_name_written"


class Walkthrough:
    """One "#### <title>" walkthrough of the README: its numbered steps, their text and code blocks."""

    def __init__(self, title):
        section = _readme_section("Adding a rule")
        heading = "#### " + title
        if heading not in section:
            pytest.fail("README.md, %r: no walkthrough headed %r" % (WALKTHROUGHS, heading), pytrace=False)
        text = section[section.index(heading):]
        following = text.find("\n#### ", 1)
        text = text if following < 0 else text[:following]
        self.title = title
        self.heading = text.splitlines()[0]
        starts = [found for found in re.finditer(r"^(\d+)\. ", text, re.MULTILINE)]
        self.steps = {}
        for index, found in enumerate(starts):
            end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
            self.steps[int(found.group(1))] = text[found.start():end]

    def where(self, step):
        return "README.md, %r step %d" % (self.title, step)

    def fail(self, step, problem):
        pytest.fail("%s: %s" % (self.where(step), problem), pytrace=False)

    def text(self, step):
        if step not in self.steps:
            self.fail(step, "there is no such step (its steps: %s)" % sorted(self.steps))
        return self.steps[step]

    def blocks(self, step, language):
        """The step's fenced blocks of `language`, their list-item indentation taken off."""
        found = []
        for indent, lang, body in re.findall(r"^( *)```(\w*)\n(.*?)^\1```", self.text(step), re.MULTILINE | re.DOTALL):
            if lang == language:
                found.append("".join(line[len(indent):] if line.startswith(indent) else line.lstrip(" ")
                                     for line in body.splitlines(True)))
        if not found:
            self.fail(step, "no ```%s block" % language)
        return found

    def said(self, step, pattern):
        """The groups of `pattern` in the step's text (its line breaks read as spaces)."""
        found = re.search(pattern, " ".join(self.text(step).split()))
        if not found:
            self.fail(step, "its text no longer says %r" % pattern)
        return found.groups() if len(found.groups()) > 1 else found.group(1)

    def command(self, step, program):
        """The step's command that runs `program` (`python3 tools/new_rule.py`, `python3 -m pytest`)."""
        return self.said(step, r"`(%s [^`]+)`" % re.escape(program))


def _run(root, command, select=None, more=()):
    """A README command run in the copy (python3: this interpreter), stdout and stderr together;
    a pytest command limited to the tests `select` names, with `more` arguments."""
    words = shlex.split(command)
    if words[0] != "python3":
        raise AssertionError("a README command that does not start with python3: %s" % command)
    words = [sys.executable] + words[1:]
    if words[1:3] == ["-m", "pytest"]:
        words += ["-p", "no:cacheprovider"] + (["-k", select] if select else []) + list(more)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(words, cwd=str(root), capture_output=True, text=True, env=env, timeout=900)
    return done.returncode, done.stdout + done.stderr


class Missing(Exception):
    """An anchor a step names is not in the code (once)."""


def _edit(walk, step, root, path, change):
    """The file at `path` in the copy, changed by change(code) -> new code."""
    target = root / path
    if not target.exists():
        walk.fail(step, "%s does not exist" % path)
    try:
        changed = change(target.read_text(encoding="utf-8"))
    except Missing as missing:
        walk.fail(step, "%s in %s; the code moved: update the step" % (missing, path))
    target.write_text(changed, encoding="utf-8")


def _insert_after_line(anchor, addition):
    """The line holding `anchor` (once in the code), followed by `addition`."""
    def change(code):
        lines = [line for line in code.splitlines(True) if line.strip() == anchor.strip()]
        if len(lines) != 1:
            raise Missing("`%s` is not a line of its own there exactly once (%d)" % (anchor.strip(), len(lines)))
        at = code.index(lines[0]) + len(lines[0])
        return code[:at] + addition + code[at:]
    return change


def _apply_diff(diff):
    """The code with the diff's `-` lines replaced by its `+` lines (its context lines held)."""
    old, new = [], []
    for line in diff.splitlines(True):
        mark, rest = line[:1], line[1:]
        if mark in (" ", "-", "\n", ""):
            old.append(rest if mark != "\n" else "\n")
        if mark in (" ", "+", "\n", ""):
            new.append(rest if mark != "\n" else "\n")
    old, new = "".join(old), "".join(new)

    def change(code):
        if code.count(old) != 1:
            raise Missing("the lines the diff changes (from %r) are not there exactly once (%d)" % (
                old.splitlines()[0], code.count(old)))
        return code.replace(old, new)
    return change


def _in_reader_table(change):
    """change applied to the module's `READER = ReaderTable(` part only."""
    def within(code):
        if "READER = ReaderTable(" not in code:
            raise Missing("no `READER = ReaderTable(`")
        at = code.index("READER = ReaderTable(")
        return code[:at] + change(code[at:])
    return within


def _replace_once(anchor, replacement):
    def change(code):
        if code.count(anchor) != 1:
            raise Missing("`%s` is not there exactly once (%d)" % (anchor.strip(), code.count(anchor)))
        return code.replace(anchor, replacement)
    return change


def _still_new(walk, root, path, example):
    """Fails naming the walkthrough when the code already has its example (someone added it for
    real): the walkthrough then needs another example, not a second copy of this one."""
    target = root / path
    if target.exists() and example in target.read_text(encoding="utf-8"):
        walk.fail(1, "%s already has %s: the example is no longer new; give the walkthrough another one"
                  % (path, example))


def _write_rule(walk, step, root):
    """new_rule.py as the step says, then its two YAML blocks over the files it wrote; the rule id."""
    code, out = _run(root, walk.command(step, "python3 tools/new_rule.py"))
    assert code == 0, "%s: new_rule.py: %s" % (walk.where(step), out[-2000:])
    rule_text, cases_text = walk.blocks(step, "yaml")[:2]
    rule_id = yaml.safe_load(rule_text)["id"]
    assert yaml.safe_load(cases_text)["positive"] and yaml.safe_load(cases_text)["negative"]
    (root / "app" / "rules" / (rule_id + ".yml")).write_text(rule_text, encoding="utf-8")
    (root / "app" / "rules" / (rule_id + ".test.yml")).write_text(cases_text, encoding="utf-8")
    return rule_id


def _single_rule_passes(walk, step, root, rule_id):
    """The single-rule command passes, and what passed includes the rule's schema check and each
    of its test events (tests/test_rules.py: the positive ones fire, the negative ones do not)."""
    code, out = _run_single_rule_command_text(root, rule_id)
    assert code == 0, "%s: the single-rule command fails:\n%s" % (walk.where(step), out[-3000:])
    _, listed = _run_single_rule_command_text(root, rule_id, more=("--collect-only",))
    cases = yaml.safe_load((root / "app" / "rules" / (rule_id + ".test.yml")).read_text(encoding="utf-8"))
    for polarity in ("positive", "negative"):
        for case in cases[polarity]:
            event_test = "test_rule_event[%s-%s-%s]" % (rule_id, polarity, case["name"][:40])
            assert event_test in listed, "%s: the single-rule command did not run %s:\n%s" % (
                walk.where(step), event_test, listed[-2000:])
    assert "test_rule_passes_the_schema_and_has_its_test_events_and_docs_row[%s]" % rule_id in listed


def _run_single_rule_command_text(root, rule_id, more=()):
    return _run(root, _single_rule_command().replace("<id>", rule_id), more=more)


def test_adding_a_fact_as_the_readme_says(tmp_path):
    """A fact: the reader-table test fails after step 1, naming the fact, and passes after
    step 2; a rule on the fact then passes the single-rule command (it fires and stays quiet
    as its test events say)."""
    walk = Walkthrough("A fact")
    root = _checkout_copy(tmp_path)
    module = walk.said(1, r"\(`(app/normalise/\w+\.py)`\)")
    _still_new(walk, root, module, walk.blocks(1, "python")[0].strip().split(":")[0])
    _edit(walk, 1, root, module, _insert_after_line(walk.said(1, r"after `([^`]+)`:"), walk.blocks(1, "python")[0]))

    check = walk.command(3, "python3 -m pytest")
    code, out = _run(root, check, TABLE_TESTS)
    named = walk.said(3, r"fails, naming `([^`]+)`")
    assert code != 0 and named in out, "%s: without step 2 the check should fail naming %s:\n%s" % (
        walk.where(3), named, out[-2000:])

    fact, after = walk.said(2, r"add `([^`]+)` after `([^`]+)` in `facts`")
    _edit(walk, 2, root, module, _in_reader_table(_replace_once(after, after + " " + fact)))
    _edit(walk, 2, root, module, _in_reader_table(_insert_after_line("fields={", walk.blocks(2, "python")[0])))
    code, out = _run(root, check, TABLE_TESTS)
    assert code == 0, "%s: with step 2 the check should pass:\n%s" % (walk.where(3), out[-2000:])

    rule_id = _write_rule(walk, 4, root)
    assert "extra.request_method" in (root / "app" / "rules" / (rule_id + ".yml")).read_text(encoding="utf-8")
    _single_rule_passes(walk, 4, root, rule_id)


def test_adding_an_operation_as_the_readme_says(tmp_path):
    """An operation: the reader writes it (and the reader-table test names the fact it writes
    unlisted); the schema refuses a rule on it until the table names it, then the rule passes."""
    walk = Walkthrough("An operation")
    root = _checkout_copy(tmp_path)
    module = walk.said(1, r"`(app/normalise/\w+\.py)`")
    _still_new(walk, root, module, re.search(r", `(\w+)`$", walk.heading).group(1))
    for diff in walk.blocks(1, "diff"):
        _edit(walk, 1, root, module, _apply_diff(diff))
    check = walk.command(1, "python3 -m pytest")
    code, out = _run(root, check, TABLE_TESTS)
    named = walk.said(1, r"fails, naming `([^`]+)`")
    assert code != 0 and named in out, "%s: the reader-table test should name %s:\n%s" % (
        walk.where(1), named, out[-2000:])

    rule_id = _write_rule(walk, 2, root)
    code, out = _run_single_rule_command_text(root, rule_id)
    refusals = walk.said(2, r"`` (operation `[^`]+` is not one the readers of .+?) `` and `` (`[^`]+`: no such fact) ``")
    for refusal in refusals:
        assert code != 0 and refusal in " ".join(out.split()), "%s: the schema should refuse the rule with %r:\n%s" % (
            walk.where(2), refusal, out[-3000:])

    for diff in walk.blocks(3, "diff"):
        _edit(walk, 3, root, module, _apply_diff(diff))
    _single_rule_passes(walk, 3, root, rule_id)
    code, out = _run(root, walk.command(3, "python3 -m pytest"), TABLE_TESTS)
    assert code == 0, "%s: the reader-table test should pass:\n%s" % (walk.where(3), out[-2000:])


def test_adding_a_source_as_the_readme_says(tmp_path):
    """A source: the new module, its line at the end of REGISTRY, a rule in its shape; the
    registry and reader-table tests fail until they list it, then pass; the command run through
    the chunked protocol finds the rule's event."""
    walk = Walkthrough("A source")
    root = _checkout_copy(tmp_path)
    module = walk.said(1, r"`(app/normalise/\w+\.py)`")
    if (root / module).exists():
        walk.fail(1, "%s exists already: the example is no longer new; give the walkthrough another one" % module)
    (root / module).write_text(walk.blocks(1, "python")[0], encoding="utf-8")

    registry = walk.said(2, r"in `(app/normalise/__init__\.py)`")
    import_line, after = walk.said(2, r"add `([^`]+)` after `([^`]+)`")
    _edit(walk, 2, root, registry, _insert_after_line(after, import_line + "\n"))
    entry = walk.blocks(2, "python")[0]

    def last_in_registry(code):
        found = re.search(r"^REGISTRY = \($.*?^\)$", code, re.MULTILINE | re.DOTALL)
        if not found:
            raise Missing("no `REGISTRY = (` closed by a `)` line")
        at = found.end() - 1
        return code[:at] + entry + code[at:]
    _edit(walk, 2, root, registry, last_in_registry)

    rule_id = _write_rule(walk, 3, root)

    check = walk.command(4, "python3 -m pytest")
    selection = TABLE_TESTS + " or the_order_is_the_stated_one or every_event_comes_from"
    code, out = _run(root, check, selection)
    for test_name in walk.said(4, r"fails in `(\w+)` and `(\w+)`"):
        assert code != 0 and "FAILED" in out and test_name in out, "%s: before it, %s should fail:\n%s" % (
            walk.where(4), test_name, out[-3000:])
    name, entry_line = walk.said(4, r"add `([^`]+)` at the end of the list in `test_the_order_is_the_stated_one`.*?"
                                    r"and `([^`]+)` at the start of `READER_MODULES`")

    def at_end_of_order(code):
        if "def test_the_order_is_the_stated_one" not in code:
            raise Missing("no `def test_the_order_is_the_stated_one`")
        listed = code.find("== [", code.index("def test_the_order_is_the_stated_one"))
        if listed < 0:
            raise Missing("no `== [` list in `test_the_order_is_the_stated_one`")
        at = code.index("]", listed)
        return code[:at] + ", " + name + code[at:]
    _edit(walk, 4, root, "tests/test_normalise_registry.py", at_end_of_order)
    _edit(walk, 4, root, "tests/test_reader_tables.py",
          _replace_once("READER_MODULES = {", "READER_MODULES = {" + entry_line + " "))
    code, out = _run(root, check, selection)
    assert code == 0, "%s: after it, the registry and table tests should pass:\n%s" % (walk.where(4), out[-3000:])
    _single_rule_passes(walk, 4, root, rule_id)

    events_file = walk.said(5, r"save this event as `([^`]+)`")
    (root / events_file).write_text(walk.blocks(5, "json")[0], encoding="utf-8")
    code, out = _run(root, walk.command(5, "python3 tools/chunked_client.py"))
    expected = walk.said(5, r"with `([^`]+)`\.")
    assert code == 0 and expected in out, "%s: the command should print %s:\n%s" % (walk.where(5), expected, out[-3000:])
    assert expected == '"t1114_rule": "%s"' % rule_id
