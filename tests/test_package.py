"""The tarball a Splunk admin installs: what it holds, and what AppInspect says of it."""

import base64
import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

from app.allowlist import SITE_LOOKUP_FILES
from tools.build import CACHE, SPLUNK_SDK, app_identity, build
from tests.helpers import require_tools


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    require_tools("slim")
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
        # The offline scan is a tool of its own (pip install .): neither it nor its terminal library ships.
        assert "t1114_scan" not in parts and "rich" not in parts, name
        assert parts[1:2] not in (["pyproject.toml"], ["setup.py"], ["MANIFEST.in"]), name
    for member in members:
        if member.isfile():
            assert member.mode & 0o111 == 0, member.name
    app_id = names[0].split("/")[0]
    for required in ("bin/t1114_command.py", "default/commands.conf", "app/engine.py", "app/rules/rules.json",
                     "lib/splunklib/searchcommands/streaming_command.py", "metadata/default.meta",
                     "default/distsearch.conf", "README/t1114.conf.spec", "README.md"):
        assert "%s/%s" % (app_id, required) in names, required
    # lookups/ holds the shipped rows, each file named by its definition; what a site edits is never
    # in the package, or an upgrade would overwrite it.
    shipped = sorted(n.split("/")[-1] for n in names if n.startswith("%s/lookups/" % app_id))
    assert shipped and all(re.match(r"t1114_shipped_(accounts|processes|applications)_\d{8}\.csv$", n) for n in shipped)
    assert not set(shipped) & set(SITE_LOOKUP_FILES)


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
    require_tools("splunk_appinspect", "magic", why=" (Debian's libmagic1 is needed by python-magic)")
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
    warnings = sorted({check["name"] for group_report in json.loads(report.read_text())["reports"]
                       for group in group_report["groups"] for check in group["checks"]
                       if check["result"] == "warning"})
    unexplained = sorted(set(warnings) - set(EXPLAINED_WARNINGS))
    assert unexplained == [], "fix these or explain them in README.md, 'AppInspect warnings that stand'"
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md"),
              encoding="utf-8") as handle:
        readme = handle.read()
    section = readme.split("### AppInspect warnings that stand", 1)[1].split("\n## ", 1)[0]
    for name in warnings:
        assert EXPLAINED_WARNINGS[name] in section, name


# The AppInspect warnings left on purpose, each with the words that explain it in the README.
EXPLAINED_WARNINGS = {
    "check_for_python_script_existence": "Python files found",
    "check_collections_conf": "App contains collections.conf",
    "check_python_sdk_version": "Outdated Splunk SDK for Python",
}


def _sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_two_builds_of_the_same_tree_give_byte_identical_tarballs(package, tmp_path):
    """Built again, in other folders and at another time: the same bytes."""
    _, first = package
    _, second = build(build_dir=str(tmp_path / "build"), dist_dir=str(tmp_path / "dist"))
    assert os.path.basename(second) == os.path.basename(first)
    assert _sha256(second) == _sha256(first)
    with open(first, "rb") as handle:
        header = handle.read(10)
    # gzip header: magic, method, flags (no FNAME), then MTIME, which must be zero.
    assert header[:3] == b"\x1f\x8b\x08" and header[3] & 0x08 == 0 and header[4:8] == b"\x00\x00\x00\x00"
    with tarfile.open(first) as archive:
        members = archive.getmembers()
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "root", "root")}
    assert len({m.mtime for m in members}) == 1
    assert [m.name for m in members] == sorted_walk_order([m.name for m in members],
                                                          {m.name for m in members if m.isdir()})


def sorted_walk_order(names, folders):
    """The names in the order the build writes them: each folder, then its sorted folders and files
    (an empty folder, such as lookups/, is still a folder)."""
    children = {}
    for name in names:
        parent = name.rsplit("/", 1)[0] if "/" in name else None
        children.setdefault(parent, []).append(name)
    ordered = []

    def walk(folder):
        entries = sorted(children.get(folder, []), key=lambda n: (n not in folders, n))
        ordered.extend(entries)
        for entry in entries:
            if entry in folders:
                walk(entry)

    walk(None)
    return ordered


def test_manifest_licence_is_the_shipped_license(package):
    app_id, _, _ = app_identity()
    _, tarball = package
    with tarfile.open(tarball) as archive:
        manifest = json.load(archive.extractfile("%s/app.manifest" % app_id))
        license_text = archive.extractfile("%s/LICENSE" % app_id).read().decode("utf-8")
    licence = manifest["info"]["license"]
    assert licence["name"] == license_text.strip().splitlines()[0] == "MIT License"
    assert licence["text"] == "./LICENSE" and licence["uri"] == "https://opensource.org/licenses/MIT"


def _png_size(data):
    """(width, height) of a PNG whose every chunk's CRC holds and whose pixels decompress to its size."""
    import struct
    import zlib

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks = 8, {}
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        kind, body = data[offset + 4:offset + 8], data[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length:offset + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, kind
        chunks.setdefault(kind, b"")
        chunks[kind] += body
        offset += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour_type) == (8, 6)  # 8-bit RGBA
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + 4 * width)
    assert b"IEND" in chunks
    return width, height


def test_app_icons_ship_at_the_sizes_splunk_shows(package):
    app_id, _, _ = app_identity()
    _, tarball = package
    with tarfile.open(tarball) as archive:
        sizes = {name: _png_size(archive.extractfile("%s/static/%s" % (app_id, name)).read())
                 for name in ("appIcon.png", "appIcon_2x.png", "appIconAlt.png", "appIconAlt_2x.png")}
        static = [m.name for m in archive.getmembers() if m.name.startswith("%s/static/" % app_id)]
    assert sizes == {"appIcon.png": (36, 36), "appIcon_2x.png": (72, 72),
                     "appIconAlt.png": (36, 36), "appIconAlt_2x.png": (72, 72)}
    assert len(static) == 4  # AppInspect allows no subfolder and only .png/.txt/.md there


MARKDOWN_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|^\s*\[[^\]]+\]:\s*(\S+)", re.MULTILINE)
HTML_LINK = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""")


def _local_target(link):
    """The file a relative link points at, or None for a web address, an anchor or a Splunk route."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", link, re.IGNORECASE) or link.startswith(("#", "/")) or "{" in link:
        return None
    return link.split("#", 1)[0].split("?", 1)[0] or None


def test_every_link_in_what_ships_points_at_a_file_that_ships(package):
    """An admin who installs from file has only the tarball: a README link to a file left out is a dead end."""
    app_id, _, _ = app_identity()
    _, tarball = package
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
        texts = {m.name: archive.extractfile(m).read().decode("utf-8", "replace") for m in archive.getmembers()
                 if m.isfile() and m.name.endswith((".md", ".txt", ".html", ".xml"))
                 and not m.name.startswith("%s/lib/" % app_id)}
        manifest = json.load(archive.extractfile("%s/app.manifest" % app_id))
    links = []
    for name, text in texts.items():
        found = [a or b for a, b in MARKDOWN_LINK.findall(text)] if name.endswith(".md") else []
        found += HTML_LINK.findall(text)
        links += [(name, link) for link in found]
    for entry in ("license", "privacyPolicy", "releaseNotes"):
        if manifest["info"][entry]["text"]:
            links.append(("%s/app.manifest" % app_id, manifest["info"][entry]["text"]))
    assert any(name.endswith("/README.md") for name, _ in links)
    dead = []
    for name, link in links:
        target = _local_target(link)
        if target is None:
            continue
        resolved = os.path.normpath(os.path.join(os.path.dirname(name), target)).replace(os.sep, "/")
        if resolved not in names:
            dead.append("%s -> %s" % (name, link))
    assert dead == []


def test_committed_icons_are_what_tools_make_icons_draws():
    """The PNGs in static/ are reproducible from source: no hand-edited binary ships."""
    from tools.make_icons import ICONS, STATIC, icons

    drawn = icons()
    assert sorted(drawn) == sorted(name for name, _, _ in ICONS)
    for name, size, _ in ICONS:
        with open(os.path.join(STATIC, name), "rb") as handle:
            committed = handle.read()
        assert committed == drawn[name], "%s: run python tools/make_icons.py" % name
        assert _png_size(committed) == (size, size)
