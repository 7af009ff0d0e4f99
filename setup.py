"""Builds the t1114-scan wheel (settings in pyproject.toml): t1114_scan/ plus, under t1114_scan/_app/,
the app's engine with its rules compiled to rules.json (tools/build.py's compile_rule_set, so the
installed tool needs no PyYAML), default/t1114.conf and transforms.conf, the shipped allowlist rows
and the protocol's CSV layout that the scan reads Splunk CSV exports with.

    pip install .          pipx install .          pip wheel --no-deps -w dist .
"""

import configparser
import os
import shutil
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

REPO = os.path.dirname(os.path.abspath(__file__))

# What the scan reads from an app folder (app/engine.py, app/settings.py, app/allowlist.py) and
# imports beside the engine; nothing else of the Splunk app goes into the wheel.
APP_FILES = ("default/t1114.conf", "default/transforms.conf", "bin/t1114_protocol/__init__.py",
             "bin/t1114_protocol/chunk_csv.py", "bin/t1114_protocol/chunk_codec.py",
             "bin/t1114_protocol/chunk_rows.py")
# The shipped allowlist rows are lookups the definitions in default/transforms.conf name.
SHIPPED_LOOKUP_PREFIX = "t1114_shipped_"


def app_version():
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(os.path.join(REPO, "default", "app.conf"))
    return conf["id"]["version"]


def _engine_ignore(directory, names):
    return [n for n in names if n.startswith(".") or n == "__pycache__" or n.endswith((".pyc", ".yml"))]


class BuildWithEngine(build_py):
    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "t1114_scan", "_app")
        if os.path.exists(target):
            shutil.rmtree(target)
        shutil.copytree(os.path.join(REPO, "app"), os.path.join(target, "app"), ignore=_engine_ignore)
        for name in APP_FILES:
            os.makedirs(os.path.dirname(os.path.join(target, name)), exist_ok=True)
            shutil.copy2(os.path.join(REPO, name), os.path.join(target, name))
        os.makedirs(os.path.join(target, "lookups"), exist_ok=True)
        for name in sorted(os.listdir(os.path.join(REPO, "lookups"))):
            if name.startswith(SHIPPED_LOOKUP_PREFIX) and name.endswith(".csv"):
                shutil.copy2(os.path.join(REPO, "lookups", name), os.path.join(target, "lookups", name))
        sys.path.insert(0, REPO)
        from tools.build import compile_rule_set  # the app build's own step: the same checks, the same file

        compile_rule_set(os.path.join(target, "app", "rules", "rules.json"))


setup(version=app_version(), cmdclass={"build_py": BuildWithEngine})
