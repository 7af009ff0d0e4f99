"""The t1114 command's own log: $SPLUNK_HOME/var/log/splunk/t1114_command.log, rotated, with
session keys, tokens and passwords masked in every line.

default/logging.conf names CommandLogHandler and sets the levels; splunklib loads that file
(or local/logging.conf) when the command starts. No splunklib import here.
"""

import logging
import logging.handlers
import os
import re
import sys

LOG_FILE = "t1114_command.log"
MASK = "********"
# A secret's name, its separator (`=`, `: `, `': '`, `": "`), an optional auth scheme, its value.
# Covers splunklib's DEBUG dump of the getinfo metadata ({'session_key': '...'}), HTTP
# headers (Authorization: Splunk ...) and key=value text.
_SECRET = re.compile(
    r"""(?P<name>session_?key|auth_?token|authorization|x-splunk-[a-z-]*token|password|passwd|secret|"""
    r"""api_?key|access_?token|refresh_?token|bearer_?token|\btoken)"""
    r"""(?P<separator>['"]?\s*[:=]\s*['"]?)"""
    r"""(?P<scheme>(?:splunk|bearer|basic)\s+)?"""
    r"""[^\s'",;&}\]\)]+""",
    re.IGNORECASE)


def mask_secrets(text):
    return _SECRET.sub(lambda m: m.group("name") + m.group("separator") + (m.group("scheme") or "") + MASK, text)


def splunk_log_folder():
    """$SPLUNK_HOME/var/log/splunk when it exists, else None (not running under Splunk)."""
    home = os.environ.get("SPLUNK_HOME")
    if not home:
        return None
    folder = os.path.join(home, "var", "log", "splunk")
    return folder if os.path.isdir(folder) else None


class CommandLogHandler(logging.handlers.RotatingFileHandler):
    """Rotating file handler for t1114_command.log that masks secrets.

    Outside Splunk (no $SPLUNK_HOME/var/log/splunk) it writes nowhere rather than create
    folders. The path is built here, not in logging.conf, so a Windows $SPLUNK_HOME with
    backslashes never passes through the conf file's Python-literal `args`.
    """

    def __init__(self, max_bytes=10 * 1024 * 1024, backup_count=5):
        folder = splunk_log_folder()
        if folder is None:
            super().__init__(os.devnull, delay=True)  # maxBytes 0: never rotates /dev/null
        else:
            super().__init__(os.path.join(folder, LOG_FILE), maxBytes=max_bytes, backupCount=backup_count,
                             encoding="utf-8", delay=True)

    def format(self, record):
        return mask_secrets(super().format(record))

    def handleError(self, record):
        # logging's default prints the record's message and arguments to stderr, which
        # splunkd keeps in search.log: say only that writing failed.
        error = sys.exc_info()[1]
        try:
            sys.stderr.write("t1114: could not write %s (%s)\n" % (self.baseFilename, type(error).__name__))
        except Exception:  # noqa: BLE001 - nothing left to report to
            pass
