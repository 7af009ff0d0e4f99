"""docs/architecture.md's glossary names what the code names: every name it points to is in the
source, and the record path switch takes exactly the glossary's names."""

import fnmatch
import os
import re

from tests.conftest import REPO

DOC = os.path.join(REPO, "docs", "architecture.md")


def _glossary_rows():
    with open(DOC, encoding="utf-8") as handle:
        text = handle.read()
    table = text[text.index("## Glossary"):]
    return [line.split("|")[1:-1] for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]


def _source_text():
    texts = []
    for folder in ("app", "bin", "tools"):
        for directory, _, names in os.walk(os.path.join(REPO, folder)):
            texts.extend(open(os.path.join(directory, name), encoding="utf-8").read()
                         for name in names if name.endswith(".py"))
    return "\n".join(texts)


def _files():
    found = []
    for directory, _, names in os.walk(REPO):
        if "/." in directory or "/build" in directory:
            continue
        found.extend(os.path.relpath(os.path.join(directory, name), REPO) for name in names)
    return found


def test_every_code_name_the_glossary_points_to_is_in_the_source():
    source, files = _source_text(), _files()
    for name, _what, where in _glossary_rows():
        for code in re.findall(r"`([^`]+)`", where):
            if code.endswith((".py", ".md")):
                pattern = code if "/" in code else "*" + code
                assert any(fnmatch.fnmatch(path, pattern) for path in files), (name.strip(), code)
                continue
            symbol = code.split(".")[-1].split(" ")[0]
            pattern = r"\b%s\b" % re.escape(symbol).replace(r"\*", r"\w+")
            assert re.search(pattern, source), "glossary %r points to %s, not in the source" % (
                name.strip(), code)


def test_record_path_switch_takes_the_glossary_names():
    rows = {row[0].strip(): row[1] for row in _glossary_rows()}
    for name, value in (("block record path", "block"), ("plain record path", "plain"),
                        ("splunklib record path", "splunklib")):
        assert "T1114_RECORD_PATH=%s" % value in rows[name], name
    with open(os.path.join(REPO, "bin", "t1114_command.py"), encoding="utf-8") as handle:
        command = handle.read()
    assert 'os.environ.get("T1114_RECORD_PATH", "block")' in command
    assert 'RECORD_PATH == "plain"' in command and 'RECORD_PATH == "splunklib"' in command
