"""What the tarball tells its admin refers only to what the tarball holds: every markdown link
and every file or folder path written as code (`docs/x.md`, `lookups/`) in a shipped .md file,
and every path anywhere in a shipped .spec file or .conf comment, names something in the
staged app (or a file the site creates: local/, the site lookups).

An admin who installs from file has only the tarball; a path to `scripts/`, `tools/` or a rule's
YAML (compiled to rules.json by the build) is a dead end for them.
"""

import os
import re
import subprocess
import sys

import pytest

from app.allowlist import SITE_LOOKUP_FILES
from tools.build import app_identity

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Every shipped doc is checked whole.
PATH_CHECK_EXEMPT = set()

MARKDOWN_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|^\s*\[[^\]]+\]:\s*(\S+)", re.MULTILINE)
FENCE = re.compile(r"^\s*(```|~~~).*?^\s*\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
INDENTED_CODE = re.compile(r"^(?: {4}|\t)(\S.*)$", re.MULTILINE)
# A path under an installed copy of the app ($SPLUNK_HOME/etc/apps/<app>/..., the deployer's
# etc/shcluster/apps/<app>/...) is a path in the app.
INSTALLED_PREFIX = re.compile(r"^.*?\bapps/([A-Za-z0-9_.-]+)/")


@pytest.fixture(scope="module")
def staged_app(tmp_path_factory):
    """The app folder as tools/build.py stages it, built by the build script as a user runs it."""
    build_dir = tmp_path_factory.mktemp("staged")
    subprocess.run([sys.executable, os.path.join(REPO, "tools", "build.py"), "--stage-only",
                    "--build-dir", str(build_dir)], check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    app_id, _, _ = app_identity()
    return str(build_dir / app_id)


def top_level_names():
    """Names that start a path in the app or the repository: the repository's top-level files
    and folders, what the build adds (lib/) and where a site writes (local/)."""
    return {name for name in os.listdir(REPO) if not name.startswith(".")} | {"lib", "local", "app.manifest"}


def written_paths(text):
    """Every word written as code (a code span, a fenced or an indented block)."""
    code = [match.group(0) for match in FENCE.finditer(text)]
    prose = FENCE.sub(" ", text)
    code += [match.group(2) for match in CODE_SPAN.finditer(prose)]
    code += INDENTED_CODE.findall(prose)
    return [word for block in code for word in block.split()]


def conf_comment_paths(text, spec):
    """Code spans and bare words of a .conf file's comments (every line of a .spec file)."""
    lines = text.splitlines() if spec else [line for line in text.splitlines() if line.lstrip().startswith("#")]
    return " ".join(lines).split()


def path_in_app(word, app_id, names):
    """The app-relative path a word names, or None when the word is not a path in the app."""
    word = word.lstrip("`'\"([{").rstrip("`'\")]},;:.!?")
    if word.startswith("./"):
        word = word[2:]
    installed = INSTALLED_PREFIX.match(word)
    if installed:
        if installed.group(1) != app_id:
            return None
        word = word[installed.end():]
    elif word.startswith(("/", "$", "\\", "~")) or "://" in word:
        return None
    first = word.split("/", 1)[0]
    if first not in names or ("/" not in word and "." not in first and first not in ("LICENSE",)):
        return None
    return word


def missing_target(path, app_dir):
    """Why a path the docs name is not in the staged app, or None when it is (or is a file the
    site creates: anything under local/, and the site lookups' files under lookups/)."""
    parts = path.rstrip("/").split("/")
    if parts[0] == "local" or (parts[0] == "lookups" and parts[-1] in SITE_LOOKUP_FILES):
        return None
    if path == "app.manifest":
        return None     # written when the tarball is packed, after staging
    if "<" in path or "*" in path:
        pattern = re.escape(path.rstrip("/"))
        pattern = pattern.replace(r"\*", "[^/]*")
        pattern = re.sub(r"<[^>]*>|\\<[^>]*\\>|\\<.*?>", "[^/]+", pattern)
        for root, dirs, files in os.walk(app_dir):
            for name in dirs + files:
                relative = os.path.relpath(os.path.join(root, name), app_dir).replace(os.sep, "/")
                if re.fullmatch(pattern, relative):
                    return None
        return "matches nothing"
    if os.path.exists(os.path.join(app_dir, *parts)):
        return None
    return "not in the package"


def shipped_doc_files(app_dir):
    found = []
    for root, dirs, files in os.walk(app_dir):
        dirs[:] = [d for d in dirs if not (root == app_dir and d == "lib")]
        for name in files:
            if name.endswith((".md", ".spec", ".conf")):
                found.append(os.path.relpath(os.path.join(root, name), app_dir).replace(os.sep, "/"))
    return sorted(found)


def dead_references(app_dir):
    app_id = os.path.basename(app_dir)
    names = top_level_names()
    dead = []
    for doc in shipped_doc_files(app_dir):
        with open(os.path.join(app_dir, doc), encoding="utf-8") as handle:
            text = handle.read()
        words = []
        if doc.endswith(".md"):
            for link in (a or b for a, b in MARKDOWN_LINK.findall(text)):
                if re.match(r"^[a-z][a-z0-9+.-]*:", link, re.IGNORECASE) or link.startswith(("#", "/")):
                    continue
                target = link.split("#", 1)[0].split("?", 1)[0]
                resolved = os.path.normpath(os.path.join(os.path.dirname(doc), target)).replace(os.sep, "/")
                if target and not os.path.exists(os.path.join(app_dir, resolved)):
                    dead.append("%s: link (%s) is not in the package" % (doc, link))
            if doc not in PATH_CHECK_EXEMPT:
                words = written_paths(text)
        else:
            words = conf_comment_paths(text, spec=doc.endswith(".spec"))
        for word in words:
            path = path_in_app(word, app_id, names)
            problem = path and missing_target(path, app_dir)
            if problem:
                dead.append("%s: `%s` %s" % (doc, path, problem))
    return sorted(set(dead))


def test_shipped_docs_refer_only_to_what_ships(staged_app):
    assert "README.md" in shipped_doc_files(staged_app)
    assert dead_references(staged_app) == []


def test_the_shipped_readme_is_the_admins(staged_app):
    with open(os.path.join(REPO, "packaging", "README.md"), encoding="utf-8") as handle:
        admin = handle.read()
    with open(os.path.join(staged_app, "README.md"), encoding="utf-8") as handle:
        assert handle.read() == admin
    # What the developers' README and docs hold that the admin's package must not.
    assert not os.path.exists(os.path.join(staged_app, "docs", "performance.md"))


def test_the_check_finds_what_a_developer_readme_would_break(staged_app, tmp_path):
    """The check is not vacuous: the repository's README (scripts/demo.sh, tools/, tests/, the
    rules' YAML files) and a conf comment naming tools/ both fail it."""
    import shutil

    copy = tmp_path / os.path.basename(staged_app)
    shutil.copytree(staged_app, str(copy))
    shutil.copy(os.path.join(REPO, "README.md"), str(copy / "README.md"))
    with open(str(copy / "default" / "macros.conf"), "a", encoding="utf-8") as handle:
        handle.write("\n# see tools/nothing_here.py\n")
    with open(str(copy / "docs" / "local_collection.md"), "a", encoding="utf-8") as handle:
        handle.write("\nRun it:\n\n    python tools/fuzz.py --cases 10\n")
    dead = "\n".join(dead_references(str(copy)))
    assert "README.md: `scripts/demo.sh` not in the package" in dead
    assert "README.md: `tests/" in dead
    assert "README.md: `app/rules/*.yml`" in dead or "README.md: `app/rules/" in dead
    assert "default/macros.conf: `tools/nothing_here.py` not in the package" in dead
    assert "docs/local_collection.md: `tools/fuzz.py` not in the package" in dead
