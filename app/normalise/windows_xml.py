"""The one reader of Windows event XML (`XmlWinEventLog` `_raw` when Splunk extracted no
fields), for every normaliser that needs it: endpoint, logon and Exchange management events.

Values never contain `<` in well-formed event XML (it is written `&lt;`), so each pattern reads
up to the next `<`: linear in the text, whatever a hostile `_raw` holds.
"""

import html
import re

_DATA = re.compile(r"<Data Name=['\"]([A-Za-z0-9_]+)['\"]\s*>([^<]*)</Data>")
_EVENT_ID = re.compile(r"<EventID[^>]*>(\d+)</EventID>")
_COMPUTER = re.compile(r"<Computer>([^<]*)</Computer>")
_CHANNEL = re.compile(r"<Channel>([^<]*)</Channel>")


def event_xml_fields(raw):
    """{Data Name: value, EventCode, Computer, Channel} of an event's XML; {} without <Data>."""
    if "<Data" not in raw:
        return {}
    fields = {name: html.unescape(value) for name, value in _DATA.findall(raw)}
    found = _EVENT_ID.search(raw)
    if found:
        fields["EventCode"] = found.group(1)
    found = _COMPUTER.search(raw)
    if found:
        fields["Computer"] = html.unescape(found.group(1))
    found = _CHANNEL.search(raw)
    if found:
        fields["Channel"] = found.group(1)
    return fields


def xml_event_id(text):
    """The <EventID> of event XML, or ''."""
    found = _EVENT_ID.search(text)
    return found.group(1) if found else ""


def xml_computer(text):
    """The <Computer> of event XML, unescaped, or ''."""
    found = _COMPUTER.search(text)
    return html.unescape(found.group(1)) if found else ""
