"""Build the installable app: stage exactly what ships, vendor splunklib, pack the tarball.

    python tools/build.py            -> build/<app_id>/ and dist/<app_id>-<version>.tar.gz

Staging leaves out tests, rule test events, caches and dotfiles; rules are compiled from
YAML to app/rules/rules.json so Splunk's Python needs no YAML library. The app's id and
version come from default/app.conf. Two builds of the same tree give byte-identical
tarballs (sorted entries, fixed owners, times and gzip header).
Needs requirements-build.txt (splunk-packaging-toolkit writes app.manifest) and pip access
to the package registry the first time (splunk-sdk is cached under .cache/).
"""

import argparse
import configparser
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from app.allowlist import (ALLOWLIST_SPECS, LOOKUP_DEFINITIONS, SITE_LOOKUP_FILES, check_rule_references,  # noqa: E402
                           load_allowlist)
from app.lookup_files import load_lookup_files  # noqa: E402
from app.problems import ProblemLog  # noqa: E402
from app.rules import COMPILED_RULES_FILE, compile_rules, read_rule_sources  # noqa: E402
from app.settings import load_settings  # noqa: E402

# Why 2.1.1: the newest splunk-sdk whose declared Python support includes 3.9, which
# commands.conf promises (python.required = 3.9, 3.13). 3.0.x requires Python >= 3.13 and
# ships a subpackage that is not 3.9 syntax. See README, "Why splunk-sdk 2.1.1".
SPLUNK_SDK = "splunk-sdk==2.1.1"
SHIPPED_DIRS = ("bin", "default", "lookups", "metadata", "static", "appserver", "README")
# The tarball's README is the admin's (packaging/README.md), not the developers' README.md,
# which runs scripts/ and tools/ the tarball does not hold: {path in the app: path in the repository}.
SHIPPED_FILES = {"README.md": "packaging/README.md", "LICENSE": "LICENSE"}
# The docs an admin who installs from file needs (the shipped README links to them); the
# developers' docs (performance.md, hardening.md: benchmarks, fuzzing, tests) stay in the repository.
SHIPPED_DOCS = ("docs/local_collection.md", "docs/remote_collection.md", "docs/soc_content.md")
CACHE = os.path.join(REPO, ".cache")
# Where a licence's full text is published, by the title line of LICENSE.
LICENSE_URIS = {"MIT License": "https://opensource.org/licenses/MIT"}
# Every shipped lookup file name ever released, with the SHA-256 of its bytes. Splunk Cloud and
# preserving deployers keep a lookup whose name did not change, so changed rows need a new name.
SHIPPED_LOOKUPS_MANIFEST = os.path.join(REPO, "tools", "shipped_lookups.json")
SHIPPED_LOOKUP_PREFIX = "t1114_shipped_"


def app_identity():
    """(id, version, label) from default/app.conf, the one place they are written."""
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(os.path.join(REPO, "default", "app.conf"))
    app_id, version = conf["package"]["id"], conf["id"]["version"]
    # Splunk reads the version from [launcher] too; the two must not drift apart.
    if conf["id"]["name"] != app_id or conf["launcher"]["version"] != version:
        raise SystemExit("default/app.conf: [id] name/version, [package] id and [launcher] version must agree")
    return app_id, version, conf["ui"]["label"]


def _ignore(directory, names):
    ignored = [n for n in names if n.startswith(".") or n == "__pycache__" or n.endswith((".pyc", ".pyo", ".test.yml"))]
    if os.path.basename(directory) == "lookups":
        # What a site edits is never in the package: a file of that name in the tarball would
        # replace the site's own on every upgrade. A developer's test rows stay on their machine.
        ignored += [n for n in names if n in SITE_LOOKUP_FILES]
    return ignored


def stage(app_dir, record_lookups=False):
    if os.path.exists(app_dir):
        shutil.rmtree(app_dir)
    os.makedirs(app_dir)
    for name in SHIPPED_DIRS:
        source = os.path.join(REPO, name)
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(app_dir, name), ignore=_ignore)
    # The site's lookups are created in lookups/ by | outputlookup (or the Lookup Editor), beside
    # the shipped rows' files.
    os.makedirs(os.path.join(app_dir, "lookups"), exist_ok=True)
    for name, source in sorted(SHIPPED_FILES.items()) + [(doc, doc) for doc in SHIPPED_DOCS]:
        os.makedirs(os.path.dirname(os.path.join(app_dir, name)), exist_ok=True)
        shutil.copy2(os.path.join(REPO, source), os.path.join(app_dir, name))
    engine_ignore = lambda d, names: _ignore(d, names) + [n for n in names if n.endswith(".yml")]  # noqa: E731
    shutil.copytree(os.path.join(REPO, "app"), os.path.join(app_dir, "app"), ignore=engine_ignore)
    compile_rule_set(os.path.join(app_dir, "app", "rules", COMPILED_RULES_FILE), record_lookups=record_lookups)
    vendor_splunklib(os.path.join(app_dir, "lib"))
    normalise_permissions(app_dir)


def compile_rule_set(target, app_root=REPO, record_lookups=False):
    """rules.json from app/rules/*.yml, once every rule satisfies the rule schema
    (app/rule_schema.py) and every shipped allowlist row names only rules that exist."""
    documents = read_rule_sources(os.path.join(app_root, "app", "rules"))
    problems = ProblemLog()
    rules = compile_rules(documents, problems, load_settings(app_root, problems))
    if problems.messages():
        raise SystemExit("build stopped, a rule does not compile:\n  " + "\n  ".join(problems.messages()))
    manifest = os.path.join(app_root, "tools", "shipped_lookups.json")
    check_shipped_allowlists(app_root, {rule.id for rule in rules},
                             manifest if os.path.exists(manifest) else SHIPPED_LOOKUPS_MANIFEST, record_lookups)
    with open(target, "w", encoding="utf-8") as handle:
        json.dump(documents, handle, indent=1, sort_keys=True)
        handle.write("\n")


def check_shipped_allowlists(app_root, rule_ids, manifest_path=None, record=False):
    """Shipped rows must load cleanly, name only existing rules, and sit in files the manifest
    knows under exactly these bytes: a site cannot fix them, and Splunk Cloud would never receive
    rows changed under a name it already has."""
    problems = ProblemLog()
    lookup_files = load_lookup_files(app_root, problems, LOOKUP_DEFINITIONS)
    rows, named = [], set()
    for spec in ALLOWLIST_SPECS:
        filename = lookup_files.filename(spec.shipped_definition)
        if filename is None:
            problems.report("undefined:" + spec.shipped_definition,
                            "default/transforms.conf defines no [%s]" % spec.shipped_definition)
            continue
        named.add(filename)
        rows.extend(load_allowlist(lookup_files.lookups_dir, spec, problems, shipped=True, filename=filename))
    check_rule_references(rows, rule_ids, problems)
    problems_seen = problems.messages()
    problems_seen += check_shipped_lookup_names(lookup_files.lookups_dir, named, manifest_path, record)
    if problems_seen:
        raise SystemExit("build stopped, a shipped allowlist row is wrong:\n  " + "\n  ".join(problems_seen))


def check_shipped_lookup_names(lookups_dir, named, manifest_path=None, record=False):
    """Sentences for every shipped lookup file that is not named by a definition, that the
    manifest does not know (unless `record`, which adds it) or whose bytes changed under a name
    the manifest knows."""
    manifest_path = manifest_path or SHIPPED_LOOKUPS_MANIFEST
    try:
        with open(manifest_path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except FileNotFoundError:
        manifest = {}
    messages, added = [], False
    present = sorted(name for name in os.listdir(lookups_dir)
                     if name.startswith(SHIPPED_LOOKUP_PREFIX) and name not in SITE_LOOKUP_FILES)
    for name in present:
        with open(os.path.join(lookups_dir, name), "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        if name not in named:
            messages.append("lookups/%s is named by no definition in default/transforms.conf; delete it (an older "
                            "version's file stays in %s) or point its definition at it" % (name, _rel(manifest_path)))
        elif name not in manifest:
            if record:
                manifest[name], added = digest, True
            else:
                messages.append("lookups/%s is not in %s; if it is a new file, record it with "
                                "`python tools/build.py --record-shipped-lookups`" % (name, _rel(manifest_path)))
        elif manifest[name] != digest:
            messages.append("lookups/%s changed, but a released version shipped that name with other rows, and "
                            "Splunk Cloud and preserving deployers keep a lookup whose name did not change: copy it to "
                            "a new dated name (%s<kind>_YYYYMMDD.csv), restore the old file or delete it, point the "
                            "definition in default/transforms.conf at the new one and record it with "
                            "`python tools/build.py --record-shipped-lookups`" % (name, SHIPPED_LOOKUP_PREFIX))
    for name in sorted(named - set(present)):
        messages.append("default/transforms.conf names lookups/%s, which does not exist" % name)
    if added:
        with open(manifest_path, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=1, sort_keys=True)
            handle.write("\n")
    return messages


def _rel(path):
    return os.path.relpath(path, REPO).replace(os.sep, "/")


def vendor_splunklib(lib_dir):
    """splunklib, unmodified, from the package registry (cached under .cache/)."""
    cached = os.path.join(CACHE, SPLUNK_SDK.replace("==", "-"))
    if not os.path.isdir(os.path.join(cached, "splunklib")):
        tmp = cached + ".partial"
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                               "--no-deps", "--no-compile", "--target", tmp, SPLUNK_SDK])
        shutil.rmtree(cached, ignore_errors=True)
        os.rename(tmp, cached)
    os.makedirs(lib_dir, exist_ok=True)
    shutil.copytree(os.path.join(cached, "splunklib"), os.path.join(lib_dir, "splunklib"), ignore=_ignore)


def normalise_permissions(app_dir):
    """No execute bits anywhere (AppInspect rejects them outside bin/, and splunkd runs
    scripts through its interpreter)."""
    for root, dirs, files in os.walk(app_dir):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def write_manifest(app_dir):
    """app.manifest from the app's conf files, by Splunk's packaging toolkit."""
    manifest = os.path.join(app_dir, "app.manifest")
    subprocess.check_call([sys.executable, "-m", "slim", "--quiet", "generate-manifest", app_dir, "-o", manifest])
    # slim appends commented-out examples after the JSON; ship the JSON alone so any JSON
    # reader (and a reviewer) can read the manifest.
    with open(manifest, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    body = json.loads("\n".join(line for line in lines if not line.lstrip().startswith("#")))
    # slim leaves the licence empty; it is the LICENSE file that ships beside the manifest.
    body["info"]["license"] = license_info(app_dir)
    with open(manifest, "w", encoding="utf-8") as handle:
        json.dump(body, handle, indent=2)
        handle.write("\n")
    os.chmod(manifest, 0o644)


def license_info(app_dir):
    """The manifest's licence: its name from the first line of the shipped LICENSE."""
    with open(os.path.join(app_dir, "LICENSE"), encoding="utf-8") as handle:
        name = next(line.strip() for line in handle if line.strip())
    return {"name": name, "text": "./LICENSE", "uri": LICENSE_URIS.get(name)}


# Every entry's time in the tarball: 2000-01-01T00:00:00Z. A fixed time (not the build's)
# is what makes the archive reproducible; not 0, which some extractors show as 1970 or warn on.
FIXED_MTIME = 946684800


def pack(app_dir, tarball):
    """A reproducible tarball: sorted entries, no './' prefix, root-owned, fixed times and
    modes, and a gzip header with neither the build time nor a file name in it."""
    top = os.path.basename(app_dir)
    os.makedirs(os.path.dirname(tarball), exist_ok=True)

    def clean(info):
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = FIXED_MTIME
        info.mode = 0o755 if info.isdir() else 0o644
        return info

    entries = [(top, app_dir)]
    for root, dirs, files in os.walk(app_dir):
        dirs.sort()
        for name in dirs + sorted(files):
            path = os.path.join(root, name)
            entries.append((os.path.join(top, os.path.relpath(path, app_dir)).replace(os.sep, "/"), path))
    with open(tarball, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as compressed, \
            tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for arcname, path in entries:
            archive.add(path, arcname=arcname, recursive=False, filter=clean)


def build(build_dir=None, dist_dir=None, package=True, record_lookups=False):
    app_id, version, _ = app_identity()
    app_dir = os.path.join(build_dir or os.path.join(REPO, "build"), app_id)
    stage(app_dir, record_lookups)
    tarball = None
    if package:
        write_manifest(app_dir)
        tarball = os.path.join(dist_dir or os.path.join(REPO, "dist"), "%s-%s.tar.gz" % (app_id, version))
        pack(app_dir, tarball)
    return app_dir, tarball


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", help="where to stage the app folder <app_id>/ (default: build/)")
    parser.add_argument("--dist-dir", help="where to write the tarball (default: dist/)")
    parser.add_argument("--stage-only", action="store_true",
                        help="stage the app folder only: no app.manifest, no tarball (needs no packaging toolkit)")
    parser.add_argument("--record-shipped-lookups", action="store_true",
                        help="add shipped lookup files new to tools/shipped_lookups.json (a new dated name for changed "
                             "shipped rows); never changes a name already recorded")
    return parser


def main():
    options = build_parser().parse_args()
    app_dir, tarball = build(options.build_dir, options.dist_dir, package=not options.stage_only,
                             record_lookups=options.record_shipped_lookups)
    print("staged  %s" % app_dir)
    if tarball:
        print("tarball %s" % tarball)


if __name__ == "__main__":
    main()
