"""The one builder of cmdlet events: each Exchange cmdlet called in a text (a script block, a
management-log entry, a process command line) becomes one MailEvent, whatever source it came in.
"""

from ..event import MailEvent
from .cmdlet_text import find_invocations, find_logged_invocations
from .mailbox import cmdlet_mailbox


# Sources whose text is a log's sentence naming the cmdlet that ran, not a script.
LOGGED_SOURCES = frozenset(("exchange_cmdlet_log",))


def cmdlet_events(source, text, context, actor, host, shown_text, clean_value=None):
    """[MailEvent] for each cmdlet of `context.cmdlet_pattern` called in `text`: a script or
    command line read as PowerShell, a management-log message for the cmdlet it names. The
    mailbox is read from the parameters as written; `clean_value` (e.g. stripping a command
    line's outer quotes) applies to the parameters the event carries."""
    events = []
    find = find_logged_invocations if source in LOGGED_SOURCES else find_invocations
    for cmdlet, parameters in find(text, context.cmdlet_pattern, context.problems):
        event = MailEvent(source, cmdlet)
        event.parameters = parameters if clean_value is None else \
            {name: clean_value(value) for name, value in parameters.items()}
        event.actor = actor
        event.dest = host
        event.mailbox = cmdlet_mailbox(cmdlet, parameters, actor)
        event.text = shown_text
        events.append(event)
    return events
