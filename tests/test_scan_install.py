"""`pip install .` gives responders a `t1114-scan` command: a wheel built from the repository,
installed into a fresh virtual environment (no system site-packages, run away from the
checkout), finds on the bundled samples exactly what the checkout's scan finds, with the
engine, compiled rules and shipped rows inside its own package and no PyYAML."""

import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from t1114_scan import cli as scan
from tests.conftest import REPO, shipped_lookup_path

SAMPLES = os.path.join(REPO, "samples", "sample_events.jsonl")
# What the wheel is built from (pyproject.toml, setup.py and MANIFEST.in name the same); copied
# so the build writes its build/ and egg-info into a temporary folder, not the checkout.
# The shipped accounts rows, by the file their definition names (it changes name with its rows).
SHIPPED_ACCOUNTS = os.path.basename(shipped_lookup_path("t1114_shipped_accounts"))
BUILD_SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "t1114_scan", "app", "default",
                 "bin/t1114_protocol", "lookups", "tools/build.py", "tools/shipped_lookups.json")


def _run(command, **options):
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, **options)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the venv's bin folder, the venv's site-packages, a folder away from the checkout)."""
    work = tmp_path_factory.mktemp("install")
    source = work / "source"
    for name in BUILD_SOURCES:
        origin, target = os.path.join(REPO, name), source / name
        if os.path.isdir(origin):
            shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
        else:
            os.makedirs(target.parent, exist_ok=True)
            shutil.copy2(origin, target)
    wheels = work / "wheels"
    code, out, err = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q",
                           "-w", str(wheels), str(source)], cwd=str(work))
    assert code == 0, err[-3000:]
    (wheel,) = [name for name in os.listdir(wheels) if name.endswith(".whl")]
    venv = work / "venv"
    code, out, err = _run([sys.executable, "-m", "venv", str(venv)])
    assert code == 0, err[-3000:]
    bin_dir = venv / "bin"
    code, out, err = _run([str(bin_dir / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                           str(wheels / wheel)], cwd=str(work))
    assert code == 0, err[-3000:]
    code, site, err = _run([str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    assert code == 0, err
    away = work / "elsewhere"
    away.mkdir()
    return bin_dir, site.strip(), away


def test_the_installed_command_finds_what_the_checkout_scan_finds(installed):
    bin_dir, _, away = installed
    code, out, err = _run([str(bin_dir / "t1114-scan"), SAMPLES], cwd=str(away))
    assert code == scan.EXIT_FINDINGS, err[-3000:]
    assert "Traceback" not in err
    assert "24 events in 1 file: 16 findings, 2 suppressed by an allowlist" in out
    assert "suppressed by %s line" % SHIPPED_ACCOUNTS in out  # the shipped rows came with it
    assert "\x1b[" not in out  # a pipe gets plain text
    code, out, err = _run([str(bin_dir / "t1114-scan"), "--format", "json", "--no-progress", SAMPLES], cwd=str(away))
    installed_rows = [json.loads(line) for line in out.splitlines()]
    checkout_out = io.StringIO()
    checkout_code = scan.main(["--format", "json", "--no-progress", SAMPLES], stdout=checkout_out, stderr=io.StringIO())
    checkout_rows = [json.loads(line) for line in checkout_out.getvalue().splitlines()]
    assert code == checkout_code == scan.EXIT_FINDINGS
    assert len(installed_rows) == 18 and installed_rows == checkout_rows


def test_the_installed_package_carries_its_engine_and_needs_no_yaml(installed):
    bin_dir, site, away = installed
    top = set(os.listdir(site))
    assert "t1114_scan" in top and "rich" in top
    assert "app" not in top and "tools" not in top and "t1114_protocol" not in top  # no name taken from others
    bundled = os.path.join(site, "t1114_scan", "_app")
    assert os.path.isfile(os.path.join(bundled, "app", "rules", "rules.json"))
    assert not [name for name in os.listdir(os.path.join(bundled, "app", "rules")) if name.endswith(".yml")]
    for name in ("default/t1114.conf", "default/transforms.conf", "lookups/" + SHIPPED_ACCOUNTS):
        assert os.path.isfile(os.path.join(bundled, name)), name
    code, out, err = _run([str(bin_dir / "python"), "-c", "import yaml"], cwd=str(away))
    assert code != 0 and "yaml" in err  # the compiled rules need no PyYAML
    code, out, err = _run([str(bin_dir / "t1114-scan"), "--help"], cwd=str(away))
    assert code == 0 and out.startswith("usage: t1114-scan") and "Exit status" in out
    assert "the ones installed with the tool" in " ".join(out.split())  # argparse wraps to the terminal's width
