#!/usr/bin/env bash
# Scan exported log files for T1114 Email Collection without Splunk: the t1114_scan package (the
# command `pip install .` installs as t1114-scan), with every
# option explained by --help. Sets itself up on first use: a virtual environment in .venv with
# requirements-scan.txt (rich, PyYAML for the checkout's rules, evtx or python-evtx for .evtx files).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"   # no cd: file names stay relative to where you are
venv="$repo/.venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv" >/dev/null 2>&1 || python3 -m venv "$venv"
if ! cmp -s "$repo/requirements-scan.txt" "$venv/.scan-requirements" 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$repo/requirements-scan.txt" >&2
  cp "$repo/requirements-scan.txt" "$venv/.scan-requirements"
fi
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" exec "$venv/bin/python" -m t1114_scan "$@"
