"""The tarball a Splunk admin installs: what it holds, and what AppInspect says of it."""

import base64
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from tools.build import CACHE, SPLUNK_SDK, app_identity, build

# tox -e package sets this: there the tools must be present, elsewhere their absence is a skip.
REQUIRED = os.environ.get("T1114_REQUIRE_PACKAGE_TOOLS") == "1"


def _tool_missing(module):
    try:
        __import__(module)
    except Exception as error:  # python-magic raises ImportError when libmagic1 is absent
        return "%s is not usable here (%s)" % (module, error)
    return None


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    missing = _tool_missing("slim")
    if missing:
        if REQUIRED:
            pytest.fail(missing)
        pytest.skip(missing + "; `tox -e package` installs it")
    root = tmp_path_factory.mktemp("package")
    return build(build_dir=str(root / "build"), dist_dir=str(root / "dist"))


def test_tarball_name_and_top_folder_come_from_app_conf(package):
    app_id, version, _ = app_identity()
    _, tarball = package
    assert os.path.basename(tarball) == "%s-%s.tar.gz" % (app_id, version)
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
        manifest = json.load(archive.extractfile("%s/app.manifest" % app_id))
    assert {name.split("/")[0] for name in names} == {app_id}
    assert manifest["info"]["id"]["name"] == app_id and manifest["info"]["id"]["version"] == version


def test_tarball_ships_only_what_runs(package):
    _, tarball = package
    with tarfile.open(tarball) as archive:
        members = archive.getmembers()
    names = [m.name for m in members]
    for name in names:
        parts = name.split("/")
        assert not name.startswith("./")
        assert not any(p.startswith(".") for p in parts), name
        assert "__pycache__" not in parts and not name.endswith((".pyc", ".test.yml", ".yml")), name
        assert parts[1:2] != ["tests"] and parts[1:2] != ["tools"] and parts[1:2] != ["local"], name
    for member in members:
        if member.isfile():
            assert member.mode & 0o111 == 0, member.name
    app_id = names[0].split("/")[0]
    for required in ("bin/t1114_command.py", "default/commands.conf", "app/engine.py", "app/rules/rules.json",
                     "lib/splunklib/searchcommands/streaming_command.py", "metadata/default.meta",
                     "app/allowlists/t1114_shipped_accounts.csv", "README/t1114.conf.spec", "README.md"):
        assert "%s/%s" % (app_id, required) in names, required
    # What a site edits is never in the package, or an upgrade would overwrite it.
    assert "%s/lookups" % app_id in names
    assert [n for n in names if n.startswith("%s/lookups/" % app_id)] == []


def test_vendored_splunklib_is_byte_identical_to_the_registry_release(package):
    app_dir, _ = package
    dist_info = [d for d in os.listdir(os.path.join(CACHE, SPLUNK_SDK.replace("==", "-"))) if d.endswith(".dist-info")]
    record_path = os.path.join(CACHE, SPLUNK_SDK.replace("==", "-"), dist_info[0], "RECORD")
    checked = 0
    with open(record_path, encoding="utf-8") as handle:
        for path, digest, _ in csv.reader(handle):
            if not path.startswith("splunklib/") or not digest or path.endswith(".pyc"):
                continue
            algorithm, expected = digest.split("=", 1)
            with open(os.path.join(app_dir, "lib", path), "rb") as shipped:
                actual = base64.urlsafe_b64encode(hashlib.new(algorithm, shipped.read()).digest()).rstrip(b"=")
            assert actual.decode() == expected, path
            checked += 1
    assert checked > 20


def test_appinspect_cloud_precert_has_no_failures(package, tmp_path):
    missing = _tool_missing("splunk_appinspect") or _tool_missing("magic")
    if missing:
        if REQUIRED:
            pytest.fail(missing + " (Debian's libmagic1 is needed by python-magic)")
        pytest.skip(missing)
    _, tarball = package
    report = tmp_path / "appinspect.json"
    command = shutil.which("splunk-appinspect", path=os.path.dirname(sys.executable)) or shutil.which("splunk-appinspect")
    completed = subprocess.run([command, "inspect", tarball, "--mode", "precert", "--included-tags", "cloud",
                                "--skip-trusted-libraries-update", "--data-format", "json",
                                "--output-file", str(report)], capture_output=True, text=True, timeout=600)
    assert report.exists(), completed.stdout[-2000:] + completed.stderr[-2000:]
    summary = json.loads(report.read_text())["summary"]
    problems = []
    for group_report in json.loads(report.read_text())["reports"]:
        for group in group_report["groups"]:
            for check in group["checks"]:
                if check["result"] in ("failure", "error", "future_failure"):
                    problems.append((check["name"], [m["message"][:300] for m in check["messages"]]))
    print("AppInspect summary:", summary)
    assert (summary["failure"], summary["error"], summary["future_failure"]) == (0, 0, 0), problems
