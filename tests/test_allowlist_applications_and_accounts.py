"""The allowlists the remote-collection rules rely on: applications by calling app id, and
accounts narrowed by mailbox and grantee."""

import json

from tests.conftest import without_unsigned
from tests.splunk_shapes import extracted, raw_only

GRAPH_READ = {
    "Operation": "MailItemsAccessed", "RecordType": 50, "Workload": "Exchange", "UserType": 0,
    "UserId": "pat@contoso.com", "MailboxOwnerUPN": "pat@contoso.com", "LogonType": 0,
    "AppId": "00000003-0000-0000-c000-000000000000", "ClientAppId": "11111111-2222-4333-8444-555555555555",
    "ClientInfoString": "Client=REST;;", "OperationCount": 3,
}
APP_HEADER = "app_id,name,rules,valid_from,valid_until,reason,source\n"


def _statuses(engine, audit):
    return [engine.detect(shape) for shape in (raw_only(audit), extracted(audit))]


def test_application_row_suppresses_by_client_app_id(engine_with_lookups):
    engine = engine_with_lookups({"t1114_allowlist_applications.csv": APP_HEADER +
                                  "11111111-2222-4333-8444-555555555555,Archiver,t1114_002_mail_items_accessed_*,,,"
                                  "journaling archive,https://example.invalid/vendor-doc\n"})
    for findings in _statuses(engine, GRAPH_READ):
        assert findings and all(f.suppressed_by for f in findings)
        assert "journaling archive" in findings[0].suppressed_by


ARCHIVER = "4a5d3c2b-0000-4000-8000-00000000b001"
ROGUE = "9e1f7a20-0000-4000-8000-00000000e666"
EWS_READ = dict(GRAPH_READ, AppId=ARCHIVER, ClientAppId=ARCHIVER, ClientInfoString=(
    "Client=WebServices;ExchangeWebServicesProxy/CrossSite/EXCH/15.20.7249.024/python-requests/2.31.0"
    "[AppId=%s];" % ARCHIVER))


def _archiver_allowed(engine_with_lookups):
    return engine_with_lookups({"t1114_allowlist_applications.csv": APP_HEADER +
                                "%s,Archiver,,,,journaling archive over EWS,vendor doc\n" % ARCHIVER})


def test_application_row_suppresses_the_archivers_own_ews_reads(engine_with_lookups):
    """The record names the archiver in AppId and ClientAppId, its client string tags the same id."""
    engine = _archiver_allowed(engine_with_lookups)
    for findings in _statuses(engine, EWS_READ):
        assert [f.rule.id for f in findings] == ["t1114_002_mail_items_accessed_ews"]
        assert "journaling archive" in findings[0].suppressed_by


def test_a_rogue_app_naming_the_archiver_in_its_user_agent_is_not_suppressed(engine_with_lookups):
    """The client string is what the caller writes: the record's own AppId decides."""
    engine = _archiver_allowed(engine_with_lookups)
    rogue = dict(EWS_READ, AppId=ROGUE, ClientAppId=ROGUE,
                 ClientInfoString="Client=WebServices;python-requests/2.31.0[AppId=%s];[AppId=%s];" % (ARCHIVER, ROGUE))
    for audit in (rogue, dict(rogue, ClientAppId=""), dict(rogue, AppId="", ClientAppId="")):
        for findings in _statuses(engine, audit):
            assert [f.rule.id for f in findings] == ["t1114_002_mail_items_accessed_ews"]
            assert not findings[0].suppressed_by, audit


def test_expired_application_row_no_longer_suppresses(engine_with_lookups):
    engine = engine_with_lookups({"t1114_allowlist_applications.csv": APP_HEADER +
                                  "11111111-2222-4333-8444-555555555555,Migration,,,2020-01-31,finished project,SOW\n"})
    for findings in _statuses(engine, GRAPH_READ):
        assert findings and not any(f.suppressed_by for f in findings)


def test_accounts_file_without_the_new_columns_still_loads(engine_with_lookups):
    engine = engine_with_lookups({"t1114_allowlist_accounts.csv":
                                  "account,rules,valid_from,valid_until,reason\n"
                                  "migrationwiz@contoso.com,t1114_002_impersonation_role,2025-11-01,2025-12-31,"
                                  "MigrationWiz tenant move\n"})
    assert not [m for m in without_unsigned(engine.problems.messages()) if "t1114_allowlist_accounts" in m]
    record = raw_only({"Operation": "New-ManagementRoleAssignment", "RecordType": 1, "UserType": 2,
                       "UserId": "migrationwiz@contoso.com",
                       "Parameters": [{"Name": "Role", "Value": "ApplicationImpersonation"},
                                      {"Name": "User", "Value": "migrationwiz@contoso.com"}]})
    findings = engine.detect(record)  # the event time (2025-11-27) is inside the migration window
    assert findings and findings[0].suppressed_by


def test_discovery_row_does_not_cover_other_mailboxes(engine):
    audit = {"Operation": "Add-MailboxPermission", "RecordType": 1, "UserType": 2, "UserId": "admin@contoso.com",
             "Parameters": [{"Name": "Identity", "Value": "ceo@contoso.com"},
                            {"Name": "User", "Value": "Discovery Management"},
                            {"Name": "AccessRights", "Value": "FullAccess"}]}
    for findings in _statuses(engine, audit):
        assert findings and not findings[0].suppressed_by
    audit["Parameters"][0]["Value"] = "tenant/DiscoverySearchMailbox{D919BA05-46A6-415f-80AD-7E09334BB852}"
    for findings in _statuses(engine, audit):
        assert findings and findings[0].suppressed_by


def test_system_identity_rows_do_not_cover_exports(engine):
    """A webshell running as SYSTEM exports mailboxes (ProxyShell); the shipped system rows stop short of that."""
    record = raw_only({"Operation": "New-MailboxExportRequest", "RecordType": 1, "UserType": 3,
                       "UserId": "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)",
                       "Parameters": [{"Name": "Mailbox", "Value": "ceo"},
                                      {"Name": "FilePath", "Value": "\\\\127.0.0.1\\c$\\inetpub\\x.aspx"}]})
    findings = engine.detect(record)
    assert findings and not findings[0].suppressed_by
    assert json.loads(record["_raw"])["Operation"] == "New-MailboxExportRequest"


def test_shipped_rows_load_without_problems(engine):
    assert not [m for m in without_unsigned(engine.problems.messages()) if "allowlist" in m]
