"""PowerShell module logging (Microsoft-Windows-PowerShell/Operational EventID 4103) as the
Splunk Add-on for Microsoft Windows indexes it, written from a rule's test event that holds one
cmdlet call (a one-call 4104 script block or an MSExchange Management message).

The shapes follow the event's manifest (message `%3 Context: %1 User Data: %2`, data items
ContextInfo, UserData, Payload) and PowerShell's own logging (ParameterBinderBase: a collection
is written as its items joined with ", ", a switch as True, a $null value not at all):
XmlWinEventLog (renderXml=true) with the add-on's fields and `_raw` only, and classic
WinEventLog with `Message` and `_raw` only.
"""

import html
import re

from tests.splunk_shapes import _cmdlet_call

_NAME = re.compile(r"-([A-Za-z][A-Za-z0-9]*)(:?)")
_SID = "S-1-5-21-1004336348-1177238915-682003330-1105"


def _value(text, index):
    """(value, index after it) of one argument: quoted, or a bare word up to a space or comma."""
    opener = text[index]
    if opener in "'\"":
        end, parts = index + 1, []
        while end < len(text):
            if text[end] == opener:
                if text[end + 1:end + 2] == opener:   # a doubled quote is the quote itself
                    parts.append(opener)
                    end += 2
                    continue
                return "".join(parts), end + 1
            parts.append(text[end])
            end += 1
        return None, len(text)
    end = index
    while end < len(text) and not text[end].isspace() and text[end] != ",":
        end += 1
    return text[index:end], end


def bindings(parameters):
    """[(full parameter name, value as 4103 writes it)], or None when the call binds something the
    text does not state (a positional argument, a variable, a script block)."""
    bound, index, current, values = [], 0, None, []

    def close():
        if current is None:
            return True
        if not values:
            bound.append((current, "True"))
            return True
        if any(v.startswith("$") and v.lower() not in ("$true", "$false", "$null") for v in values):
            return False
        if values == ["$null"]:
            return True   # PowerShell logs no binding of $null
        shown = [{"$true": "True", "$false": "False"}.get(v.lower(), v) for v in values]
        bound.append((current, ", ".join(shown)))
        return True

    expect_more = False
    while index < len(parameters):
        char = parameters[index]
        if char.isspace():
            index += 1
            continue
        if char == ",":
            expect_more, index = True, index + 1
            continue
        named = _NAME.match(parameters, index) if char == "-" and not expect_more else None
        if named:
            if not close():
                return None
            current, values = named.group(1), []
            index = named.end()
            if named.group(2):
                value, index = _value(parameters, index)
                values.append(value)
            continue
        if current is None or (values and not expect_more) or char in "{(@":
            return None   # positional, or a value PowerShell would evaluate first
        value, index = _value(parameters, index)
        if value is None:
            return None
        values.append(value)
        expect_more = False
    return bound if close() else None


def _context_info(cmdlet, user, script, line_end):
    lines = ["Severity = Informational", "Host Name = ConsoleHost", "Host Version = 5.1.19041.4291",
             "Host ID = 7d6c3b2a-0000-4000-8000-1234567890ab",
             "Host Application = C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
             "Engine Version = 5.1.19041.4291", "Runspace ID = 0f1e2d3c-0000-4000-8000-1234567890ab",
             "Pipeline ID = 12", "Command Name = %s" % cmdlet, "Command Type = Cmdlet", "Script Name = %s" % script,
             "Command Path = ", "Sequence Number = 31", "User = %s" % user, "Connected User = ",
             "Shell ID = Microsoft.PowerShell"]
    return "".join("        %s%s" % (line, line_end) for line in lines)


def payload_of(cmdlet, bound, line_end="\r\n"):
    lines = ['CommandInvocation(%s): "%s"' % (cmdlet, cmdlet)]
    lines += ['ParameterBinding(%s): name="%s"; value="%s"' % (cmdlet, name, value) for name, value in bound]
    return "".join(line + line_end for line in lines)


def module_log_shapes(record):
    """[(shape, record)] of the 4103 event the test event's one cmdlet call gives; [] when it
    holds no such call or binds what its text does not state."""
    call = _cmdlet_call(record)
    if call is None:
        return []
    cmdlet, parameters, _caller = call
    bound = bindings(parameters)
    if bound is None:
        return []
    computer = str(record.get("Computer") or record.get("ComputerName") or "ws-017.contoso.com")
    # The ContextInfo `User` and `Script Name` are the test event's own user (a 4104's UserID, a
    # management log's User) and script path, so the finding's reason reads the same in every shape.
    user = str(record.get("UserID") or record.get("User") or "")
    time = record.get("_time", "1764216000")
    payload, context_info = payload_of(cmdlet, bound), _context_info(cmdlet, user, str(record.get("Path") or ""), "\r\n")
    raw = ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider "
           "Name='Microsoft-Windows-PowerShell' Guid='{a0c1853b-5c40-4b15-8766-3cf1c58f985a}'/><EventID>4103"
           "</EventID><Version>1</Version><Level>4</Level><Task>106</Task><Opcode>20</Opcode><Keywords>0x0"
           "</Keywords><TimeCreated SystemTime='2026-12-01T04:00:00.1234567Z'/><EventRecordID>9121</EventRecordID>"
           "<Correlation ActivityID='{3f0c7a49-e4fd-0000-e3ce-0740fde4d701}'/><Execution ProcessID='5112' "
           "ThreadID='4912'/><Channel>Microsoft-Windows-PowerShell/Operational</Channel><Computer>%s</Computer>"
           "<Security/></System><EventData><Data Name='ContextInfo'>%s</Data><Data Name='UserData'>"
           "</Data><Data Name='Payload'>%s</Data></EventData></Event>"
           % (computer, html.escape(context_info), html.escape(payload)))
    xml_base = {"_time": time, "sourcetype": "XmlWinEventLog",
                "source": "XmlWinEventLog:Microsoft-Windows-PowerShell/Operational", "host": computer}
    # The add-on's extraction gives the multi-line items with "\n" line ends.
    xml_fields = dict(xml_base, EventCode="4103", Computer=computer,
                      Channel="Microsoft-Windows-PowerShell/Operational", ContextInfo=context_info.replace("\r\n", "\n"),
                      Payload=payload.replace("\r\n", "\n"), _raw=raw)
    message = "%s\r\n\r\nContext:\r\n%s\r\n\r\nUser Data:\r\n\r\n" % (payload, context_info)
    header = ["12/01/2026 04:00:00 AM", "LogName=Microsoft-Windows-PowerShell/Operational", "EventCode=4103",
              "EventType=4", "ComputerName=%s" % computer]
    if user:
        header += ["User=%s" % user, "Sid=%s" % _SID, "SidType=1"]
    header += ["SourceName=Microsoft-Windows-PowerShell", "Type=Information", "RecordNumber=9121", "Keywords=None",
              "TaskCategory=Executing Pipeline", "OpCode=To be used when operation is just executing a method",
              "Message=" + message]
    classic_base = {"_time": time, "sourcetype": "WinEventLog",
                    "source": "WinEventLog:Microsoft-Windows-PowerShell/Operational", "host": computer}
    classic_fields = dict(classic_base, EventCode="4103", ComputerName=computer, Message=message)
    return [("module_log_xml_fields", xml_fields), ("module_log_xml_raw", dict(xml_base, _raw=raw)),
            ("module_log_classic_fields", classic_fields),
            ("module_log_classic_raw", dict(classic_base, _raw="\r\n".join(header)))]
