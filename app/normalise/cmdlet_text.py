"""Finding Exchange cmdlet invocations in free text: script blocks, management-log messages,
process command lines. Returns the cmdlet name and its parameters, the same shape the
Office 365 audit log gives, so one rule serves every source.
"""

import re

# Statement ends: PowerShell separators and the closing of the block or group holding the call.
_STATEMENT_END = frozenset(";|\n\r})")
_PARAM_NAME = re.compile(r"-([A-Za-z][A-Za-z0-9]*)(:?)")


def cmdlet_pattern(cmdlet_names):
    """One regex finding any of `cmdlet_names` as a whole word; compiled once per engine."""
    names = sorted(set(cmdlet_names), key=len, reverse=True)
    if not names:
        return None
    alternatives = "|".join(re.escape(name) for name in names)
    return re.compile(r"(?<![\w-])(%s)(?![\w-])" % alternatives, re.IGNORECASE)


def find_invocations(text, pattern, limit=50):
    """[(cmdlet as written, {lower-case parameter: value})] for each call of a wanted cmdlet."""
    if pattern is None or not text:
        return []
    found = []
    for match in pattern.finditer(text):
        found.append((match.group(1), parse_parameters(text, match.end())))
        if len(found) >= limit:
            break
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


def parse_parameters(text, position, max_chars=20000):
    """Parameters of the call whose arguments start at `position`, up to the statement's end."""
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
        if index >= length:
            break
    close()
    return parameters
