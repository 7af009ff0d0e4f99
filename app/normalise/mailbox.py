"""Whose mailbox an action touched, where the audit names something else.

An inbox rule's identity is `<mailbox>\\<rule name>` (`bob@contoso.com\\Team`, or in Office 365
audit `.../contoso.onmicrosoft.com/j.doe\\keep-up`): the mailbox is the part before the rule
name. A rule a user makes in their own mailbox names no mailbox at all: it is the user's.
"""

INBOX_RULE_OPERATIONS = frozenset((
    "new-inboxrule", "set-inboxrule", "enable-inboxrule", "disable-inboxrule", "remove-inboxrule",
    "updateinboxrules",
))


def cmdlet_mailbox(cmdlet, parameters, actor):
    """The mailbox an Exchange cmdlet acts on, from its parameters as written: an inbox rule's
    (inbox_rule_mailbox), else -Identity, else -Mailbox."""
    if cmdlet.lower() in INBOX_RULE_OPERATIONS:
        return inbox_rule_mailbox(parameters, actor)
    return parameters.get("identity") or parameters.get("mailbox") or ""


def inbox_rule_mailbox(parameters, actor, owner="", object_id=""):
    """The mailbox of an inbox-rule action: the audited owner, the -Mailbox parameter, the
    mailbox part of -Identity or of the audit's ObjectId, else the acting user's own."""
    if owner:
        return owner
    if parameters.get("mailbox"):
        return parameters["mailbox"]
    for identity in (parameters.get("identity", ""), object_id):
        if "\\" in identity:
            mailbox = identity.rsplit("\\", 1)[0].strip()
            if mailbox:
                return _readable(mailbox, actor)
    return actor


def _readable(mailbox, actor):
    """A directory path (`.../contoso.onmicrosoft.com/j.doe`) whose last part is the acting
    user's own name is the user's mailbox: say so with the user's address."""
    if "/" in mailbox and actor:
        last = mailbox.rsplit("/", 1)[1].lower()
        if last and last in (actor.lower(), actor.lower().split("@")[0], actor.lower().rsplit("\\", 1)[-1]):
            return actor
    return mailbox
