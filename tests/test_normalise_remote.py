"""Normalisers added for remote collection: Entra ID, Windows logons, and the o365 facts
(calling app, owner, folders, what a directory change added)."""

import json

from app.normalise import NormaliseContext, normalise
from app.normalise.permission_changes import added_tokens
from app.problems import ProblemLog
from tests.splunk_shapes import extracted, raw_only


class _Every:
    def __contains__(self, item):
        return True


def _context(wanted=None):
    return NormaliseContext(_Every() if wanted is None else frozenset(wanted), None, {}, ProblemLog())


def test_added_tokens_keep_only_what_the_change_added():
    assert added_tokens(['"User.Read Mail.ReadWrite"'], ['"User.Read"']) == ("mail.readwrite",)
    assert added_tokens(["Mail.Read"], ["Mail.Read"]) == ()


def test_entra_log_analytics_audit_row():
    """The AuditLogs table export shape: capitalised columns, JSON kept as strings."""
    row = {"OperationName": "Add delegated permission grant", "Category": "ApplicationManagement",
           "InitiatedBy": json.dumps({"user": {"userPrincipalName": "pat@contoso.com"}}),
           "TargetResources": json.dumps([{"displayName": "Microsoft Graph", "modifiedProperties": [
               {"displayName": "DelegatedPermissionGrant.Scope", "oldValue": '"User.Read"',
                "newValue": '"User.Read Mail.Read"'}]}])}
    (event,) = normalise(row, _context())
    assert event.source == "entra" and event.operation == "Add delegated permission grant"
    assert event.actor == "pat@contoso.com" and event.mailbox == "Microsoft Graph"
    assert event.extra["added_values"] == ("mail.read",)


def test_entra_sign_in_failure_keeps_its_error_code():
    record = {"sourcetype": "azure:monitor:aad", "_raw": json.dumps({
        "operationName": "Sign-in activity", "category": "SignInLogs",
        "properties": {"userPrincipalName": "a@contoso.com", "status": {"errorCode": 50126}, "clientAppUsed": "IMAP4"}})}
    (event,) = normalise(record, _context())
    assert event.extra["result"] == "50126" and event.extra["client_app_used"] == "IMAP4"


def test_entra_broken_raw_falls_back_to_fields_and_reports_once():
    context = _context()
    record = {"sourcetype": "azure:monitor:aad", "_raw": "{not json", "operationName": "Sign-in activity",
              "category": "SignInLogs", "properties.clientAppUsed": "POP3", "properties.status.errorCode": "0"}
    for _ in range(3):
        (event,) = normalise(dict(record), context)
        assert event.extra["client_app_used"] == "POP3" and event.extra["result"] == "0"
    assert context.problems.counts()["entra_raw_not_json"] == 3 and len(context.problems.messages()) == 1


def test_entra_operations_no_rule_wants_are_dropped_early():
    record = {"sourcetype": "azure:monitor:aad", "_raw": json.dumps({"operationName": "Add user", "category": "AuditLogs"})}
    assert normalise(record, _context(["sign-in activity"])) == []


def test_windows_logon_is_built_only_when_a_rule_wants_it():
    record = {"sourcetype": "XmlWinEventLog:Security", "EventCode": "4624", "WorkstationName": "RULER"}
    assert normalise(record, _context(["mailitemsaccessed"])) == []
    (event,) = normalise(record, _context(["windowslogon"]))
    assert event.extra["workstation"] == "RULER" and event.extra["event_code"] == "4624"


def test_o365_calling_app_from_client_app_id_or_app_id_never_the_client_string():
    base = {"Operation": "MailItemsAccessed", "RecordType": 50, "UserId": "a@x.com", "MailboxOwnerUPN": "b@x.com"}
    cases = (
        (dict(base, ClientAppId="c1", AppId="a1"), "c1"),
        # The client string is written by the caller: its tag never outranks the record's AppId.
        (dict(base, ClientInfoString="Client=WebServices;curl/8[AppId=0000aaaa-1111];", AppId="a1"), "a1"),
        (dict(base, ClientInfoString="Client=WebServices;curl/8[AppId=0000aaaa-1111];"), ""),
        (dict(base, AppId="a1"), "a1"),
    )
    for audit, expected in cases:
        for record in (raw_only(audit), extracted(audit)):
            (event,) = normalise(record, _context())
            assert event.extra["calling_app_id"] == expected
            assert event.extra["non_owner"] == "true"


def test_o365_folder_permission_facts_in_both_shapes():
    audit = {"Operation": "ModifyFolderPermissions", "RecordType": 2, "UserId": "a@x.com",
             "Item": {"ParentFolder": {"MemberUpn": "Everyone", "MemberRights": "ReadAny", "Path": "\\Inbox"}}}
    for record in (raw_only(audit), extracted(audit)):
        (event,) = normalise(record, _context())
        assert (event.extra["folders"], event.extra["folder_member"], event.extra["folder_rights"]) == \
            ("\\Inbox", "Everyone", "ReadAny")
    flattened = {"sourcetype": "o365:management:activity", "Operation": "ModifyFolderPermissions", "RecordType": "2",
                 "Item.ParentFolder.Path": "\\Inbox", "Item.ParentFolder.MemberUpn": "Default",
                 "Item.ParentFolder.MemberRights": "Reviewer"}
    (event,) = normalise(flattened, _context())
    assert (event.extra["folders"], event.extra["folder_member"]) == ("\\Inbox", "Default")


def test_o365_directory_change_as_flattened_fields():
    record = {"sourcetype": "o365:management:activity", "Operation": "Update application.", "Workload": "AzureActiveDirectory",
              "ModifiedProperties{}.Name": ["RequiredResourceAccess", "Included Updated Properties"],
              "ModifiedProperties{}.NewValue": ['[{"EntitlementId":"810c84a8-4a9e-49e6-bf7d-12d183f40d01"}]',
                                               "RequiredResourceAccess"],
              "ModifiedProperties{}.OldValue": "[]",
              "ExtendedProperties{}.Value": ['{"User-Agent":"x","AppId":"5d0c1d2e-0000-4000-8000-00000000d002"}',
                                             "Application"]}
    (event,) = normalise(record, _context())
    assert "810c84a8-4a9e-49e6-bf7d-12d183f40d01" in event.extra["added_values"]
    assert event.extra["calling_app_id"] == "5d0c1d2e-0000-4000-8000-00000000d002"
