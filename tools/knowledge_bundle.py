"""Which files of an installed app reach the indexers in Splunk's knowledge bundle.

    python tools/knowledge_bundle.py build/t1114_email_collection     list what replicates, and its size
    python tools/knowledge_bundle.py APP --copy DEST                   also copy those files to DEST/apps/<app>/

A search head replicates a file under $SPLUNK_HOME/etc when a replication allow-list pattern matches
its path relative to etc/ and no deny-list pattern does; a .conf file allowed by a pattern whose name
starts with `refine.` must also be of a conf type `[replicationSettings:refineConf]` sets to true
(distsearch.conf.spec). Patterns are Splunk's: `...` spans folders, `*` stays inside one folder, `.`
is a literal dot, and the rest is a regular expression.

The lists applied are Splunk's shipped etc/system/default/distsearch.conf (8.2.12; 9.x spells the
stanzas replicationAllowlist / replicationDenylist with the same values), as far as an app's own
folder is concerned, plus the app's own default/distsearch.conf in both stanza spellings. The tests
start the command from such a copy and require the output of the whole app (tests/test_knowledge_bundle.py).
"""

import argparse
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app.conf_files import read_conf  # noqa: E402  (the repository's engine package)

# etc/system/default/distsearch.conf, the entries that reach into etc/apps/<app>/: bin/ and
# lookups/ whole, metadata/*.meta, and default|local/*.conf refined by conf type.
SPLUNK_DEFAULT_ALLOWLIST = {
    "refine.default": r"apps[/\\]*[/\\](default|local)[/\\]*.conf",
    "metaConf": r"apps[/\\]*[/\\]metadata[/\\]*.meta",
    "lookups": r"apps[/\\]*[/\\]lookups[/\\]...",
    "bin": r"apps[/\\]*[/\\]bin[/\\]...",
}
SPLUNK_DEFAULT_DENYLIST = {}
SPLUNK_DEFAULT_REFINE_CONF = frozenset((
    "app", "authorize", "collections", "commands", "eventtypes", "fields", "segmenters", "literals", "lookups",
    "multikv", "props", "tags", "transforms", "transactiontypes"))
ALLOW_STANZAS = ("replicationWhitelist", "replicationAllowlist")
DENY_STANZAS = ("replicationBlacklist", "replicationDenylist")
REFINE_STANZA = "replicationSettings:refineConf"


def pattern_regex(pattern):
    """A compiled regular expression for one Splunk replication pattern, matched whole."""
    out, index = [], 0
    while index < len(pattern):
        if pattern.startswith("...", index):
            out.append(".*")
            index += 3
            continue
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out.append(pattern[index:index + 2])    # an escape of the regular expression, as written
            index += 2
            continue
        out.append(r"[^/\\]*" if char == "*" else r"\." if char == "." else char)
        index += 1
    return re.compile("".join(out) + r"\Z")


class ReplicationLists:
    """Allow and deny patterns ({name: pattern}) and the conf types refined in."""

    def __init__(self, allow, deny, refine_conf):
        self.allow = {name: pattern_regex(pattern) for name, pattern in allow.items()}
        self.deny = [pattern_regex(pattern) for pattern in deny.values()]
        self.refine_conf = frozenset(refine_conf)

    def replicates(self, relative_path):
        """True when a file at this path relative to $SPLUNK_HOME/etc goes into the bundle."""
        path = relative_path.replace(os.sep, "/")
        if any(regex.match(path) for regex in self.deny):
            return False
        for name, regex in self.allow.items():
            if not regex.match(path):
                continue
            if name.startswith("refine.") and path.endswith(".conf"):
                if os.path.basename(path)[:-len(".conf")] not in self.refine_conf:
                    continue
            return True
        return False


def app_lists(app_dir, stanzas=ALLOW_STANZAS + DENY_STANZAS):
    """Splunk's default lists with the app's default/distsearch.conf added; `stanzas` limits which
    of the app's stanzas are read (to show what a Splunk reading one spelling alone replicates)."""
    allow, deny = dict(SPLUNK_DEFAULT_ALLOWLIST), dict(SPLUNK_DEFAULT_DENYLIST)
    refine = set(SPLUNK_DEFAULT_REFINE_CONF)
    path = os.path.join(app_dir, "default", "distsearch.conf")
    if os.path.exists(path):
        parser = read_conf(path)
        for stanza in parser.sections():
            if stanza in ALLOW_STANZAS and stanza in stanzas:
                allow.update(parser.items(stanza))
            elif stanza in DENY_STANZAS and stanza in stanzas:
                deny.update(parser.items(stanza))
            elif stanza == REFINE_STANZA:
                for key, value in parser.items(stanza):
                    if key.startswith("replicate."):
                        conf = key[len("replicate."):]
                        (refine.add if value.strip().lower() in ("1", "true", "yes", "t") else refine.discard)(conf)
    return ReplicationLists(allow, deny, refine)


def bundle_files(app_dir, lists=None):
    """Paths, relative to the app folder, of the app's files that reach the bundle."""
    lists = lists or app_lists(app_dir)
    app_name = os.path.basename(os.path.abspath(app_dir))
    found = []
    for root, dirs, files in os.walk(app_dir):
        dirs.sort()
        for name in sorted(files):
            relative = os.path.relpath(os.path.join(root, name), app_dir)
            if lists.replicates("/".join(("apps", app_name, relative.replace(os.sep, "/")))):
                found.append(relative)
    return found


def copy_bundle(app_dir, etc_dir, lists=None):
    """The app as a search peer unpacks it: etc_dir/apps/<app>/ holding only what replicates."""
    target = os.path.join(etc_dir, "apps", os.path.basename(os.path.abspath(app_dir)))
    for relative in bundle_files(app_dir, lists):
        destination = os.path.join(target, relative)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        shutil.copy2(os.path.join(app_dir, relative), destination)
    return target


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("app", help="an installed or staged app folder (tools/build.py --stage-only stages one)")
    parser.add_argument("--copy", metavar="DEST", help="copy what replicates to DEST/apps/<app>/")
    return parser


def main(argv=None):
    options = build_parser().parse_args(argv)
    if not os.path.isdir(options.app):
        raise SystemExit("%s is not a folder; stage the app first: python tools/build.py --stage-only" % options.app)
    files = bundle_files(options.app)
    size = sum(os.path.getsize(os.path.join(options.app, relative)) for relative in files)
    for relative in files:
        print(relative)
    print("%d files, %.1f KB reach the knowledge bundle" % (len(files), size / 1024.0), file=sys.stderr)
    if options.copy:
        print("copied to %s" % copy_bundle(options.app, options.copy), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
