import copy
import os
import sys

import tempfile

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps no example database (the tests are derandomized), and its caches go to the
# temporary folder, not to a .hypothesis/ folder left in the checkout after every run.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "t1114-hypothesis"))
settings.register_profile("t1114", database=None)
settings.load_profile("t1114")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The public sample logs the real-data tests replay (never copied into the repository).
SHARED_DATASETS = os.environ.get("T1114_SHARED_DATASETS") or os.path.join(os.path.dirname(REPO), "shared", "datasets")
# Under CI the real-data tests must run: a missing dataset fails the run instead of skipping.
IN_CI = os.environ.get("CI") == "true"
if REPO not in sys.path:
    sys.path.insert(0, REPO)
# bin/t1114_protocol (the Splunk side: chunk CSV, log handler) is imported as the command
# imports it, from the folder of bin/t1114_command.py.
if os.path.join(REPO, "bin") not in sys.path:
    sys.path.insert(1, os.path.join(REPO, "bin"))

from app.engine import Engine  # noqa: E402
from app.problems import ProblemLog  # noqa: E402


UNSIGNED_ROWS = "do not say who added them and when"


def without_unsigned(messages):
    """The problems other than "these site rows do not say who added them": tests of other faults
    write rows the short way, without added_by and added_at (tests/test_site_tuning.py tests that warning)."""
    return [message for message in messages if UNSIGNED_ROWS not in message]


def shipped_lookup_path(definition, app_root=REPO):
    """The file of shipped rows a lookup definition (t1114_shipped_processes, ...) names."""
    from app.lookup_files import load_lookup_files

    return load_lookup_files(app_root, ProblemLog(), (definition,)).path(definition)


def copy_app_root(dest, parts=(("app",), ("default",))):
    """The parts of the repository an engine or a rule build reads, copied to `dest`, with the
    shipped lookup files (never a developer's own site rows) in dest/lookups/."""
    import shutil

    from app.allowlist import ALLOWLIST_SPECS

    for part in parts:
        shutil.copytree(os.path.join(REPO, *part), os.path.join(str(dest), *part))
    if ("default",) not in parts:   # the definitions that name the shipped files
        os.makedirs(os.path.join(str(dest), "default"), exist_ok=True)
        shutil.copy(os.path.join(REPO, "default", "transforms.conf"), os.path.join(str(dest), "default"))
    lookups = os.path.join(str(dest), "lookups")
    os.makedirs(lookups, exist_ok=True)
    for spec in ALLOWLIST_SPECS:
        shutil.copy(shipped_lookup_path(spec.shipped_definition), lookups)
    return dest


def whole_reading(context):
    """A copy of an engine's normalise context without its endpoint gates (app/normalise/endpoint_gate.py):
    every endpoint event becomes a MailEvent, for tests that look at what the readers make of
    events, not only at the findings (tests/test_endpoint_gate.py holds the two to each other)."""
    whole = copy.copy(context)
    whole.endpoint_gates = {}
    return whole


@pytest.fixture(scope="session")
def engine():
    """The engine as the repository's rules and shipped lookups make it."""
    return Engine.load(REPO)


@pytest.fixture(scope="session")
def built_app(tmp_path_factory):
    """The app staged exactly as it ships (splunklib vendored, rules compiled), no tarball."""
    from tools.build import build

    app_dir, _ = build(build_dir=str(tmp_path_factory.mktemp("build")), package=False)
    return app_dir


@pytest.fixture()
def engine_with_lookups(tmp_path):
    """Engine over the repository's rules and shipped allowlists and the site lookups the test
    writes into lookups/: make(files). The first call builds tmp_path/approot (tests edit files
    there); later calls build their own folders, so one test can compare two engines."""
    import shutil

    made = []

    def make(files):
        root = tmp_path / ("approot%d" % len(made) if made else "approot")
        made.append(root)
        # Rules read thresholds from default/t1114.conf, the definitions name the shipped files.
        copy_app_root(root, parts=(("app",),))
        shutil.copy(os.path.join(REPO, "default", "t1114.conf"), str(root / "default" / "t1114.conf"))
        for name, text in files.items():
            (root / "lookups" / name).write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        return Engine.load(str(root), ProblemLog())

    return make


def missing_shared_data(what):
    """Skips the test that needs `what` from the shared datasets; under CI=true, fails it."""
    message = "%s is not in %s" % (what, SHARED_DATASETS)
    if IN_CI:
        pytest.fail(message + "; under CI=true the real-data tests must run, not skip", pytrace=False)
    pytest.skip(message)


def pytest_sessionstart(session):
    if IN_CI and not os.path.isdir(SHARED_DATASETS):
        raise pytest.UsageError("CI=true and %s is not there: the real-data tests would be skipped. Put the "
                                "public sample logs there (see /work/shared/DATA.md) or set T1114_SHARED_DATASETS."
                                % SHARED_DATASETS)


def shared_datasets():
    if os.path.isdir(SHARED_DATASETS):
        return SHARED_DATASETS
    missing_shared_data("the public-sample folder")
