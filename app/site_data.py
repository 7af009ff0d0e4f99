"""Everything a site sets, read once when a search starts: t1114.conf, the overrides lookup, the
allowlists (site and shipped rows) and the organisation's domains, each from the file its lookup
definition names, plus a warning for t1114 lookup files that sit in another app and are not read."""

import os

from .allowlist import (LOOKUP_DEFINITIONS, ORG_DOMAINS, ORG_DOMAINS_FILE, SITE_LOOKUP_FILES, load_allowlists,
                        load_org_domains)
from .lookup_files import load_lookup_files
from .settings import load_site_config

APP_FOLDER_NAMES = ("apps",)      # $SPLUNK_HOME/etc/apps, and apps/ inside a knowledge bundle
USERS_FOLDER = "users"            # $SPLUNK_HOME/etc/users/<user>/<app>/lookups: a user's private lookups


class SiteData:
    __slots__ = ("config", "allowlist_rows", "org_domains", "lookup_files")

    def __init__(self, config, allowlist_rows, org_domains, lookup_files):
        self.config = config
        self.allowlist_rows = allowlist_rows
        self.org_domains = org_domains
        self.lookup_files = lookup_files


def load_site_data(app_root, problems):
    lookup_files = load_lookup_files(app_root, problems, LOOKUP_DEFINITIONS)
    config = load_site_config(app_root, problems, lookup_files)
    rows = load_allowlists(lookup_files, problems)
    domains = load_org_domains(lookup_files.lookups_dir, problems,
                               lookup_files.filename(ORG_DOMAINS, ORG_DOMAINS_FILE))
    report_foreign_lookups(app_root, problems)
    return SiteData(config, rows, domains, lookup_files)


def foreign_lookup_files(app_root):
    """Paths of t1114 site lookup files in other apps' lookups/ folders and in users' private
    ones. `| outputlookup t1114_allowlist_accounts` run from another app before the file exists in
    this one creates it there; the command never reads it, because whoever may write to that app
    (a power user in Search & Reporting) could otherwise silence detections."""
    app_root = os.path.abspath(app_root)
    apps_dir, own = os.path.split(app_root)
    etc_dir = os.path.dirname(apps_dir)
    found = []
    if os.path.basename(apps_dir) not in APP_FOLDER_NAMES:
        return found    # not installed in an apps folder (a test copy, the offline scan's --app)
    for folder in _subfolders(apps_dir):
        if os.path.basename(folder) != own:
            found.extend(_site_files_in(os.path.join(folder, "lookups")))
    # A user's private copy, made in this app with `| outputlookup create_context=user`: one
    # folder per user to look at, not every app of every user, since this runs at every search start.
    for user in _subfolders(os.path.join(etc_dir, USERS_FOLDER)):
        found.extend(_site_files_in(os.path.join(user, own, "lookups")))
    return sorted(found)


def _subfolders(path):
    try:
        with os.scandir(path) as entries:
            return [entry.path for entry in entries if entry.is_dir()]
    except OSError:
        return []


def _site_files_in(lookups):
    return [os.path.join(lookups, name) for name in SITE_LOOKUP_FILES if os.path.isfile(os.path.join(lookups, name))]


def report_foreign_lookups(app_root, problems):
    found = foreign_lookup_files(app_root)
    if not found:
        return
    etc_dir = os.path.dirname(os.path.dirname(os.path.abspath(app_root)))
    shown = ", ".join(os.path.relpath(path, etc_dir).replace(os.sep, "/") for path in found[:5])
    more = " and %d more" % (len(found) - 5) if len(found) > 5 else ""
    problems.report("lookup_foreign",
                    "%s%s: t1114 lookup file(s) in another app's or a user's folder, which the t1114 command does not "
                    "read (only administrators may change what silences a detection). To use their rows, run "
                    "`| inputlookup <name> | outputlookup <name>` from the T1114 Email Collection app as an administrator, "
                    "then delete the other copy." % (shown, more))
