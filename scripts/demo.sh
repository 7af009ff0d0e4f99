#!/usr/bin/env bash
# Build the app and run `| t1114` over the bundled sample events, printing the findings.
# Sets itself up on first use: a virtual environment in .venv with what the build and the scan need.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv >/dev/null 2>&1 || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-build.txt -r requirements-scan.txt
exec .venv/bin/python tools/demo.py "$@"
