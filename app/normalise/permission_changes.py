"""What a directory change added: the tokens present in the new values of its modified
properties and absent from the old ones. Used for app-permission grants in the Office 365
audit shape ("ModifiedProperties") and the Entra AuditLogs shape ("modifiedProperties"),
so "User.Read" -> "User.Read Mail.ReadWrite" yields ("mail.readwrite",) and a permission
already held before the change is not reported again."""

import re

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*[A-Za-z0-9]|[A-Za-z0-9]")
_MAX_TOKENS = 2000


def tokens(texts):
    """Lower-case identifier-like tokens (scope names, GUIDs) of some strings."""
    found = set()
    for text in texts:
        if not text:
            continue
        for token in _TOKEN.findall(text):
            found.add(token.lower())
            if len(found) >= _MAX_TOKENS:
                return found
    return found


def added_tokens(new_values, old_values):
    """Tokens of the new values not in the old ones, in a stable order."""
    added = tokens(new_values) - tokens(old_values)
    return tuple(sorted(added))
