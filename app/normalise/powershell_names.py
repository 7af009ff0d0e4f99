"""Names as PowerShell resolves them: its default aliases (iex, irm, iwr, ...) and the
parameter prefixes it binds (`-ForwardingSmtp` for -ForwardingSmtpAddress), from Microsoft's
parameter tables (powershell_parameters.py). Plain data and functions, for any reader of
PowerShell text.
"""

from .powershell_parameters import CMDLET_PARAMETERS, COMMON_PARAMETERS

# PowerShell's built-in aliases a script may use for the commands that run or fetch code
# (Get-Alias in Windows PowerShell 5.1; curl and wget are 5.1's only) and for those that
# define aliases, so an alias of an alias resolves too. Lower-case alias: command name.
DEFAULT_ALIASES = {
    "iex": "Invoke-Expression", "irm": "Invoke-RestMethod", "iwr": "Invoke-WebRequest",
    "curl": "Invoke-WebRequest", "wget": "Invoke-WebRequest", "icm": "Invoke-Command",
    "sal": "Set-Alias", "nal": "New-Alias", "gcm": "Get-Command", "ipmo": "Import-Module",
    "man": "Get-Help", "help": "Get-Help", "saps": "Start-Process", "start": "Start-Process",
    "iwmi": "Invoke-WmiMethod", "icim": "Invoke-CimMethod", "%": "ForEach-Object",
    "foreach": "ForEach-Object", "?": "Where-Object", "where": "Where-Object", "gal": "Get-Alias",
    "ii": "Invoke-Item", "sc": "Set-Content", "ac": "Add-Content", "gc": "Get-Content",
    "cat": "Get-Content", "type": "Get-Content", "echo": "Write-Output", "write": "Write-Output",
    "cpi": "Copy-Item", "copy": "Copy-Item", "cp": "Copy-Item", "ni": "New-Item",
}

# The common parameters' own aliases (about_CommonParameters).
COMMON_PARAMETER_ALIASES = {
    "db": "Debug", "ea": "ErrorAction", "ev": "ErrorVariable", "infa": "InformationAction",
    "iv": "InformationVariable", "ob": "OutBuffer", "ov": "OutVariable", "pv": "PipelineVariable",
    "proga": "ProgressAction", "vb": "Verbose", "wa": "WarningAction", "wv": "WarningVariable",
    "wi": "WhatIf", "cf": "Confirm",
}

# {lower-case cmdlet: {lower-case parameter: its name}}, built once from the data module.
_PARAMETERS = {cmdlet.lower(): {name.lower(): name for name in names + COMMON_PARAMETERS}
               for cmdlet, names in CMDLET_PARAMETERS.items()}


def resolve_alias(name, aliases=None):
    """The command an alias stands for (the script's own `aliases` first, then PowerShell's),
    following an alias of an alias a few steps; `name` itself when it is no alias."""
    for _ in range(8):
        lowered = name.lower()
        target = (aliases or {}).get(lowered) or DEFAULT_ALIASES.get(lowered)
        if not target or target.lower() == lowered:
            return name
        name = target
    return name


def resolve_parameter(cmdlet, written):
    """The lower-case parameter `written` binds for `cmdlet`: the full name when `written` is
    a name or an unambiguous prefix of one of its parameters (as PowerShell binds it); else
    `written` in lower case as it is (an ambiguous prefix PowerShell refuses, or a cmdlet or
    parameter the tables do not hold)."""
    lowered = written.lower()
    names = _PARAMETERS.get(cmdlet.lower())
    if not names or not lowered:
        return lowered
    if lowered in names:
        return lowered
    if lowered in COMMON_PARAMETER_ALIASES:
        return COMMON_PARAMETER_ALIASES[lowered].lower()
    matches = [name for name in names if name.startswith(lowered)]
    return matches[0] if len(matches) == 1 else lowered


def known_parameters(cmdlet):
    """The parameter names (lower case) the tables hold for `cmdlet`, empty when none."""
    return frozenset(_PARAMETERS.get(cmdlet.lower(), ()))
