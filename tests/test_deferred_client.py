"""bin/t1114_protocol/deferred_client.py: a search never imports splunklib.client (nor the
ssl, http and email modules it brings), and anything that does use it still gets the real one."""

import json
import os
import subprocess
import sys

from tools.chunked_client import run, script_path
from tests.helpers import rule_event_records

NEVER_IMPORTED = ("splunklib.client", "splunklib.binding", "ssl", "http.client")


def _imported(stderr):
    """Module names Python's -X importtime reported in a process's stderr."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def test_a_search_never_imports_splunklib_client(built_app):
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1")
    result = run(script_path(built_app), rule_event_records(), args=["mode=all"], chunk_size=7, env=env)
    assert result["exit_code"] == 0, result["stderr"][-2000:]
    assert any(record["t1114_status"] == "finding" for record in result["records"])
    imported = _imported(result["stderr"])
    assert {"splunklib.searchcommands", "t1114_protocol.deferred_client", "app.engine"} <= imported
    assert not imported & set(NEVER_IMPORTED), sorted(imported & set(NEVER_IMPORTED))


def _in_fresh_python(built_app, code):
    """Runs `code` in a new interpreter with the built app's paths, returns what it printed as JSON."""
    prelude = ("import json, sys\nsys.path[:0] = [%r, %r]\n"
               % (os.path.join(built_app, "lib"), os.path.join(built_app, "bin")))
    completed = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_the_stand_in_gives_the_real_client_when_used(built_app):
    seen = _in_fresh_python(built_app, """
from t1114_protocol import deferred_client
placed = deferred_client.defer()
from splunklib.searchcommands import search_command
before = sorted(name for name in %r if name in sys.modules and name != "splunklib.client")
deferred = deferred_client.is_deferred()
# What SearchCommand.service builds for a command that calls splunkd back:
service = search_command.Service(scheme="https", host="127.0.0.1", port=8089, app="search", token="x")
import splunklib.client as client
print(json.dumps({"placed": placed, "before": before, "deferred_before": deferred,
                  "deferred_after": deferred_client.is_deferred(),
                  "real_service": type(service) is client.Service,
                  "same_module": sys.modules["splunklib.client"] is client and sys.modules["splunklib"].client is client,
                  "other_names": callable(client.connect) and hasattr(client, "Index")}))
""" % (NEVER_IMPORTED,))
    assert seen == {"placed": True, "before": [], "deferred_before": True, "deferred_after": False,
                    "real_service": True, "same_module": True, "other_names": True}


def test_any_other_name_loads_the_real_module(built_app):
    seen = _in_fresh_python(built_app, """
from t1114_protocol import deferred_client
deferred_client.defer()
import splunklib
connect = splunklib.client.connect   # through the stand-in: not one it has itself
import splunklib.client as client
print(json.dumps({"real": connect is client.connect, "deferred": deferred_client.is_deferred(),
                  "ssl": "ssl" in sys.modules}))
""")
    assert seen == {"real": True, "deferred": False, "ssl": True}


def test_nothing_is_deferred_once_the_client_is_imported(built_app):
    seen = _in_fresh_python(built_app, """
import splunklib.client as client
from t1114_protocol import deferred_client
print(json.dumps({"placed": deferred_client.defer(), "kept": sys.modules["splunklib.client"] is client}))
""")
    assert seen == {"placed": False, "kept": True}
