"""Security posture: secrets never reach a log, the app's objects are read-only to users, the
command opens no connection and runs nothing it reads, and it logs to its own rotated file
at a level set in a conf file."""

import ast
import configparser
import logging
import os
import shutil

import pytest

from t1114_protocol import command_log
from t1114_protocol.command_log import MASK, CommandLogHandler, mask_secrets
from tests.conftest import REPO
from tools.chunked_client import ChunkedCommand, script_path
from tools.fuzz import seed_records

SESSION_KEY = "0123456789abcdef-not-a-real-session-key"  # what tools/chunked_client sends as splunkd would


def _conf(path, **kwargs):
    parser = configparser.ConfigParser(interpolation=None, **kwargs)
    parser.read(path, encoding="utf-8")
    return parser


# -- logging ------------------------------------------------------------------------------

@pytest.fixture()
def splunk_home(tmp_path, monkeypatch):
    home = tmp_path / "splunk"
    (home / "var" / "log" / "splunk").mkdir(parents=True)
    monkeypatch.setenv("SPLUNK_HOME", str(home))
    return home


def _run_command(app_dir, splunk_home, records, extra_env=None):
    env = dict(os.environ, SPLUNK_HOME=str(splunk_home), **(extra_env or {}))
    with ChunkedCommand(script_path(app_dir), ["mode=all"], env=env) as command:
        command.getinfo()
        _, out = command.execute(records, finished=True)
        code = command.close()
    return code, out, command.stderr()


@pytest.fixture()
def app_with_debug_logging(built_app, tmp_path):
    """The built app with a local/logging.conf turning every logger to DEBUG, as an admin would."""
    app_dir = str(tmp_path / "app" / os.path.basename(built_app))
    shutil.copytree(built_app, app_dir)
    os.makedirs(os.path.join(app_dir, "local"))
    with open(os.path.join(REPO, "default", "logging.conf"), encoding="utf-8") as handle:
        text = handle.read().replace("level = WARNING", "level = DEBUG").replace("level = INFO", "level = DEBUG")
    with open(os.path.join(app_dir, "local", "logging.conf"), "w", encoding="utf-8") as handle:
        handle.write(text)
    return app_dir


def test_command_logs_to_its_own_file(built_app, splunk_home):
    records = seed_records()[:4] + [{"sourcetype": "o365:management:activity", "_raw": '{"Operation": "Set-Mailbox", x'}]
    code, out, stderr = _run_command(built_app, splunk_home, records)
    assert code == 0 and len(out) == len(records), stderr
    log = splunk_home / "var" / "log" / "splunk" / command_log.LOG_FILE
    text = log.read_text(encoding="utf-8")
    assert "INFO" in text and "search started" in text and "search ended" in text and "events=5" in text
    assert "WARNING" in text and "not valid JSON" in text
    assert "DEBUG" not in text  # the shipped level is INFO
    assert SESSION_KEY not in text and SESSION_KEY not in stderr


def test_session_key_is_masked_even_at_debug(app_with_debug_logging, splunk_home):
    code, out, stderr = _run_command(app_with_debug_logging, splunk_home, seed_records()[:3])
    assert code == 0, stderr
    text = (splunk_home / "var" / "log" / "splunk" / command_log.LOG_FILE).read_text(encoding="utf-8")
    assert "DEBUG" in text, "local/logging.conf should have turned DEBUG on"
    assert "session_key" in text, "splunklib's DEBUG dump of the metadata is where a key would show"
    assert SESSION_KEY not in text and SESSION_KEY[:16] not in text
    assert SESSION_KEY not in stderr


def test_no_log_file_outside_splunk(built_app, tmp_path, monkeypatch):
    monkeypatch.delenv("SPLUNK_HOME", raising=False)
    env = {k: v for k, v in os.environ.items() if k != "SPLUNK_HOME"}
    with ChunkedCommand(script_path(built_app), ["mode=all"], env=env, cwd=str(tmp_path)) as command:
        command.getinfo()
        command.execute(seed_records()[:2], finished=True)
        assert command.close() == 0
    assert not [name for name in os.listdir(str(tmp_path)) if name != os.path.basename(command.dispatch_dir)]


def test_logging_conf_sets_file_rotation_and_level():
    conf = _conf(os.path.join(REPO, "default", "logging.conf"))
    handler = conf["handler_t1114"]
    assert handler["class"] == "t1114_protocol.command_log.CommandLogHandler"
    max_bytes, backups = ast.literal_eval(handler["args"])
    assert max_bytes >= 1024 * 1024 and backups >= 1
    assert conf["logger_T1114Command"]["level"] == "INFO"
    assert conf["logger_splunklib"]["level"] == "WARNING"
    assert {"t1114"} == {conf[s]["handlers"] for s in conf.sections() if s.startswith("logger_")}


def test_handler_writes_under_splunk_home_and_rotates(splunk_home):
    handler = CommandLogHandler(max_bytes=2000, backup_count=2)
    assert handler.baseFilename == str(splunk_home / "var" / "log" / "splunk" / "t1114_command.log")
    logger = logging.getLogger("t1114-rotation-test")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        for index in range(200):
            logger.info("line %d session_key=%s", index, SESSION_KEY)
    finally:
        logger.removeHandler(handler)
        handler.close()
    folder = splunk_home / "var" / "log" / "splunk"
    names = sorted(os.listdir(str(folder)))
    assert names == ["t1114_command.log", "t1114_command.log.1", "t1114_command.log.2"]
    for name in names:
        text = (folder / name).read_text(encoding="utf-8")
        assert os.path.getsize(str(folder / name)) <= 2000 and SESSION_KEY not in text


def test_handler_failure_does_not_print_the_record(splunk_home, capsys):
    handler = CommandLogHandler()
    handler.baseFilename = str(splunk_home / "missing" / "folder" / "x.log")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token=%s", (SESSION_KEY,), None)
    handler.handle(record)
    handler.close()
    err = capsys.readouterr().err
    assert "could not write" in err and SESSION_KEY not in err


@pytest.mark.parametrize("text", [
    "metadata={'searchinfo': {'session_key': '%s', 'sid': '1'}}",
    '{"session_key": "%s"}',
    "sessionKey=%s&output_mode=json",
    "Authorization: Splunk %s",
    "authorization: Bearer %s",
    "auth_token='%s'",
    "password = %s",
    "token=%s",
    "X-Splunk-Form-Key-Token: %s",
])
def test_secrets_are_masked(text):
    masked = mask_secrets(text % SESSION_KEY)
    assert SESSION_KEY not in masked and MASK in masked


def test_ordinary_text_is_left_alone():
    text = "search ended: sid=1764216000.42 events=5 returned=5 problems={'o365_raw_not_json': 1}"
    assert mask_secrets(text) == text


# -- permissions and shipped configuration -------------------------------------------------

def _meta_stanzas(path):
    """{stanza: {key: value}} of a .meta file (configparser refuses the empty stanza `[]`)."""
    stanzas, current = {}, None
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]"):
                current = stanzas.setdefault(line[1:-1], {})
            else:
                key, _, value = line.partition("=")
                current[key.strip()] = value.strip()
    return stanzas


def test_default_meta_lets_everyone_read_and_only_admins_write():
    meta = _meta_stanzas(os.path.join(REPO, "metadata", "default.meta"))
    # power no longer writes: it could add an allowlist row for its own account (issue 25).
    assert meta[""]["access"].replace(" ", "") == "read:[*],write:[admin,sc_admin,t1114_admin]"
    for stanza, keys in meta.items():
        write = keys.get("access", "").partition("write")[2]
        assert "*" not in write, "stanza [%s] lets everyone write" % stanza
        assert "power" not in write, "stanza [%s] lets power users write" % stanza


def test_app_conf_reloads_logging_conf():
    app = _conf(os.path.join(REPO, "default", "app.conf"))
    assert app["triggers"]["reload.logging"] == "simple"


# -- no network, no evaluation of data -----------------------------------------------------

FORBIDDEN_MODULES = {"socket", "ssl", "http", "urllib", "urllib2", "urllib3", "requests", "httplib2", "ftplib",
                     "smtplib", "telnetlib", "xmlrpc", "asyncio", "subprocess", "multiprocessing", "pickle",
                     "marshal", "shelve", "ctypes", "importlib", "code", "codeop", "runpy"}
# urllib.parse is string work only (percent-decoding a Graph request path), no I/O.
ALLOWED_SUBMODULES = {"urllib.parse"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "execfile", "input"}
FORBIDDEN_ATTRIBUTES = {"system", "popen", "spawnl", "spawnv", "execv", "execve", "startfile", "unsafe_load",
                        "full_load"}
# Loaders that can build arbitrary objects: yaml.load (safe_load is fine), pickle and kin.
UNSAFE_LOADERS = {"yaml", "pickle", "marshal", "shelve", "dill", "jsonpickle"}


def _shipped_python():
    roots = [os.path.join(REPO, "app"), os.path.join(REPO, "bin")]
    for root in roots:
        for folder, _, names in os.walk(root):
            for name in names:
                if name.endswith(".py"):
                    yield os.path.join(folder, name)


def test_shipped_code_has_no_network_or_code_evaluation():
    found = []
    for path in _shipped_python():
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        where = os.path.relpath(path, REPO)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += ["%s imports %s" % (where, a.name) for a in node.names
                          if a.name.split(".")[0] in FORBIDDEN_MODULES and a.name not in ALLOWED_SUBMODULES]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.split(".")[0] in FORBIDDEN_MODULES and node.module not in ALLOWED_SUBMODULES:
                    found.append("%s imports from %s" % (where, node.module))
            elif isinstance(node, ast.Call):
                function = node.func
                if isinstance(function, ast.Name) and function.id in FORBIDDEN_CALLS:
                    found.append("%s:%d calls %s()" % (where, node.lineno, function.id))
                elif isinstance(function, ast.Attribute) and function.attr in FORBIDDEN_ATTRIBUTES:
                    found.append("%s:%d calls .%s()" % (where, node.lineno, function.attr))
                elif (isinstance(function, ast.Attribute) and function.attr in ("load", "loads", "load_all")
                      and isinstance(function.value, ast.Name) and function.value.id in UNSAFE_LOADERS):
                    found.append("%s:%d calls %s.%s()" % (where, node.lineno, function.value.id, function.attr))
            elif isinstance(node, ast.Attribute) and node.attr == "service":
                found.append("%s:%d uses splunklib's REST service" % (where, node.lineno))
    assert found == []


SITECUSTOMIZE = '''
import os, socket
_marker = os.environ["T1114_NETWORK_MARKER"]

def _refuse(*args, **kwargs):
    with open(_marker, "a") as handle:
        handle.write("network use: %r\\n" % (args[1:] if len(args) > 1 else args,))
    raise OSError("network disabled by the test")

socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.socket.sendto = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
'''


def test_command_opens_no_connection_and_runs_nothing_from_data(built_app, splunk_home, tmp_path):
    """The real command under a socket layer that records any use; data that looks like code."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    marker = tmp_path / "network.txt"
    pwned = tmp_path / "pwned"
    payloads = [
        "__import__('os').system('touch %s')" % pwned,
        "$(touch %s)" % pwned, "`touch %s`" % pwned, "{{7*7}} ${7*7} %s" % pwned,
        "Invoke-Expression 'New-Item %s'; New-InboxRule -Name x -ForwardTo a@b.example" % pwned,
    ]
    records = []
    for seed in seed_records():
        for payload in payloads:
            records.append({name: (payload if name != "sourcetype" else value) for name, value in seed.items()})
    records += seed_records()
    code, out, stderr = _run_command(built_app, splunk_home, records,
                                     {"PYTHONPATH": str(site), "T1114_NETWORK_MARKER": str(marker)})
    assert code == 0 and len(out) == len(records), stderr[-2000:]
    assert not marker.exists(), marker.read_text() if marker.exists() else ""
    assert not pwned.exists()
