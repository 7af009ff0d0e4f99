"""Reading values the way Splunk hands them over: strings, lists for multivalue, or missing."""

import json
import re

# A value this long is data an attacker padded or a broken extraction; rules only
# ever need the head of it, and slicing keeps per-event cost bounded.
MAX_VALUE_CHARS = 65536

_PORT_SUFFIX = re.compile(r"^(?P<host>[^:\[\]]+):\d+$")
_BRACKETED = re.compile(r"^\[(?P<host>[^\]]*)\](?::\d+)?$")
_ADDRESS_SEPARATORS = re.compile(r"[;,]+")
# "John Doe [SMTP:john@x.com]" is how Exchange prints a recipient with a display name.
# The inner class also stops at "[" so a text full of unclosed "[smtp:" is read once, not
# once per opening (which was quadratic: seconds for one 64 KB value).
_BRACKETED_SMTP = re.compile(r"\[(?:smtp|ex):([^\]\[]+)\]", re.IGNORECASE)
_SMTP_PREFIX = re.compile(r"^(?:smtp|sip|x500):", re.IGNORECASE)
_TRUE_WORDS = frozenset(("true", "$true", "1", "yes", "on"))


class _LastLowered:
    """The last text lower-cased, and its lower case: one event's text (a script block, a
    command line) is lowered by its gate, the cmdlet screening and each rule's regex pre-check
    in turn, and a script block can be tens of kilobytes. Held by identity: the text held here
    cannot be freed, so another text never takes its id."""

    __slots__ = ("text", "lowered")

    def __init__(self):
        self.text = self.lowered = ""


_LAST_LOWERED = _LastLowered()


def lowered(text):
    """text.lower(), computed once for the same text object asked about twice in a row."""
    last = _LAST_LOWERED
    if text is not last.text:
        last.lowered = text.lower()
        last.text = text
    return last.lowered


def as_text(value, limit=MAX_VALUE_CHARS):
    """One string from a Splunk value: a list becomes its first non-empty item."""
    if type(value) is str:  # the usual case, first: this runs dozens of times per event
        return value if len(value) <= limit else value[:limit]
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        for item in value:
            text = as_text(item, limit)
            if text:
                return text
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    elif not isinstance(value, str):
        value = str(value)
    return value if len(value) <= limit else value[:limit]


# A JSON `_raw` is parsed whole or not at all: cut short it is no longer JSON. Audit records
# with long folder lists (MailItemsAccessed) pass 64 KB; past this size the extracted fields
# are used instead, with a message.
MAX_JSON_CHARS = 8 * 1024 * 1024


def raw_json_text(record, problems, kind, what):
    """The event's `_raw` when it looks like a JSON object, whole; '' otherwise."""
    raw = as_text(record.get("_raw"), MAX_JSON_CHARS + 1).lstrip()
    if not raw.startswith("{"):
        return ""
    if len(raw) > MAX_JSON_CHARS:
        problems.report(kind, "%s _raw is longer than %d MB; its extracted fields were used instead."
                        % (what, MAX_JSON_CHARS // (1024 * 1024)))
        return ""
    return raw


def raw_json_object(record, problems, kind, what):
    """The event's `_raw` parsed, when it is a JSON object; None otherwise, with a message when
    it looked like one but did not parse (`<kind>_raw_too_long`, `<kind>_raw_not_json`)."""
    raw = raw_json_text(record, problems, kind + "_raw_too_long", what)
    if not raw:
        return None
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError) as error:  # nesting deeper than Python's stack is an error too
        problems.report(kind + "_raw_not_json",
                        "%s _raw is not valid JSON (%s); its extracted fields were used instead." % (what, error))
        return None
    return parsed if isinstance(parsed, dict) else None


def as_list(value):
    """A list of strings from a Splunk value (missing -> [], scalar -> [scalar])."""
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return [as_text(item) for item in value]
    return [as_text(value)]


def first_field(record, names):
    """The first non-empty value among `names` in a record, as text."""
    for name in names:
        value = record.get(name)
        if value:
            text = as_text(value)
            if text:
                return text
    return ""


def clean_ip(value):
    """ClientIP as the O365 API writes it (ip, ip:port, [v6]:port, ::ffff:ip) -> bare address."""
    text = value.strip()
    if not text:
        return ""
    bracketed = _BRACKETED.match(text)
    if bracketed:
        text = bracketed.group("host")
    else:
        with_port = _PORT_SUFFIX.match(text)
        if with_port:
            text = with_port.group("host")
    if text.lower().startswith("::ffff:") and "." in text:
        text = text[7:]
    return text


def is_true(value):
    """PowerShell and audit-log booleans: True, $true, 1."""
    return as_text(value).strip().lower() in _TRUE_WORDS


def split_addresses(value):
    """Destinations as users write them: 'a@x.com; smtp:b@y.com', lists, quotes -> ['a@x.com', 'b@y.com']."""
    addresses = {}  # a dict keeps first-seen order and finds repeats in constant time
    for item in as_list(value) if not isinstance(value, str) else [value]:
        for part in _ADDRESS_SEPARATORS.split(item):
            inner = _BRACKETED_SMTP.search(part)
            if inner:
                part = inner.group(1)
            part = part.strip().strip("\"'[]()<>{} \t\r\n")
            part = _SMTP_PREFIX.sub("", part)
            if part:
                addresses[part] = None
    return list(addresses)


def domain_of(address):
    """'Bob@Evil.com' -> 'evil.com'; '' when it is not an address."""
    at = address.rfind("@")
    if at < 0:
        return ""
    return address[at + 1:].strip().rstrip(".").lower()
