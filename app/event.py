"""The one event shape every normaliser produces and every rule reads."""


class MailEvent:
    """A security-relevant action, whatever source it came from.

    Names are lower-case keys so rules can address them as `param.forwardto`,
    `prop.ruleactions`, `inbox_rule.actions` and so on (see app/conditions.py).
    """

    __slots__ = (
        "source",          # which normaliser made it: o365, entra, powershell, exchange_cmdlet_log,
                           # message_tracking, windows_logon, process, file, graph_activity
                           # (Defender XDR rows come out as process, file or o365)
        "operation",       # cmdlet or audit operation, as written (New-InboxRule, UpdateInboxRules, ...)
        "parameters",      # {lower-case parameter name: value string}
        "properties",      # {lower-case OperationProperties name: value string}
        "actor",           # who did it (UserId, script user, ...)
        "mailbox",         # whose mailbox or which object it touched
        "src",             # client address, ports and brackets stripped
        "dest",            # host the action ran on or was aimed at
        "app_id",
        "client_info",
        "user_type",
        "logon_type",
        "organization",
        "time",            # epoch seconds or None
        "text",            # free text the event carried (script block, log message)
        "rule_actions",    # inbox-rule action kinds parsed from OperationProperties: forward, redirect, delete, ...
        "rule_recipients", # addresses those inbox-rule actions send to
        "extra",           # {lower-case name: value} for source-specific facts rules may test
    )

    def __init__(self, source, operation=""):
        self.source = source
        self.operation = operation
        self.parameters = {}
        self.properties = {}
        self.actor = ""
        self.mailbox = ""
        self.src = ""
        self.dest = ""
        self.app_id = ""
        self.client_info = ""
        self.user_type = ""
        self.logon_type = ""
        self.organization = ""
        self.time = None
        self.text = ""
        self.rule_actions = ()
        self.rule_recipients = ()
        self.extra = {}

    def complete(self):
        """Compute any facts the reader left for later: the engine calls this before it makes
        a finding, whose escalations, reason, allowlists and output fields may read any fact.
        Most readers compute every fact at once; one that defers some gives its events a class
        of their own (o365.py's AuditEvent)."""

    def value(self, path):
        """The value at a rule field path ('actor', 'param.forwardto', 'extra.event_id'), or ''."""
        head, _, rest = path.partition(".")
        if not rest:
            return getattr(self, head, "")
        if head == "param":
            return self.parameters.get(rest, "")
        if head == "prop":
            return self.properties.get(rest, "")
        if head == "extra":
            return self.extra.get(rest, "")
        if head == "inbox_rule":
            if rest == "actions":
                return self.rule_actions
            if rest == "recipients":
                return self.rule_recipients
        return ""

    def __repr__(self):
        return "MailEvent(%s %s actor=%r mailbox=%r params=%r)" % (
            self.source, self.operation, self.actor, self.mailbox, self.parameters)
