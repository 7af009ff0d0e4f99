"""Allowlists and the organisation's domains, read from the app's lookup CSVs.

A row that cannot be used is reported (file, line, problem) and skipped; the rest apply.
Files are read once per process.
"""

import calendar
import csv
import io
import os
import time

from .wildcard import MAX_PATTERN_CHARS, Wildcard

DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")
MAX_ROWS = 100000


class AllowlistSpec:
    """One allowlist lookup: which CSV columns are matched against which event facts."""

    def __init__(self, filename, keys, description, required=(), anchored=(), optional=()):
        self.filename = filename
        self.keys = keys                  # {column: MailEvent field path}, all given ones must match
        self.description = description
        self.required = required          # key columns every row must fill
        self.anchored = anchored          # key columns that may not start with a wildcard
        self.optional = frozenset(optional)  # key columns added later: files written before them still load

    @property
    def columns(self):
        """The columns a file must have."""
        return tuple(k for k in self.keys if k not in self.optional) + ("rules", "valid_from", "valid_until", "reason")


ACCOUNTS = AllowlistSpec(
    "t1114_allowlist_accounts.csv", {"account": "actor", "mailbox": "mailbox", "grantee": "param.user"},
    "accounts whose actions are legitimate (service, migration and e-discovery accounts); `mailbox` and "
    "`grantee` narrow a row to actions on that mailbox or granting that user",
    optional=("mailbox", "grantee"))

# A process is legitimate by where it runs from and what it is called, together: a name
# alone is what a masquerading binary copies. Account and host narrow a row further.
PROCESSES = AllowlistSpec(
    "t1114_allowlist_processes.csv",
    {"process_path": "extra.process_path", "process_name": "extra.process_name",
     "account": "extra.account_name", "host": "dest"},
    "processes that legitimately read or write mail stores (mail clients, AV/EDR, backup, migration)",
    required=("process_path", "process_name"), anchored=("process_path",))

APPLICATIONS = AllowlistSpec(
    "t1114_allowlist_applications.csv", {"app_id": "extra.calling_app_id"},
    "applications (AppId or ClientAppId) that read mail legitimately: archiving, compliance, backup")

ALLOWLIST_SPECS = (ACCOUNTS, PROCESSES, APPLICATIONS)
ORG_DOMAINS_FILE = "t1114_org_domains.csv"


class AllowlistRow:
    __slots__ = ("filename", "line", "keys", "rules", "valid_from", "valid_until", "reason", "text")

    def __init__(self, filename, line, keys, rules, valid_from, valid_until, reason, text):
        self.filename = filename
        self.line = line
        self.keys = keys                  # ((field path, Wildcard), ...)
        self.rules = rules                # (Wildcard, ...) or () for every rule
        self.valid_from = valid_from      # epoch seconds or None
        self.valid_until = valid_until
        self.reason = reason
        self.text = text

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
        return "%s line %d (%s): %s" % (self.filename, self.line, self.text, self.reason)


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


def _read_csv(path, problems):
    """(header, [(line number, row dict)]) or (None, []) when the file cannot be used."""
    name = os.path.basename(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        problems.report("lookup_missing:" + name, "lookups/%s could not be read (%s); its rows do not apply." % (name, error.strerror or error))
        return None, []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's "Unicode text": readable, but Splunk's own lookup commands expect UTF-8.
        problems.report("lookup_encoding:" + name,
                        "lookups/%s is saved as UTF-16; it was read, but save it as UTF-8 (CSV UTF-8) so "
                        "Splunk's | inputlookup reads it too." % name)
        text = data.decode("utf-16", "replace")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            problems.report("lookup_encoding:" + name,
                            "lookups/%s is not UTF-8 (byte %d); undecodable bytes were replaced." % (name, error.start))
            text = data.decode("utf-8-sig", "replace")
    if "\x00" in text:
        # Python 3.9's csv stops at the first NUL byte; the rows after it would be lost.
        problems.report("lookup_nul:" + name, "lookups/%s contains NUL bytes; they were removed." % name)
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
                problems.report("lookup_too_long:" + name, "lookups/%s has more than %d rows; the rest were ignored." % (name, MAX_ROWS))
                break
            if previous_line > first_line and any("\n" in value for value in row.values() if isinstance(value, str)):
                # An unclosed quote swallows the lines after it into one cell: say so, and
                # where, rather than let those rows silently disappear.
                problems.report("lookup_quote:%s:%d" % (name, first_line),
                                "lookups/%s line %d: a quote opened on this line is not closed, so lines %d-%d were "
                                "read as one row; that row was skipped. Close the quote." % (
                                    name, first_line, first_line, previous_line))
                continue
            rows.append((first_line, row))
    except csv.Error as error:
        problems.report("lookup_csv:" + name, "lookups/%s line %d: %s; later rows were ignored." % (name, reader.line_num, error))
    return header, rows


def _cell(row, column):
    value = row.get(column)
    if isinstance(value, list):  # extra cells beyond the header
        value = ",".join(value)
    return (value or "").strip()


def load_allowlist(lookups_dir, spec, problems):
    path = os.path.join(lookups_dir, spec.filename)
    header, rows = _read_csv(path, problems)
    if header is None:
        return []
    missing = [column for column in spec.columns if column not in header]
    if missing:
        problems.report("lookup_header:" + spec.filename,
                        "lookups/%s lacks the column(s) %s (expected %s); the file was ignored."
                        % (spec.filename, ", ".join(missing), ",".join(spec.columns)))
        return []
    loaded = []
    seen = {}
    for line, row in rows:
        if row.get(None):
            problems.report("lookup_row:%s:%d" % (spec.filename, line),
                            "lookups/%s line %d: more cells than columns; the extra cells were ignored." % (spec.filename, line))
        try:
            allowed = _allowlist_row(spec, line, row)
        except ValueError as error:
            problems.report("lookup_row:%s:%d" % (spec.filename, line),
                            "lookups/%s line %d: %s; the row was skipped." % (spec.filename, line, error))
            continue
        _report_repeat(allowed, seen, problems)
        loaded.append(allowed)
    return loaded


def _report_repeat(row, seen, problems):
    """Two rows for the same keys and rules: harmless when identical, confusing when they differ."""
    key = (tuple((path, pattern.pattern.strip().lower()) for path, pattern in row.keys),
           tuple(sorted(pattern.pattern.strip().lower() for pattern in row.rules)))
    first = seen.setdefault(key, row)
    if first is row:
        return
    if (first.valid_from, first.valid_until, first.reason) == (row.valid_from, row.valid_until, row.reason):
        message = "lookups/%s line %d repeats line %d; one of them can go." % (row.filename, row.line, first.line)
    else:
        message = ("lookups/%s lines %d and %d allow the same (%s) with different dates or reasons; a finding is "
                   "suppressed while either row is in force, so merge them into one."
                   % (row.filename, first.line, row.line, first.text))
    problems.report("lookup_repeat:%s:%d" % (row.filename, row.line), message)


def _allowlist_row(spec, line, row):
    keys = []
    shown = []
    for column, path in spec.keys.items():
        value = _cell(row, column)
        if value:
            if value.replace("*", "").replace("?", "") == "":
                raise ValueError("column `%s` is only wildcards, which would allow (almost) everything" % column)
            if len(value) > MAX_PATTERN_CHARS:
                raise ValueError("column `%s` is longer than %d characters" % (column, MAX_PATTERN_CHARS))
            keys.append((path, Wildcard(value)))
            shown.append("%s=%s" % (column, value))
    if not keys:
        raise ValueError("no value in %s" % " or ".join("`%s`" % column for column in spec.keys))
    for column in spec.required:
        if not _cell(row, column):
            raise ValueError("column `%s` is empty; this lookup needs %s in every row"
                             % (column, " and ".join("`%s`" % c for c in spec.required)))
    for column in spec.anchored:
        if _cell(row, column)[:1] in ("*", "?") and not _cell(row, column).startswith("?:"):
            raise ValueError("column `%s` starts with a wildcard, so a copy of the program in any folder would "
                             "match; start it with the drive (C:\\... or ?:\\...)" % column)
    reason = _cell(row, "reason")
    if not reason:
        raise ValueError("column `reason` is empty; say why this is legitimate")
    rules = tuple(Wildcard(item.strip()) for item in _cell(row, "rules").replace(",", ";").split(";") if item.strip())
    valid_from = _date(row, "valid_from", end_of_day=False)
    valid_until = _date(row, "valid_until", end_of_day=True)
    if valid_from is not None and valid_until is not None and valid_until < valid_from:
        raise ValueError("`valid_until` is before `valid_from`")
    if rules:
        shown.append("rules=%s" % _cell(row, "rules"))
    if valid_until is not None:
        shown.append("until %s" % _cell(row, "valid_until"))
    return AllowlistRow(spec.filename, line, tuple(keys), rules, valid_from, valid_until, reason, ", ".join(shown))


def _date(row, column, end_of_day):
    text = _cell(row, column)
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


def load_org_domains(lookups_dir, problems):
    header, rows = _read_csv(os.path.join(lookups_dir, ORG_DOMAINS_FILE), problems)
    if header is None:
        return OrganisationDomains(())
    if "domain" not in header:
        problems.report("lookup_header:" + ORG_DOMAINS_FILE,
                        "lookups/%s lacks the column `domain`; the file was ignored." % ORG_DOMAINS_FILE)
        return OrganisationDomains(())
    patterns = []
    for line, row in rows:
        domain = _cell(row, "domain").lstrip("@").lower()
        if not domain or domain.strip("*.?") == "" or " " in domain or "@" in domain or len(domain) > 253:
            problems.report("lookup_row:%s:%d" % (ORG_DOMAINS_FILE, line),
                            "lookups/%s line %d: %r is not a domain such as contoso.com or *.contoso.com; "
                            "the row was skipped." % (ORG_DOMAINS_FILE, line, domain))
            continue
        patterns.append(Wildcard(domain))
    return OrganisationDomains(patterns)
