"""How Splunk presents one Office 365 audit record to a search command, in the two shapes
the command must handle: only `_raw` (Fast mode, or no add-on extractions) and the add-on's
extracted fields (flattened parameters, `{}` multivalue arrays, and no `_raw`).
"""

import json

SOURCETYPE = "o365:management:activity"


def raw_only(audit, time="1764216000"):
    return {"_time": time, "sourcetype": SOURCETYPE, "_raw": json.dumps(audit)}


def _scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)


def extracted(audit, time="1764216000"):
    """Fields as KV_MODE=json extraction gives them: empty values vanish from multivalue
    arrays (so Name and Value lists can differ in length), Parameters are also flattened."""
    record = {"_time": time, "sourcetype": SOURCETYPE}
    for key, value in audit.items():
        if key in ("Parameters", "OperationProperties") and isinstance(value, list):
            names = [str(item.get("Name", "")) for item in value if isinstance(item, dict) and item.get("Name")]
            values = [_scalar(item.get("Value")) for item in value
                      if isinstance(item, dict) and item.get("Value") not in (None, "")]
            if names:
                record["%s{}.Name" % key] = names if len(names) > 1 else names[0]
            if values:
                record["%s{}.Value" % key] = values if len(values) > 1 else values[0]
            if key == "Parameters":
                for item in value:
                    if isinstance(item, dict) and item.get("Name") and item.get("Value") not in (None, ""):
                        record.setdefault(str(item["Name"]), _scalar(item["Value"]))
        elif isinstance(value, (dict, list)):
            record[key] = json.dumps(value)
        elif value not in (None, ""):
            record[key] = _scalar(value)
    record.setdefault("user", _scalar(audit.get("UserId")))
    return record


def both_shapes(audit):
    """The two records a search command may get for one audit record: _raw only, and fields only."""
    return [raw_only(audit), extracted(audit)]


# ---------------------------------------------------------------------------------------------
# Windows Security events in the classic (non-XML) rendering of the Splunk Add-on for Windows:
# `_raw` is the `Key=Value` header and the rendered message; the add-on extracts each message
# key with spaces made underscores, a repeated key as a multivalue field.

_ACCESS_TEXT = {
    "1537": "DELETE", "1538": "READ_CONTROL", "1539": "WRITE_DAC", "1540": "WRITE_OWNER",
    "1541": "SYNCHRONIZE", "1542": "ACCESS_SYS_SEC", "4416": "ReadData (or ListDirectory)",
    "4417": "WriteData (or AddFile)", "4418": "AppendData (or AddSubdirectory or CreatePipeInstance)",
    "4419": "ReadEA", "4420": "WriteEA", "4421": "Execute/Traverse", "4422": "DeleteChild",
    "4423": "ReadAttributes", "4424": "WriteAttributes",
}
_CLASSIC_EVENT_CODES = ("4624", "4625", "4663", "4688", "4776", "5145")
_MESSAGES = {
    "4624": ("Logon", "An account was successfully logged on."),
    "4625": ("Logon", "An account failed to log on."),
    "4663": ("File System", "An attempt was made to access an object."),
    "4688": ("Process Creation", "A new process has been created."),
    "4776": ("Credential Validation", "The computer attempted to validate the credentials for an account."),
    "5145": ("Detailed File Share", "A network share object was checked to see whether client can be granted desired access."),
}


def _access_lines(access_list):
    import re
    return [_ACCESS_TEXT.get(code, "%%" + code) for code in re.findall(r"%%(\d{4})", access_list or "")]


def _xml_data(record):
    """{Data Name: value} and System facts of an XML-only record, as Splunk would extract them."""
    import html
    import re
    raw = record.get("_raw") or ""
    fields = {name: html.unescape(value) for name, value in
              re.findall(r"<Data Name=['\"]([A-Za-z0-9_]+)['\"]\s*>(.*?)</Data>", raw, re.DOTALL)}
    for tag in ("EventID", "Computer"):
        found = re.search(r"<%s[^>]*>([^<]*)</%s>" % (tag, tag), raw)
        if found:
            fields["EventCode" if tag == "EventID" else tag] = html.unescape(found.group(1))
    return fields


def classic_security_shapes(record):
    """[(shape, record)] of an XmlWinEventLog Security 4624/4625/4663/4688/4776/5145 event in
    the classic rendering: add-on fields only, and `_raw` only. [] for any other event."""
    sourcetype = str(record.get("sourcetype", "")).lower()
    if not sourcetype.startswith("xmlwineventlog"):
        return []
    xml = dict(_xml_data(record))
    xml.update({k: v for k, v in record.items() if k != "_raw"})
    code = str(xml.get("EventCode", ""))
    if code not in _CLASSIC_EVENT_CODES:
        return []
    get = lambda name, default="-": str(xml.get(name) or default)  # noqa: E731
    fields = {"EventCode": code, "ComputerName": str(xml.get("Computer") or "")}
    sections = []
    if code in ("4663", "4688", "5145"):
        subject = [("Security ID", "S-1-5-21-1004336348-1177238915-682003330-1105"),
                   ("Account Name", get("SubjectUserName")), ("Account Domain", get("SubjectDomainName")),
                   ("Logon ID", "0x3E7")]
        sections.append(("Creator Subject" if code == "4688" else "Subject", subject))
        fields["Account_Name"] = [get("SubjectUserName")]
        fields["Account_Domain"] = [get("SubjectDomainName")]
    if code == "4688":
        sections.append(("Target Subject", [("Security ID", "NULL SID"), ("Account Name", get("TargetUserName")),
                                            ("Account Domain", get("TargetDomainName")), ("Logon ID", "0x0")]))
        fields["Account_Name"].append(get("TargetUserName"))
        fields["Account_Domain"].append(get("TargetDomainName"))
        process = [("New Process ID", "0x1a2c"), ("New Process Name", get("NewProcessName", "")),
                   ("Token Elevation Type", "%%1936"), ("Mandatory Label", "Mandatory Label\\Medium Mandatory Level"),
                   ("Creator Process ID", "0x1a00"), ("Creator Process Name", get("ParentProcessName", "")),
                   ("Process Command Line", get("CommandLine", ""))]
        sections.append(("Process Information", process))
        fields.update(New_Process_Name=get("NewProcessName", ""), Creator_Process_Name=get("ParentProcessName", ""),
                      Process_Command_Line=get("CommandLine", ""))
    elif code == "4663":
        sections.append(("Object", [("Object Server", "Security"), ("Object Type", get("ObjectType", "File")),
                                    ("Object Name", get("ObjectName", "")), ("Handle ID", "0x1f4"),
                                    ("Resource Attributes", "S:AI")]))
        sections.append(("Process Information", [("Process ID", "0x1a2c"), ("Process Name", get("ProcessName", ""))]))
        accesses = _access_lines(xml.get("AccessList"))
        sections.append(("Access Request Information", [("Accesses", accesses or ["-"]),
                                                        ("Access Mask", get("AccessMask", "0x0"))]))
        fields.update(Object_Name=get("ObjectName", ""), Process_Name=get("ProcessName", ""),
                      Object_Type=get("ObjectType", "File"), Access_Mask=get("AccessMask", "0x0"))
        if accesses:
            fields["Accesses"] = accesses if len(accesses) > 1 else accesses[0]
    elif code == "5145":
        sections.append(("Network Information", [("Object Type", "File"), ("Source Address", get("IpAddress", "")),
                                                 ("Source Port", "49721")]))
        sections.append(("Share Information", [("Share Name", get("ShareName", "")), ("Share Path", "\\??\\C:\\"),
                                               ("Relative Target Name", get("RelativeTargetName", ""))]))
        accesses = _access_lines(xml.get("AccessList"))
        request = [("Access Mask", get("AccessMask"))] if xml.get("AccessMask") else []
        if accesses:
            request.append(("Accesses", accesses))
            fields["Accesses"] = accesses if len(accesses) > 1 else accesses[0]
        sections.append(("Access Request Information", request))
        fields.update(Share_Name=get("ShareName", ""), Relative_Target_Name=get("RelativeTargetName", ""),
                      Source_Address=get("IpAddress", ""))
        if xml.get("AccessMask"):
            fields["Access_Mask"] = get("AccessMask")
    elif code in ("4624", "4625"):
        sections.append(("Subject", [("Security ID", "NULL SID"), ("Account Name", "-"), ("Account Domain", "-"),
                                     ("Logon ID", "0x0")]))
        sections.append(("Logon Information", [("Logon Type", get("LogonType", "3"))]))
        sections.append(("New Logon" if code == "4624" else "Account For Which Logon Failed",
                         [("Security ID", "S-1-5-21-1"), ("Account Name", get("TargetUserName")),
                          ("Account Domain", get("TargetDomainName"))]))
        sections.append(("Network Information", [("Workstation Name", get("WorkstationName")),
                                                 ("Source Network Address", get("IpAddress")), ("Source Port", "0")]))
        fields.update(Account_Name=["-", get("TargetUserName")], Account_Domain=["-", get("TargetDomainName")],
                      Logon_Type=get("LogonType", "3"), Workstation_Name=get("WorkstationName"),
                      Source_Network_Address=get("IpAddress"))
    elif code == "4776":
        sections.append((None, [("Authentication Package", "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0"),
                                ("Logon Account", get("TargetUserName")), ("Source Workstation", get("Workstation")),
                                ("Error Code", get("Status", "0x0"))]))
        fields.update(Logon_Account=get("TargetUserName"), Source_Workstation=get("Workstation"),
                      Error_Code=get("Status", "0x0"))
    category, message = _MESSAGES[code]
    lines = ["12/01/2026 04:00:00 AM", "LogName=Security", "EventCode=%s" % code, "EventType=0",
             "ComputerName=%s" % fields["ComputerName"], "SourceName=Microsoft Windows security auditing.",
             "Type=Information", "RecordNumber=48213", "Keywords=Audit Success", "TaskCategory=%s" % category,
             "OpCode=Info", "Message=%s" % message, ""]
    for title, items in sections:
        if title:
            lines.append("%s:" % title)
        for key, value in items:
            values = value if isinstance(value, list) else [value]
            lines.append("%s%s:\t\t%s" % ("\t" if title else "", key, values[0]))
            lines.extend("\t\t\t\t%s" % more for more in values[1:])
        lines.append("")
    # The explanation Windows appends; it has colons too and must not become fields.
    lines.append("This event is generated when a process is created or an object is accessed. Note: see "
                 "https://learn.microsoft.com for the meaning of each field.")
    raw = "\r\n".join(lines)
    base = {"_time": record.get("_time", "1764216000"), "sourcetype": "WinEventLog",
            "source": "WinEventLog:Security", "host": fields["ComputerName"]}
    extracted = dict(base)
    extracted.update({k: (v if not isinstance(v, list) or len(v) > 1 else v[0]) for k, v in fields.items()})
    raw_only = dict(base)
    raw_only["_raw"] = raw
    return [("classic_fields", extracted), ("classic_raw", raw_only)]


# ---------------------------------------------------------------------------------------------
# Microsoft Defender XDR advanced hunting rows (DeviceProcessEvents, DeviceFileEvents) as the
# Defender streaming API writes them to an Event Hub (`category: AdvancedHunting-<Table>`, the
# row in `properties`), and as advanced-hunting query rows with bare column names.

_DEVICE_ID = "c5b2a4e1f0d94c3b8a7e6d5c4b3a2f1e0d9c8b7a"


def _split_account(user):
    if "\\" in user:
        return tuple(user.split("\\", 1))
    return "", user


def _base(path):
    return path.replace("/", "\\").rsplit("\\", 1)[-1]


def defender_device_shapes(record):
    """[(shape, record)] of a Sysmon 1/11 or Security 4688 event as Defender XDR would record the same act."""
    sourcetype = str(record.get("sourcetype", "")) + str(record.get("source", ""))
    code = str(record.get("EventCode", ""))
    if "XmlWinEventLog" not in sourcetype or code not in ("1", "11", "4688") or "Image" not in record and code != "4688":
        return []
    if code == "4688":
        if not record.get("NewProcessName"):
            return []
        domain, name = record.get("SubjectDomainName", ""), record.get("SubjectUserName", "")
        image, command, parent = record["NewProcessName"], record.get("CommandLine", ""), record.get("ParentProcessName", "")
        code = "1"
    else:
        domain, name = _split_account(record.get("User", ""))
        image, command, parent = record.get("Image", ""), record.get("CommandLine", ""), record.get("ParentImage", "")
    device = record.get("Computer") or ""
    if code == "1":
        table = "DeviceProcessEvents"
        row = {"Timestamp": "2026-11-27T04:00:00Z", "DeviceId": _DEVICE_ID, "DeviceName": device,
               "ActionType": "ProcessCreated",
               "FileName": _base(image), "FolderPath": image, "ProcessCommandLine": command,
               "AccountDomain": domain, "AccountName": name,
               "InitiatingProcessFileName": _base(parent) if parent else "",
               "InitiatingProcessFolderPath": parent,
               "ProcessVersionInfoOriginalFileName": record.get("OriginalFileName", "")}
    else:
        if not record.get("TargetFilename"):
            return []
        table = "DeviceFileEvents"
        target = record["TargetFilename"]
        row = {"Timestamp": "2026-11-27T04:00:00Z", "DeviceId": _DEVICE_ID, "DeviceName": device,
               "ActionType": "FileCreated",
               "FileName": _base(target), "FolderPath": target,
               "InitiatingProcessFileName": _base(image), "InitiatingProcessFolderPath": image,
               "InitiatingProcessAccountDomain": domain, "InitiatingProcessAccountName": name}
    return _defender_presentations(table, row, record.get("_time", "1764216000"))


def _defender_presentations(table, row, time):
    envelope = {"time": "2026-11-27T04:00:01Z", "tenantId": "11111111-2222-3333-4444-555555555555",
                "operationName": "Publish", "category": "AdvancedHunting-" + table, "properties": row}
    raw = {"_time": time, "sourcetype": "mscs:azure:eventhub", "_raw": json.dumps(envelope)}
    hunting = {"_time": time, "sourcetype": "defender:advanced_hunting"}
    hunting.update({k: _scalar(v) for k, v in row.items() if v not in ("", None)})
    return [("defender_raw", raw), ("defender_columns", hunting)]


def cloud_app_events_shapes(audit, time="1764216000"):
    """An Office 365 audit record as Defender XDR CloudAppEvents carry it (RawEventData)."""
    row = {"Timestamp": "2026-11-27T04:00:00Z", "ActionType": audit.get("Operation", ""),
           "Application": "Microsoft Exchange Online", "ApplicationId": 20893,
           "AccountObjectId": "5f6e7d8c-0000-4000-8000-123412341234", "AccountDisplayName": audit.get("UserId", ""),
           "IPAddress": audit.get("ClientIP", ""), "ActivityType": "Run", "RawEventData": audit}
    envelope = {"time": "2026-11-27T04:00:01Z", "tenantId": "11111111-2222-3333-4444-555555555555",
                "operationName": "Publish", "category": "AdvancedHunting-CloudAppEvents", "properties": row}
    raw = {"_time": time, "sourcetype": "mscs:azure:eventhub", "_raw": json.dumps(envelope)}
    # Advanced-hunting query rows: RawEventData comes as one JSON text column.
    columns = {"_time": time, "sourcetype": "defender:advanced_hunting"}
    columns.update({k: (json.dumps(v) if isinstance(v, (dict, list)) else _scalar(v)) for k, v in row.items()})
    return [("cloud_app_events_raw", raw), ("cloud_app_events_columns", columns)]


# ---------------------------------------------------------------------------------------------
# On-premises Exchange CmdletLogs in the XML rendering (XmlWinEventLog:MSExchange Management):
# the cmdlet name and its parameters are separate <string> items of one unnamed <Data>.

def _cmdlet_call(record):
    """(cmdlet, parameters text, caller) of a management-log Message or a one-call script block."""
    import re
    message = record.get("Message") or ""
    found = re.match(r"Cmdlet suc+eeded\. Cmdlet ([A-Za-z]+-[A-Za-z]+), parameters (.*?)\.?$", message, re.DOTALL)
    if found:
        return found.group(1), found.group(2), record.get("User", "contoso.local/Users/exadmin")
    text = (record.get("ScriptBlockText") or "").strip()
    found = re.match(r"([A-Z][a-z]+-[A-Za-z]+)\s(.*)$", text, re.DOTALL)
    if found and not re.search(r"[;|\n`{}$]", text.replace("$null", "").replace("$true", "").replace("$false", "")):
        return found.group(1), found.group(2).strip(), record.get("UserID", "contoso.local/Users/exadmin")
    return None


def exchange_cmdlet_xml_shapes(record, event_code="1"):
    """[(shape, record)] of the same cmdlet call logged by Exchange as XmlWinEventLog (EventID 1 ran, 6 failed)."""
    import html
    call = _cmdlet_call(record)
    if call is None:
        return []
    cmdlet, parameters, caller = call
    strings = [cmdlet, parameters, caller, "S-1-5-21-1-1111", "S-1-5-21-1-1111", "Remote-ManagementShell-Unknown",
               "8372 w3wp#MSExchangePowerShellAppPool", "", "54", "00:00:00.0080007",
               "View Entire Forest: 'False', Default Scope: 'contoso.local'", "", "0", "", ""]
    if event_code == "6":
        strings[11] = "System.ArgumentException: The operation couldn't be performed."
    data = "".join("<string>%s</string>\n" % s for s in strings)
    computer = record.get("ComputerName") or record.get("Computer") or ""
    raw = ("<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System><Provider Name=\"MSExchange "
           "CmdletLogs\"></Provider><EventID Qualifiers=\"%s\">%s</EventID><Level>%s</Level><Task>1</Task>"
           "<Channel>MSExchange Management</Channel><Computer>%s</Computer><Security UserID=\"\"></Security></System>"
           "<EventData><Data>%s</Data><Binary></Binary></EventData></Event>"
           % ("49152" if event_code == "6" else "16384", event_code, "2" if event_code == "6" else "4",
              computer, html.escape(data, quote=False)))
    base = {"_time": record.get("_time", "1764216000"), "sourcetype": "XmlWinEventLog",
            "source": "XmlWinEventLog:MSExchange Management", "host": computer}
    extracted = dict(base, EventCode=event_code, Computer=computer, Channel="MSExchange Management",
                     SourceName="MSExchange CmdletLogs", Data=data, _raw=raw)
    raw_only = dict(base, _raw=raw)
    return [("exchange_xml_fields", extracted), ("exchange_xml_raw", raw_only)]


# ---------------------------------------------------------------------------------------------
# PowerShell 4104 in the classic rendering (WinEventLog:Microsoft-Windows-PowerShell/Operational):
# the script is the message text after "Creating Scriptblock text (1 of 1):".

def classic_powershell_shapes(record):
    """[(shape, record)] of an XmlWinEventLog 4104 script block in the classic rendering:
    the add-on's header fields with `Message`, and `_raw` only. [] for any other event."""
    if str(record.get("EventCode", "")) != "4104" or not record.get("ScriptBlockText"):
        return []
    if not str(record.get("sourcetype", "")).startswith("XmlWinEventLog"):
        return []
    computer = str(record.get("Computer") or "")
    user = str(record.get("UserID") or "")
    message = "Creating Scriptblock text (1 of 1):\r\n%s\r\n\r\nScriptBlock ID: 5e1b0c4d-0000-4000-8000-1234567890ab\r\nPath: %s" % (
        record["ScriptBlockText"], record.get("Path", ""))
    header = ["12/01/2026 04:00:00 AM", "LogName=Microsoft-Windows-PowerShell/Operational", "EventCode=4104",
              "EventType=5", "ComputerName=%s" % computer]
    if user:
        header += ["User=%s" % user, "Sid=S-1-5-21-1004336348-1177238915-682003330-1105", "SidType=1"]
    header += ["SourceName=Microsoft-Windows-PowerShell", "Type=Verbose", "RecordNumber=9120", "Keywords=None",
               "TaskCategory=Execute a Remote Command", "OpCode=On create calls", "Message=" + message]
    base = {"_time": record.get("_time", "1764216000"), "sourcetype": "WinEventLog",
            "source": "WinEventLog:Microsoft-Windows-PowerShell/Operational", "host": computer}
    fields = dict(base, EventCode="4104", ComputerName=computer, Message=message)
    if user:
        fields["User"] = user
    if record.get("Path"):
        fields["Path"] = record["Path"]  # the message's "Path:" line, as the add-on extracts it
    return [("classic_ps_fields", fields), ("classic_ps_raw", dict(base, _raw="\r\n".join(header)))]
