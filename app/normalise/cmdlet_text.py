"""Finding Exchange cmdlet invocations in free text: script blocks and process command lines
read as PowerShell (powershell_commands.py), management-log messages read for the cmdlet
Exchange names. Returns the cmdlet name and its parameters, the same shape the Office 365
audit log gives, so one rule serves every source.
"""

import hashlib
import re
from collections import OrderedDict

from .powershell_commands import FORMAT_JOIN, PLUS_JOIN, invocations
from .powershell_names import DEFAULT_ALIASES, resolve_parameter
from .powershell_tokens import DOUBLE_QUOTES, SINGLE_QUOTES
from ..values import lowered as lower_once

# Statement ends: PowerShell separators and the closing of the block or group holding the call.
_STATEMENT_END = frozenset(";|\n\r})")
_PARAM_NAME = re.compile(r"-([A-Za-z][A-Za-z0-9]*)(:?)")


def cmdlet_pattern(cmdlet_names):
    """One regex finding any of `cmdlet_names` as a whole word; compiled once per engine."""
    names = sorted(set(cmdlet_names), key=len, reverse=True)
    if not names:
        return None
    alternatives = "|".join(re.escape(name) for name in names)
    pattern = re.compile(r"(?<![\w-])(%s)(?![\w-])" % alternatives, re.IGNORECASE)
    if all(name.isascii() for name in names):
        _ASCII_NAMES[pattern] = screen_names(names)
    return pattern


# {compiled cmdlet pattern: its names in lower case}: in ASCII text a call can only be where
# one of the names is a substring of the lowered text, which str's own search finds far
# faster than the regex (most command lines and scripts call no Exchange cmdlet).
_ASCII_NAMES = {}


def screen_names(cmdlet_names):
    """The lower-case words a text calling one of `cmdlet_names` holds one of: each name, and
    each of PowerShell's default aliases for it (`irm` for Invoke-RestMethod)."""
    names = {name.lower() for name in cmdlet_names}
    names.update(alias for alias, target in DEFAULT_ALIASES.items() if target.lower() in names)
    return tuple(sorted(names))


def _cannot_call(text, pattern):
    names = _ASCII_NAMES.get(pattern)
    if names is None or not text.isascii():
        return False  # IGNORECASE folds some non-ASCII letters onto ASCII ones: the regex decides
    if may_hide_a_name(text, names):
        return False
    return not holds_a_name(lower_once(text), names)


def holds_a_name(lowered, names):
    """any(name in lowered for name in names), a verb's names looked for only where the verb
    (`set-`, `new-`) is: a long script holds few of the verbs."""
    groups = _NAMES_BY_VERB.get(names)
    if groups is None:
        by_verb = {}
        for name in names:
            by_verb.setdefault(name.split("-", 1)[0] + "-" if "-" in name else name, []).append(name)
        groups = _NAMES_BY_VERB[names] = tuple((verb, tuple(group)) for verb, group in by_verb.items())
    for verb, group in groups:
        if verb in lowered:
            for name in group:
                if name in lowered:
                    return True
    return False


_NAMES_BY_VERB = {}   # {names: ((verb, its names), ...)}: a handful of name sets per engine


def may_hide_a_name(text, names):
    """(_may_hide_a_name, asked once for the text and names the event's gate just asked about.)"""
    last = _LAST_SCREENED
    if text is not last[0] or names != last[1]:
        last[:] = [text, names, _may_hide_a_name(text, names)]
    return last[2]


# The last (text, names, answer): an event's gate and then its cmdlet scan screen the same text.
_LAST_SCREENED = [None, None, False]


def _may_hide_a_name(text, names):
    """Whether the PowerShell reader could find one of `names` (lower case) in `text` where it
    is not written whole: backticks inside it, or literal pieces joined with `+` or formatted
    with `-f` (powershell_commands.CONCATENATION). Every other way it resolves a name (an alias,
    a variable, a call operator, Get-Command) takes a literal that holds the name itself.

    Joined pieces spell a name in two ways. Run as a command (`& ('New-'+'InboxRule')`, a
    variable or an alias holding them), the joined value is the whole name, so each piece is a
    quoted string, or a format string's text between its `{0}` items, that is itself part of a
    name: a run of characters between quotes, braces, line ends or backslashes (a command line
    run by powershell.exe turns `\\"` into a quote) that some name holds. Run as a script
    (Invoke-Expression, `iex`), the pieces can be anything, so a text naming it is read whenever
    it joins pieces; one that spells `iex` out of pieces is caught by the first rule, `iex`
    being among the names looked for there."""
    lowered = lower_once(text)
    if "`" in text:
        lowered = lowered.replace("`", "")
        if holds_a_name(lowered, names):
            return True
    elif "+" not in text and "-f" not in lowered:
        return False   # no join (CONCATENATION needs one of these), no escape
    if not _joins(text):
        # Escapes run by Invoke-Expression (`n, `") or a shell's \" can make a join the raw text lacks.
        if not ("`" in text or '\\"' in text) or not _joins(lowered.replace('\\"', '"')):
            if not ("`" in text and any(runner in lowered for runner in _RUNNERS)):
                return False
    if any(runner in lowered for runner in _RUNNERS):
        return True
    spelled = "\n".join(names + _RUNNERS)
    return any(piece and piece in spelled for piece in _PIECE_BOUNDS.split(lowered))


def _joins(text):
    """CONCATENATION.search(text) is not None, found as fast as a literal character is."""
    return PLUS_JOIN.search(text) is not None or FORMAT_JOIN.search(text) is not None


# Commands that run a string as a script (the reader follows these and no others), lower case.
_RUNNERS = ("iex", "invoke-expression")
# What bounds a literal piece in the text: quotes, format items' braces, line ends (here-strings), backslashes.
_PIECE_BOUNDS = re.compile("[%s%s{}\r\n\\\\]" % (SINGLE_QUOTES, DOUBLE_QUOTES))


# The parameter a value given before any named parameter binds to (position 0 in each
# cmdlet's syntax): `Set-Mailbox carol@contoso.com -ForwardingSmtpAddress ...` names carol's
# mailbox as -Identity. Cmdlets not listed keep such a value out of their parameters.
_FIRST_POSITIONAL = {
    "set-mailbox": "identity", "set-mailuser": "identity", "set-inboxrule": "identity",
    "enable-inboxrule": "identity", "disable-inboxrule": "identity", "new-inboxrule": "name",
    "new-mailbox": "name", "new-transportrule": "name", "set-transportrule": "identity",
    "add-mailboxpermission": "identity", "add-recipientpermission": "identity",
    "add-mailboxfolderpermission": "identity", "set-mailboxfolderpermission": "identity",
    "new-mailboxexportrequest": "mailbox", "new-managementroleassignment": "name",
    "invoke-restmethod": "uri", "invoke-webrequest": "uri",
}

# What one text may cost: calls read, and characters scanned over all of them. A budget on
# the whole text, not a small count of calls, so decoy calls cannot hide a later one: every
# call in an ordinary script is read, and a hostile one stays a fraction of a second.
MAX_CALLS = 1000
MAX_CALL_CHARS = 20000


def scan_budget(text):
    return 4 * len(text) + MAX_CALL_CHARS


def _report_unread(problems, reason):
    if problems is None:
        return
    if reason == "nesting":
        problems.report("cmdlet_scan_nesting",
                        "A script block or command line nests brackets or assignments deeper than the "
                        "PowerShell reader follows; the commands inside them were not checked.")
    else:
        problems.report("cmdlet_scan_budget",
                        "A script block or command line holds more Exchange cmdlet calls than one event "
                        "is read for (%d calls, or four times its length in characters scanned); the "
                        "calls after that were not checked." % MAX_CALLS)


def find_invocations(text, pattern, problems=None):
    """[(cmdlet, {lower-case parameter: value})] for each call of a wanted cmdlet in a
    PowerShell script or command line, read as PowerShell runs it: the name resolved (escapes,
    aliases, literal pieces, strings Invoke-Expression or powershell.exe runs), parameters by
    their full names where the cmdlet's tables resolve a prefix, a splatted literal hashtable's
    entries as parameters. Comments, strings not run and Get-Help's arguments call nothing.

    When the text holds more than the budget allows, the calls read so far are returned and
    `problems` (a ProblemLog) is told, so an analyst knows a script was only partly read.
    """
    if pattern is None or not text or _cannot_call(text, pattern):
        return []
    key = _reading_key(text, pattern)
    known = _RECENT_READINGS.get(key)
    if known is None:
        known = _read_calls(text, pattern)
        if sum(len(value) for _, parameters in known[0] for _, value in parameters) <= KEPT_VALUE_CHARS:
            _RECENT_READINGS[key] = known
            if len(_RECENT_READINGS) > RECENT_READINGS:
                _RECENT_READINGS.popitem(last=False)
    else:
        _RECENT_READINGS.move_to_end(key)
    calls, unread = known
    if unread:
        _report_unread(problems, unread)
    return [(name, dict(parameters)) for name, parameters in calls]


# The same script block is logged again and again (a module or profile script on every host,
# at every run: 237 distinct texts among the 497 script blocks of the real sample in
# ../shared/datasets), and what a text calls depends only on the text and the names wanted. So
# the answers for the texts read last are kept, by a digest of the text (an attacker cannot make
# two texts share one), not the text itself, and only answers with short parameter values, so
# the memory kept stays small whatever the texts.
RECENT_READINGS = 1024
KEPT_VALUE_CHARS = 4096
_RECENT_READINGS = OrderedDict()


def _reading_key(text, pattern):
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return digest, pattern.pattern, pattern.flags


def _read_calls(text, pattern):
    """((cmdlet, ((parameter, value), ...)), ...) of the wanted calls, and why not all of the
    text was read (None, "budget" or "nesting")."""
    try:
        # Every command is read (the character budget bounds the work): a script's other
        # commands count against no cap that could hide a later Exchange call.
        commands, unread = invocations(text, scan_budget(text))
    except RecursionError:   # bounded nesting makes this unreachable; never kill the search for it
        commands, unread = [], "nesting"
    found = []
    for command in commands:
        name = command.name.rsplit("\\", 1)[-1] if "\\" in command.name else command.name   # Module\Cmdlet
        if name and pattern.fullmatch(name):
            if len(found) >= MAX_CALLS:
                unread = "budget"
                break
            found.append((name, tuple(bind_parameters(name, command.elements).items())))
    return tuple(found), unread


def bind_parameters(cmdlet, elements):
    """{lower-case parameter: value} of an invocation's elements (powershell_commands.Invocation):
    values after a parameter joined with ';' ($null and empty ones left out, so a cleared
    setting reads ''), a switch as 'True', a splatted hashtable's entries, and a value before
    any named parameter as the cmdlet's first positional parameter."""
    parameters = {}
    current, values, positional = None, [], None

    def close():
        if current is not None:
            kept = [v for v in values if v != "" and v.lower() != "$null"]
            parameters[current] = ";".join(kept) if values else "True"

    for kind, payload, _ in elements:
        if kind == "parameter":
            close()
            current, values = resolve_parameter(cmdlet, payload), []
        elif kind == "value":
            texts = [value.strip() for value in payload if isinstance(value, str)]
            if current is not None:
                values.extend(texts)
            elif positional is None and texts and texts[0]:
                positional = texts[0]
        elif kind == "splat" and payload:
            close()
            current = None
            for key, value in payload.items():
                parameters[resolve_parameter(cmdlet, key)] = _splatted(value)
    close()
    name = _FIRST_POSITIONAL.get(cmdlet.lower())
    if positional and name and name not in parameters:
        parameters[name] = positional
    return parameters


def _splatted(value):
    """A splatted hashtable entry as a parameter value."""
    if isinstance(value, list):
        value = ";".join(item.strip() for item in value if item.strip() and item.strip().lower() != "$null")
    if not isinstance(value, str):
        return ""
    return "" if value.strip().lower() == "$null" else value.strip()


def find_logged_invocations(text, pattern, problems=None):
    """[(cmdlet as written, {lower-case parameter: value})] for each wanted cmdlet named in a
    management-log message ("Cmdlet Set-Mailbox, parameters -Identity ..."), which is no
    script: every whole-word name starts a call, its parameters read up to the statement's end.
    """
    if pattern is None or not text or _cannot_call(text, pattern):
        return []
    found = []
    budget = scan_budget(text)
    for match in pattern.finditer(text):
        if len(found) >= MAX_CALLS or budget <= 0:
            _report_unread(problems, "budget")
            break
        parameters, end = _parse_call(text, match.end(), min(MAX_CALL_CHARS, budget))
        budget -= max(end - match.end(), 1)
        positional = parameters.pop(_POSITIONAL, None)
        name = _FIRST_POSITIONAL.get(match.group(1).lower())
        if positional and name and name not in parameters:
            parameters[name] = positional
        found.append((match.group(1), parameters))
    return found


def _read_value(text, position, limit=None):
    """One value token starting at `position`: quoted, grouped @( ) / ( ), or bare; read no
    further than `limit`, so an unclosed quote costs the call's budget, not the whole text."""
    length = len(text) if limit is None else min(len(text), limit)
    opener = text[position]
    if opener in "\"'":
        end = position + 1
        while end < length:
            char = text[end]
            if char == "`" and opener == '"':
                end += 2
                continue
            if char == opener:
                if end + 1 < length and text[end + 1] == opener:  # doubled quote escapes itself
                    end += 2
                    continue
                break
            end += 1
        return text[position + 1:end], min(end + 1, length)
    if text.startswith("@(", position) or opener in "({":
        # A script-block argument ({Subject -like "*x*"}, as -ContentFilter takes) is one value too.
        open_char, close_char = ("{", "}") if opener == "{" else ("(", ")")
        depth, end = 0, position
        while end < length:
            char = text[end]
            if char == open_char:
                depth += 1
            elif char == close_char:
                depth -= 1
                if depth == 0:
                    break
            end += 1
        inner = text[position:end + 1].lstrip("@")[1:-1]
        return inner, min(end + 1, length)
    end = position
    while end < length and not text[end].isspace() and text[end] not in ";|,)}":
        end += 1
    return text[position:end], end


def parse_parameters(text, position, max_chars=MAX_CALL_CHARS):
    """Parameters of the call whose arguments start at `position`, up to the statement's end."""
    parameters = _parse_call(text, position, max_chars)[0]
    parameters.pop(_POSITIONAL, None)
    return parameters


_POSITIONAL = " positional"   # no parameter name has a space


def _parse_call(text, position, max_chars):
    """(parameters, index where reading stopped) for the call whose arguments start at `position`."""
    parameters = {}
    current = None
    values = []
    length = min(len(text), position + max_chars)

    def close():
        if current is not None:
            kept = [v for v in values if v != "" and v.lower() != "$null"]  # $null clears a setting
            parameters[current] = ";".join(kept) if values else "True"

    index = position
    while index < length:
        char = text[index]
        if char in _STATEMENT_END:
            if char in "\r\n" and index > 0 and text[index - 1] == "`":  # line continuation
                index += 1
                continue
            break
        if char.isspace() or char == "," or char == "`":
            index += 1
            continue
        if char == "-":
            named = _PARAM_NAME.match(text, index)
            if named:
                close()
                current, values = named.group(1).lower(), []
                index = named.end()
                continue
        value, after = _read_value(text, index, length)
        index = after if after > index else index + 1  # always move on, whatever the text holds
        # A lone "." is the full stop ending a log sentence, not a value.
        if current is not None and value.strip() != ".":
            values.append(value.strip())
        elif current is None and _POSITIONAL not in parameters and value.strip():
            parameters[_POSITIONAL] = value.strip()
        if index >= length:
            break
    close()
    return parameters, index
