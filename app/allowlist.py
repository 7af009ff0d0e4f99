"""Allowlists and the organisation's domains: the site's lookups plus the rows the app ships.

Both are Splunk lookups in the app's lookups/ folder, read through their definitions
(app/lookup_files.py), so `| inputlookup` shows an analyst exactly the rows the command applies.
Site rows live in files the package never contains (t1114_allowlist_*.csv, t1114_org_domains.csv),
so no install, upgrade or deployer push overwrites them. Shipped rows live in dated files
(t1114_shipped_*_<date>.csv, definitions t1114_shipped_*): a version that changes them ships a new
name, because Splunk Cloud and preserving deployers keep a lookup whose name did not change. Each
shipped row has a `row_id` a site can switch off (t1114_overrides or local/t1114.conf). A row that
cannot be used is reported (file, line, problem) and skipped; the rest apply. Files are read once
per process.
"""

import calendar
import csv
import difflib
import functools
import io
import os
import time

from .wildcard import MAX_PATTERN_CHARS, PathWildcard, Wildcard
from .windows_path import split_root, without_prefix

DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")
MAX_ROWS = 100000
# The false-positive classes a row can name (column `class`); the Allowlist Audit filters on it.
ROW_CLASSES = ("backup", "migration", "av_edr", "ediscovery", "archiving", "other")
# Who added a site row and when: every row a site adds should say (README, "Adding a row").
PROVENANCE_COLUMNS = ("added_by", "added_at")


class AllowlistSpec:
    """One allowlist lookup: which CSV columns are matched against which event facts."""

    def __init__(self, definition, shipped_definition, keys, description, required=(), anchored=(), optional=(),
                 paths=()):
        self.definition = definition      # the site's lookup definition (transforms.conf)
        self.filename = definition + ".csv"   # its file in lookups/, never in the package
        self.shipped_definition = shipped_definition  # the definition of the app's own rows
        self.keys = keys                  # {column: MailEvent field path}, all given ones must match
        self.description = description
        self.required = required          # key columns every row must fill
        self.anchored = anchored          # key columns that may not start with a wildcard
        self.optional = frozenset(optional)  # key columns added later: files written before them still load
        self.paths = frozenset(paths)     # key columns holding Windows paths (PathWildcard: `*` within one folder)

    @property
    def columns(self):
        """The columns a file is written with (class and source are optional extras)."""
        return tuple(k for k in self.keys if k not in self.optional) + ("rules", "valid_from", "valid_until", "reason")

    @property
    def required_columns(self):
        """The columns without which no row can be read. `| outputlookup` writes only the fields
        its results have, so a file written without a window or a rule list still loads."""
        return tuple(k for k in self.keys if k not in self.optional) + ("reason",)


ACCOUNTS = AllowlistSpec(
    "t1114_allowlist_accounts", "t1114_shipped_accounts", {"account": "actor", "mailbox": "mailbox", "grantee": "param.user"},
    "accounts whose actions are legitimate (service, migration and e-discovery accounts); `mailbox` and "
    "`grantee` narrow a row to actions on that mailbox or granting that user",
    optional=("mailbox", "grantee"))

# A process is legitimate by where it runs from and what it is called, together: a name
# alone is what a masquerading binary copies. Account and host narrow a row further.
PROCESSES = AllowlistSpec(
    "t1114_allowlist_processes", "t1114_shipped_processes",
    {"process_path": "extra.process_path", "process_name": "extra.process_name",
     "account": "extra.account_name", "host": "dest"},
    "processes that legitimately read or write mail stores (mail clients, AV/EDR, backup, migration)",
    required=("process_path", "process_name"), anchored=("process_path",), optional=("account", "host"),
    paths=("process_path",))

APPLICATIONS = AllowlistSpec(
    "t1114_allowlist_applications", "t1114_shipped_applications", {"app_id": "extra.calling_app_id"},
    "applications (AppId or ClientAppId) that read mail legitimately: archiving, compliance, backup")

ALLOWLIST_SPECS = (ACCOUNTS, PROCESSES, APPLICATIONS)
ORG_DOMAINS = "t1114_org_domains"
ORG_DOMAINS_FILE = ORG_DOMAINS + ".csv"
OVERRIDES = "t1114_overrides"        # read by app/settings.py
OVERRIDES_FILE = OVERRIDES + ".csv"
# What a site edits: the build never packages a file of these names.
SITE_LOOKUP_FILES = tuple(spec.filename for spec in ALLOWLIST_SPECS) + (ORG_DOMAINS_FILE, OVERRIDES_FILE)
# Every definition the command reads (transforms.conf names their files).
LOOKUP_DEFINITIONS = (tuple(spec.definition for spec in ALLOWLIST_SPECS)
                      + tuple(spec.shipped_definition for spec in ALLOWLIST_SPECS) + (ORG_DOMAINS, OVERRIDES))


class AllowlistRow:
    __slots__ = ("filename", "line", "keys", "rules", "valid_from", "valid_until", "reason", "text",
                 "row_id", "row_class")

    def __init__(self, filename, line, keys, rules, valid_from, valid_until, reason, text, row_id="", row_class=""):
        self.filename = filename
        self.line = line
        self.keys = keys                  # ((field path, Wildcard), ...)
        self.rules = rules                # (Wildcard, ...) or () for every rule
        self.valid_from = valid_from      # epoch seconds or None
        self.valid_until = valid_until
        self.reason = reason
        self.text = text                  # every column that scopes the row, as column=value
        self.row_id = row_id              # shipped rows only: what local/t1114.conf switches off
        self.row_class = row_class        # backup, migration, av_edr, ediscovery, archiving, other or ""

    def applies(self, rule_id, event, when):
        if self.rules and not any(pattern.matches(rule_id) for pattern in self.rules):
            return False
        if self.valid_from is not None and when < self.valid_from:
            return False
        if self.valid_until is not None and when > self.valid_until:
            return False
        for path, pattern in self.keys:
            value = event.value(path)
            if not isinstance(value, str) or not pattern.matches(value):
                return False
        return True

    def describe(self):
        """How a suppressed finding names the row that suppressed it."""
        return "%s: %s" % (self.label(), self.reason)

    def label(self):
        """File, line, shipped row id and every column that scoped the row: two rows that differ
        only in their window are told apart."""
        where = "%s line %d" % (self.filename, self.line)
        if self.row_id:
            where += " row %s" % self.row_id
        return "%s (%s)" % (where, self.text)


def parse_time(text, end_of_day):
    """Lookup dates are UTC; a bare date in valid_until covers that whole day."""
    for fmt in DATE_FORMATS:
        try:
            parsed = time.strptime(text, fmt)
        except ValueError:
            continue
        seconds = calendar.timegm(parsed)
        if fmt == "%Y-%m-%d" and end_of_day:
            seconds += 86399
        return seconds
    raise ValueError(text)


def read_lookup_csv(path, problems, folder="lookups", missing_ok=False):
    """(header, [(line number, row dict)]) or (None, []) when the file cannot be used.

    A site lookup that does not exist yet (a fresh install: the package ships none) or is
    empty (`| outputlookup` of no results writes a zero-length file) has no rows, silently."""
    name = os.path.basename(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        if not missing_ok:
            problems.report("lookup_missing:" + name, "%s/%s is missing; its rows do not apply." % (folder, name))
        return None, []
    except OSError as error:
        problems.report("lookup_missing:" + name, "%s/%s could not be read (%s); its rows do not apply."
                        % (folder, name, error.strerror or error))
        return None, []
    if not data.strip():
        return None, []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's "Unicode text": readable, but Splunk's own lookup commands expect UTF-8.
        problems.report("lookup_encoding:" + name,
                        "%s/%s is saved as UTF-16; it was read, but save it as UTF-8 (CSV UTF-8) so "
                        "Splunk's | inputlookup reads it too." % (folder, name))
        text = data.decode("utf-16", "replace")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            problems.report("lookup_encoding:" + name,
                            "%s/%s is not UTF-8 (byte %d); undecodable bytes were replaced." % (folder, name, error.start))
            text = data.decode("utf-8-sig", "replace")
    if "\x00" in text:
        # Python 3.9's csv stops at the first NUL byte; the rows after it would be lost.
        problems.report("lookup_nul:" + name, "%s/%s contains NUL bytes; they were removed." % (folder, name))
        text = text.replace("\x00", "")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [column.strip().lower() for column in (reader.fieldnames or [])]
    reader.fieldnames = header
    rows = []
    previous_line = reader.line_num
    try:
        for row in reader:
            first_line, previous_line = previous_line + 1, reader.line_num
            if len(rows) >= MAX_ROWS:
                problems.report("lookup_too_long:" + name, "%s/%s has more than %d rows; the rest were ignored." % (folder, name, MAX_ROWS))
                break
            if previous_line > first_line and any("\n" in value for value in row.values() if isinstance(value, str)):
                # An unclosed quote swallows the lines after it into one cell: say so, and
                # where, rather than let those rows silently disappear.
                problems.report("lookup_quote:%s:%d" % (name, first_line),
                                "%s/%s line %d: a quote opened on this line is not closed, so lines %d-%d were "
                                "read as one row; that row was skipped. Close the quote." % (
                                    folder, name, first_line, first_line, previous_line))
                continue
            rows.append((first_line, row))
    except csv.Error as error:
        problems.report("lookup_csv:" + name, "%s/%s line %d: %s; later rows were ignored." % (folder, name, reader.line_num, error))
    return header, rows


def lookup_cell(row, column):
    value = row.get(column)
    if isinstance(value, list):  # extra cells beyond the header
        value = ",".join(value)
    return (value or "").strip()


def load_allowlist(directory, spec, problems, shipped=False, seen=None, filename=None):
    """The usable rows of one allowlist file in `directory`: the site's or, with `shipped`, the
    app's own (where every row needs a `row_id`). `filename` is the file its definition names
    (the site's default name when not given). `seen` spots repeats across files."""
    if filename is None:
        if shipped:
            raise ValueError("a shipped allowlist is read from the file its definition names")
        filename = spec.filename
    folder = "lookups"
    header, rows = read_lookup_csv(os.path.join(directory, filename), problems, folder, missing_ok=not shipped)
    if header is None:
        return []
    columns = (("row_id",) if shipped else ()) + spec.columns
    missing = [column for column in (("row_id",) if shipped else ()) + spec.required_columns if column not in header]
    if missing:
        problems.report("lookup_header:" + filename,
                        "%s/%s lacks the column(s) %s (expected %s); the file was ignored."
                        % (folder, filename, ", ".join(missing), ",".join(columns)))
        return []
    loaded = []
    seen = {} if seen is None else seen
    ids = {}
    unsigned = []
    for line, row in rows:
        if row.get(None):
            problems.report("lookup_row:%s:%d" % (filename, line),
                            "%s/%s line %d: more cells than columns; the extra cells were ignored." % (folder, filename, line))
        try:
            allowed = _allowlist_row(spec, filename, line, row, shipped)
        except ValueError as error:
            problems.report("lookup_row:%s:%d" % (filename, line),
                            "%s/%s line %d: %s; the row was skipped." % (folder, filename, line, error))
            continue
        if allowed.row_class not in ROW_CLASSES and allowed.row_class:
            problems.report("lookup_class:%s:%d" % (filename, line),
                            "%s/%s line %d: `class` is %r, not one of %s; the row still applies." % (
                                folder, filename, line, allowed.row_class, ", ".join(ROW_CLASSES)))
        if shipped:
            if allowed.row_id in ids:
                problems.report("lookup_row_id:%s:%d" % (filename, line),
                                "%s/%s line %d uses row_id %s, as line %d does; switching it off switches off both."
                                % (folder, filename, line, allowed.row_id, ids[allowed.row_id]))
            ids.setdefault(allowed.row_id, line)
        elif not all(lookup_cell(row, column) for column in PROVENANCE_COLUMNS):
            unsigned.append(line)
        _report_repeat(allowed, seen, problems)
        loaded.append(allowed)
    report_unsigned(problems, folder, filename, unsigned)
    return loaded


def report_unsigned(problems, folder, filename, lines):
    """One warning for the rows of a site file that do not say who added them and when: a row
    that silences detections must be traceable to a person (README, "Adding a row")."""
    if not lines:
        return
    shown = ", ".join(str(line) for line in lines[:10]) + (" and %d more" % (len(lines) - 10) if len(lines) > 10 else "")
    problems.report("lookup_unsigned:" + filename,
                    "%s/%s: the rows on line(s) %s do not say who added them and when (columns %s); they still "
                    "apply, but fill those columns so the Allowlist Audit can name who silenced what."
                    % (folder, filename, shown, " and ".join(PROVENANCE_COLUMNS)))


def load_allowlists(lookup_files, problems):
    """Site rows then shipped rows of every allowlist, from the files their definitions name
    (`lookup_files`, app/lookup_files.py): a site's own row is named first."""
    site, shipped = [], []
    for spec in ALLOWLIST_SPECS:
        seen = {}
        site.extend(load_allowlist(lookup_files.lookups_dir, spec, problems, seen=seen,
                                   filename=lookup_files.filename(spec.definition, spec.filename)))
        shipped_file = lookup_files.filename(spec.shipped_definition)
        if shipped_file is None:
            problems.report("lookup_undefined:" + spec.shipped_definition,
                            "transforms.conf defines no lookup %s; the allowlist rows the app ships for %s do not "
                            "apply. Restore default/transforms.conf from the package."
                            % (spec.shipped_definition, spec.definition))
            continue
        shipped.extend(load_allowlist(lookup_files.lookups_dir, spec, problems, shipped=True, seen=seen,
                                      filename=shipped_file))
    return site + shipped


def switch_off_shipped(rows, row_ids, problems, switched_on=()):
    """The rows without the shipped ones the site switches off (`row_ids`: (id, where), from
    t1114.conf or t1114_overrides). An id no shipped row has, in either list, is reported with the
    closest one; the rest still apply."""
    shipped_ids = {row.row_id for row in rows if row.row_id}
    off = set()
    for row_id, where in list(row_ids) + list(switched_on):
        if row_id in shipped_ids:
            off.add(row_id)
            continue
        problems.report("shipped_row_unknown:" + row_id,
                        "%s names shipped allowlist row %r, which no shipped row has%s; nothing was switched "
                        "for it." % (where, row_id, closest_hint(row_id, shipped_ids)))
    off -= {row_id for row_id, _ in switched_on}   # t1114.conf's list no longer holds them (app/settings.py)
    return [row for row in rows if not row.row_id or row.row_id not in off]


def check_rule_references(rows, rule_ids, problems):
    """Report every row whose `rules` names a rule that does not exist (with the closest id).
    The row still applies to the rules it names that do exist."""
    rule_ids = sorted(rule_ids)
    names_a_rule = {}   # pattern text -> bool: a big file repeats the same few patterns
    for row in rows:
        for pattern in row.rules:
            known = names_a_rule.get(pattern.pattern)
            if known is None:
                known = names_a_rule[pattern.pattern] = any(pattern.matches(rule_id) for rule_id in rule_ids)
            if known:
                continue
            problems.report("lookup_rule:%s:%d:%s" % (row.filename, row.line, pattern.pattern),
                            "%s%s line %d: `rules` names %r, which is not a rule id%s; the row applies only to the "
                            "other rules it names." % (_folder(row), row.filename, row.line, pattern.pattern,
                                                        closest_hint(pattern.pattern, rule_ids)))


def closest_hint(name, known):
    """' (did you mean x?)' for the nearest known name, or ''."""
    close = difflib.get_close_matches(name.strip().lower(), sorted(known), n=1, cutoff=0.6)
    return " (did you mean %s?)" % close[0] if close else ""


def _report_repeat(row, seen, problems):
    """Two rows for the same keys and rules: harmless when identical, confusing when they differ.
    A site row repeating a shipped one keeps it in force after the shipped row is switched off."""
    key = (tuple((path, pattern.index_text) for path, pattern in row.keys),
           tuple(sorted(pattern.pattern.strip().lower() for pattern in row.rules)))
    first = seen.setdefault(key, row)
    if first is row:
        return
    if row.row_id and not first.row_id:
        message = ("lookups/%s line %d allows the same (%s) as shipped row %s; delete the site row (left from an "
                   "older version, which shipped its rows in that file) so that upgrades can correct the shipped row "
                   "and switching it off works." % (first.filename, first.line, first.text, row.row_id))
    elif (first.valid_from, first.valid_until, first.reason) == (row.valid_from, row.valid_until, row.reason):
        message = "%s%s line %d repeats line %d; one of them can go." % (_folder(row), row.filename, row.line, first.line)
    else:
        message = ("%s%s lines %d and %d allow the same (%s) with different dates or reasons; a finding is "
                   "suppressed while either row is in force, so merge them into one."
                   % (_folder(row), row.filename, first.line, row.line, first.text))
    problems.report("lookup_repeat:%s:%d" % (row.filename, row.line), message)


def _folder(row):
    return "lookups/"


def _allowlist_row(spec, filename, line, row, shipped=False):
    keys = []
    shown = []
    for column, path in spec.keys.items():
        value = lookup_cell(row, column)
        if value:
            if value.replace("*", "").replace("?", "") == "":
                raise ValueError("column `%s` is only wildcards, which would allow (almost) everything" % column)
            if len(value) > MAX_PATTERN_CHARS:
                raise ValueError("column `%s` is longer than %d characters" % (column, MAX_PATTERN_CHARS))
            if column in spec.paths:
                _check_path_pattern(column, value)
                keys.append((path, PathWildcard(value)))
            else:
                keys.append((path, Wildcard(value)))
            shown.append("%s=%s" % (column, value))
    if not keys:
        raise ValueError("no value in %s" % " or ".join("`%s`" % column for column in spec.keys))
    for column in spec.required:
        if not lookup_cell(row, column):
            raise ValueError("column `%s` is empty; this lookup needs %s in every row"
                             % (column, " and ".join("`%s`" % c for c in spec.required)))
    for column in spec.anchored:
        if lookup_cell(row, column)[:1] == "*":
            raise ValueError("column `%s` starts with a wildcard, so a copy of the program in any folder would "
                             "match; start it with the drive (C:\\...)" % column)
    row_id = lookup_cell(row, "row_id") if shipped else ""
    if shipped and not row_id:
        raise ValueError("column `row_id` is empty; every shipped row needs an id a site can switch off")
    reason = lookup_cell(row, "reason")
    if not reason:
        raise ValueError("column `reason` is empty; say why this is legitimate")
    rules = tuple(_rule_pattern(item.strip()) for item in lookup_cell(row, "rules").replace(",", ";").split(";")
                  if item.strip())
    valid_from = _date(row, "valid_from", end_of_day=False)
    valid_until = _date(row, "valid_until", end_of_day=True)
    if valid_from is not None and valid_until is not None and valid_until < valid_from:
        raise ValueError("`valid_until` is before `valid_from`")
    for column in ("rules", "valid_from", "valid_until"):
        if lookup_cell(row, column):
            shown.append("%s=%s" % (column, lookup_cell(row, column)))
    return AllowlistRow(filename, line, tuple(keys), rules, valid_from, valid_until, reason, ", ".join(shown),
                        row_id, lookup_cell(row, "class").lower())


def _check_path_pattern(column, value):
    """Refuse a path pattern whose drive, share or volume is a wildcard (it would also match
    drives and volumes any user can write to), or that names `.` or `..` folders (event paths
    are compared with those resolved, so they never mean what they seem to)."""
    path = without_prefix(value)
    if path[1:3] == ":\\" and path[:1] in ("?", "*"):
        rest = value.strip()[3:]
        raise ValueError("column `%s` starts with the drive wildcard `%s:`, which also matches removable and network "
                         "drives any user can write to (E:\\%s); write the drive letter the program is installed "
                         "on (C:\\%s), one row per drive" % (column, path[:1], rest, rest))
    root, folders = split_root(path)
    if root is not None and root.startswith("\\\\") and any(char in root for char in "*?"):
        raise ValueError("column `%s` has a wildcard in its server or share (%s), which matches that share on any "
                         "server; write the server and share (\\\\fileserver\\tools\\...)" % (column, root))
    if root == "\\device" and folders and any(char in folders[0] for char in "*?"):
        raise ValueError("column `%s` has a wildcard in its volume (\\device\\%s), which also matches removable "
                         "volumes any user can write to; write the volume the program is installed on "
                         "(\\Device\\HarddiskVolume3\\...)" % (column, folders[0]))
    if any(folder in (".", "..") for folder in folders):
        raise ValueError("column `%s` names a `.` or `..` folder; write the folder it means (event paths are "
                         "compared with `..` resolved)" % column)


@functools.lru_cache(maxsize=1024)
def _rule_pattern(text):
    """The Wildcard of a `rules` cell's item, one for each distinct text: a site's thousands of
    rows name the same few rule patterns (`t1114_002_*`), and a Wildcard is never changed."""
    return Wildcard(text)


def _date(row, column, end_of_day):
    text = lookup_cell(row, column)
    if not text:
        return None
    try:
        return parse_time(text, end_of_day)
    except ValueError:
        raise ValueError("column `%s` is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC): %r" % (column, text))


class ProcessIdentities:
    """Which process names the processes allowlist vouches for, and from which paths.

    Lets rules see a masquerade: a process bearing a listed name (MsMpEng.exe) that runs
    from a path no row with that name allows. Built once from the loaded rows.
    """

    def __init__(self, rows):
        self._by_name = {}        # lower-case literal name -> [path Wildcard, ...]
        self._wild_names = []     # [(name Wildcard, path Wildcard)]
        for row in rows:
            keys = dict(row.keys)
            name, path = keys.get("extra.process_name"), keys.get("extra.process_path")
            if name is None or path is None:
                continue
            if "*" in name.pattern or "?" in name.pattern:
                self._wild_names.append((name, path))
            else:
                self._by_name.setdefault(name.pattern.strip().lower(), []).append(path)

    def name_elsewhere(self, process_name, process_path):
        """True when the name is listed but no row with that name allows this path."""
        if not process_name or not process_path:
            return False
        paths = list(self._by_name.get(process_name.strip().lower(), ()))
        paths.extend(path for name, path in self._wild_names if name.matches(process_name))
        return bool(paths) and not any(path.matches(process_path) for path in paths)


class OrganisationDomains:
    """The organisation's own mail domains; a listed domain also covers its subdomains."""

    def __init__(self, patterns):
        self._exact = frozenset(p.pattern.lower() for p in patterns if "*" not in p.pattern and "?" not in p.pattern)
        self._wildcards = tuple(p for p in patterns if "*" in p.pattern or "?" in p.pattern)
        # Only suffixes as long as the longest listed domain can match: a hostile "a.a.a...."
        # of 30000 labels then costs a few joins, not 30000 of them.
        self._max_labels = max([domain.count(".") + 1 for domain in self._exact] or [0])

    def __len__(self):
        return len(self._exact) + len(self._wildcards)

    def contains(self, domain):
        domain = domain.lower().rstrip(".")
        if not domain:
            return False
        parts = domain.rsplit(".", self._max_labels)
        first = 1 if len(parts) > self._max_labels else 0  # parts[0] then holds the labels no entry reaches
        for start in range(first, len(parts) - 1):
            if ".".join(parts[start:]) in self._exact:
                return True
        return any(pattern.matches(domain) for pattern in self._wildcards)


def load_org_domains(lookups_dir, problems, filename=ORG_DOMAINS_FILE):
    header, rows = read_lookup_csv(os.path.join(lookups_dir, filename), problems, missing_ok=True)
    if header is None:
        return OrganisationDomains(())
    if "domain" not in header:
        problems.report("lookup_header:" + filename,
                        "lookups/%s lacks the column `domain`; the file was ignored." % filename)
        return OrganisationDomains(())
    patterns = []
    for line, row in rows:
        domain = lookup_cell(row, "domain").lstrip("@").lower()
        if not domain or domain.strip("*.?") == "" or " " in domain or "@" in domain or len(domain) > 253:
            problems.report("lookup_row:%s:%d" % (filename, line),
                            "lookups/%s line %d: %r is not a domain such as contoso.com or *.contoso.com; "
                            "the row was skipped." % (filename, line, domain))
            continue
        patterns.append(Wildcard(domain))
    return OrganisationDomains(patterns)


class AllowlistIndex:
    """The rows that could suppress a finding, found without walking every row.

    Each row is filed under one of its key columns: a literal value by that value, a pattern
    by its literal head (before the first wildcard) or tail (after the last), whichever is
    longer, each as the pattern compares it (a path made canonical, app/windows_path.py); a row whose keys are all wildcards at both ends is always a candidate. A row can
    only apply when the event's value has that key's literal part, so the candidates hold
    every row that applies; they are tried in file order, so the first that applies is the
    one the plain walk would find.
    """

    def __init__(self, rows):
        self.rows = list(rows)
        self._exact = {}        # path -> {value: [row index]}
        self._heads = {}        # path -> {length: {head: [row index]}}
        self._tails = {}        # path -> {length: {tail: [row index]}}
        self._always = []
        # path -> how an event value is written for comparison (lower case; a Windows path also
        # canonical): every pattern of one field is of one kind, the spec column's.
        self._value_keys = {path: pattern.value_key for row in self.rows for path, pattern in row.keys}
        options = [_index_options(row) for row in self.rows]
        shared = {}
        for choices in options:
            for choice in choices:
                shared[choice] = shared.get(choice, 0) + 1
        for index, choices in enumerate(options):
            if not choices:
                self._always.append(index)
                continue
            # The literal fewest rows share: the one that rules out most rows for an event.
            kind, path, literal = min(choices, key=lambda choice: (shared[choice], -len(choice[2])))
            if kind == "exact":
                self._exact.setdefault(path, {}).setdefault(literal, []).append(index)
            else:
                table = self._heads if kind == "head" else self._tails
                table.setdefault(path, {}).setdefault(len(literal), {}).setdefault(literal, []).append(index)

    def candidates(self, event):
        """Indexes of the rows that may apply to the event, in file order."""
        found = list(self._always)
        for path in set(self._exact) | set(self._heads) | set(self._tails):
            value = event.value(path)
            if not isinstance(value, str):
                continue
            text = self._value_keys[path](value)
            found.extend(self._exact.get(path, {}).get(text, ()))
            for length, table in self._heads.get(path, {}).items():
                found.extend(table.get(text[:length], ()))
            for length, table in self._tails.get(path, {}).items():
                if length <= len(text):
                    found.extend(table.get(text[len(text) - length:], ()))
        found.sort()
        return found

    def first_applying(self, rule_id, event, when):
        """The first row, in file order, that suppresses this rule's finding on the event, or None."""
        rows = self.rows
        for index in self.candidates(event):
            if rows[index].applies(rule_id, event, when):
                return rows[index]
        return None


def _index_options(row):
    """(kind, path, literal) a row can be filed under: any of them must be in a value it matches."""
    choices = []
    for path, pattern in row.keys:
        text = pattern.index_text
        if "*" not in text and "?" not in text:
            choices.append(("exact", path, text))
            continue
        head = text[:min(_first(text, "*"), _first(text, "?"))]
        tail = text[max(text.rfind("*"), text.rfind("?")) + 1:]
        if head:
            choices.append(("head", path, head))
        if tail:
            choices.append(("tail", path, tail))
    return choices


def _first(text, char):
    found = text.find(char)
    return len(text) if found < 0 else found
