#!/usr/bin/env bash
# Run every test: engine, rules, sample replay and protocol tests on Python 3.9 and 3.13 (the
# Pythons Splunk 10 runs apps with), then build the tarball and check it with AppInspect.
# Sets itself up on first use: tox in .venv; Python 3.9 and 3.13 from pyenv when installed there.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv >/dev/null 2>&1 || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check "tox>=4,<5"
if command -v pyenv >/dev/null 2>&1; then
  for version in 3.9 3.13; do
    prefix=$(pyenv prefix "$version" 2>/dev/null || true)
    # Appended, not prepended: only the python3.9/python3.13 names are wanted from there.
    [ -n "$prefix" ] && PATH="$PATH:$prefix/bin"
  done
  export PATH
fi
exec .venv/bin/tox "$@"
