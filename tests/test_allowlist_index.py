"""The allowlist index (app/allowlist.AllowlistIndex) finds the same suppressing row as a walk
over every row in file order, and its work is counted, not timed: for exact accounts the rows
it tries do not grow with the lookup's size."""

from hypothesis import given, strategies as st

from app.allowlist import ACCOUNTS, PROCESSES, AllowlistIndex, _allowlist_row
from app.event import MailEvent


def rows_of(spec, cells):
    return [_allowlist_row(spec, spec.filename, line, dict(cell, reason="test"))
            for line, cell in enumerate(cells, start=2)]


def walk(rows, rule_id, event, when):
    for row in rows:
        if row.applies(rule_id, event, when):
            return row
    return None


def account_event(actor, mailbox="", grantee=""):
    event = MailEvent("o365", "Add-MailboxPermission")
    event.actor, event.mailbox = actor, mailbox
    if grantee:
        event.parameters["user"] = grantee
    return event


_CHARS = st.sampled_from("ab*?@.")
_PATTERN = st.text(_CHARS, min_size=1, max_size=6).filter(lambda p: p.replace("*", "").replace("?", ""))
_VALUE = st.text(st.sampled_from("ab@. A"), max_size=7)


@given(st.lists(st.fixed_dictionaries({"account": _PATTERN, "mailbox": st.one_of(st.just(""), _PATTERN),
                                       "rules": st.sampled_from(["", "t1114_002_*", "t1114_003_x"])}),
                min_size=1, max_size=12),
       _VALUE, _VALUE, st.sampled_from(["t1114_002_send_as_grant", "t1114_003_x"]))
def test_index_finds_the_row_the_walk_finds(cells, actor, mailbox, rule_id):
    rows = rows_of(ACCOUNTS, cells)
    event = account_event(actor, mailbox)
    assert AllowlistIndex(rows).first_applying(rule_id, event, 0.0) is walk(rows, rule_id, event, 0.0)


def test_process_rows_and_anchored_paths():
    rows = rows_of(PROCESSES, [
        {"process_path": r"C:\Program Files\Microsoft Office\*\OUTLOOK.EXE", "process_name": "OUTLOOK.EXE"},
        {"process_path": r"D:\Program Files\Veeam\*", "process_name": "*.exe"},
        {"process_path": r"C:\Tools\scan?.exe", "process_name": "scan?.exe", "host": "ws-1"}])
    index = AllowlistIndex(rows)
    for path, name, dest in ((r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE", "OUTLOOK.EXE", ""),
                             (r"D:\Program Files\Veeam\agent.exe", "agent.exe", ""),
                             (r"c:\tools\SCAN1.exe", "scan1.exe", "WS-1"), (r"C:\Tools\scan1.exe", "scan1.exe", "x")):
        event = MailEvent("file", "file_read")
        event.dest = dest
        event.extra.update(process_path=path, process_name=name)
        assert index.first_applying("t1114_001_mail_file_read", event, 0.0) is walk(
            rows, "t1114_001_mail_file_read", event, 0.0)


_PATH_PATTERN = st.lists(st.text(st.sampled_from("ab*?"), min_size=1, max_size=3), min_size=1, max_size=3).map(
    lambda folders: "C:\\" + "\\".join(folders))


@given(st.lists(_PATH_PATTERN, min_size=1, max_size=8), st.lists(st.sampled_from(
    ["a", "b", "ab", ".", "..", "/", "\\", "\\\\"]), max_size=10), st.sampled_from(["", "\\\\?\\", "\\??\\"]))
def test_index_finds_the_row_the_walk_finds_for_paths(patterns, pieces, prefix):
    """Path rows are filed by their canonical text and event paths looked up by theirs: the
    index still finds the first row the walk finds, whatever `..`, `/` or prefix the path has."""
    rows = rows_of(PROCESSES, [{"process_path": pattern, "process_name": "x.exe"} for pattern in patterns])
    event = MailEvent("file", "file_read")
    event.extra.update(process_path=prefix + "C:\\" + "".join(pieces), process_name="x.exe")
    assert AllowlistIndex(rows).first_applying("r", event, 0.0) is walk(rows, "r", event, 0.0)


def tried_rows(count, exact):
    cells = [{"account": ("svc-%05d@contoso.com" if exact or index % 2 else "svc-%05d-*@contoso.com") % index}
             for index in range(count)]
    index = AllowlistIndex(rows_of(ACCOUNTS, cells))
    return len(index.candidates(account_event("svc-%05d@contoso.com" % (count - 1)))), \
        len(index.candidates(account_event("alice@contoso.com")))


def test_rows_tried_do_not_grow_with_the_lookup():
    assert tried_rows(10, True) == tried_rows(10000, True) == (1, 0)
    assert tried_rows(10, False) == tried_rows(10000, False)
    assert max(tried_rows(10000, False)) <= 1
