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


TENANT = "EURPR01A002.prod.outlook.com/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com/"
DISCOVERY_MAILBOX = TENANT + "DiscoverySearchMailbox{D919BA05-46A6-415f-80AD-7E09334BB852}"
SERVICE = "NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)"


def _discovery_grant(actor, mailbox=DISCOVERY_MAILBOX, grantee=TENANT + "Discovery Management", user_type=3):
    """Add-MailboxPermission as Exchange Online audits the provisioning grant (elastic/integrations
    test-exchange-admin.log): UserType 3, empty AppId, org-qualified Identity and User."""
    return {"CreationTime": "2026-11-27T04:00:00", "Operation": "Add-MailboxPermission", "RecordType": 1,
            "Workload": "Exchange", "ResultStatus": "True", "UserType": user_type, "UserId": actor, "UserKey": actor,
            "AppId": "", "ClientAppId": "", "ExternalAccess": True, "ObjectId": mailbox,
            "OrganizationName": "contoso.onmicrosoft.com",
            "Parameters": [{"Name": "DomainController", "Value": ""}, {"Name": "Identity", "Value": mailbox},
                           {"Name": "User", "Value": grantee}, {"Name": "AccessRights", "Value": "FullAccess"}]}


def test_discovery_row_suppresses_only_the_grant_exchange_itself_makes(engine):
    for findings in _statuses(engine, _discovery_grant(SERVICE)):
        assert [f.rule.id for f in findings] == ["t1114_002_mailbox_permission_grant"]
        assert " row discovery_management_grant (" in findings[0].suppressed_by


def test_discovery_grants_by_people_are_findings(engine):
    """FullAccess on the discovery mailbox (which holds search results: copies of other mailboxes'
    mail) or to a look-alike group, granted by anyone but Exchange's service identity."""
    attempts = (
        _discovery_grant("admin@contoso.com", user_type=2),
        _discovery_grant("admin@contoso.com", grantee=TENANT + "Evil Discovery Management", user_type=2),
        _discovery_grant("admin@contoso.com", mailbox="ceo@contoso.com", grantee="Discovery Management", user_type=2),
        _discovery_grant("admin@contoso.com", mailbox="DiscoverySearchMailbox{D919BA05-46A6-415f-80AD-7E09334BB852}",
                         grantee="Discovery Management", user_type=2),
    )
    for audit in attempts:
        for findings in _statuses(engine, audit):
            assert [f.rule.id for f in findings] == ["t1114_002_mailbox_permission_grant"], audit
            assert not findings[0].suppressed_by, audit


def test_discovery_row_does_not_cover_other_grants_by_the_service(engine_with_lookups):
    """With the broad exchange_servicehost row off, the service identity granting FullAccess to
    another group or on another mailbox is a finding: the discovery row covers one grant."""
    engine = engine_with_lookups({"t1114_overrides.csv": "target_type,target,state,reason\n"
                                  "shipped_row,exchange_servicehost,off,test\n"})
    for findings in _statuses(engine, _discovery_grant(SERVICE)):
        assert " row discovery_management_grant (" in findings[0].suppressed_by
    for audit in (_discovery_grant(SERVICE, grantee=TENANT + "Mallory"),
                  _discovery_grant(SERVICE, mailbox=TENANT + "ceo")):
        for findings in _statuses(engine, audit):
            assert findings and not findings[0].suppressed_by, audit


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
