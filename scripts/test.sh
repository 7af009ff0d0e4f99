#!/usr/bin/env bash
# Run every test: engine, rules, sample replay and protocol tests on Python 3.9 and 3.13 (the
# Pythons Splunk 10 runs apps with), then build the tarball and check it with AppInspect.
# Sets itself up on first use: tox in .venv; Python 3.9 and 3.13 from pyenv when installed there.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: ./scripts/test.sh [tox options] [-- pytest arguments]

Runs every test with tox: ruff (lint, rules in ruff.toml), then the engine, rule,
sample-replay and protocol tests on Python 3.9 and 3.13 (environments py39, py313), then
builds the tarball and checks it with AppInspect (package), then a short fuzz run (fuzz), then
the dashboards: Splunk's validator and each dashboard drawn in headless Chromium (dashboards).
Sets itself up on first use: tox in .venv, and Python 3.9 and 3.13 from pyenv when they are
installed there. AppInspect needs Debian's libmagic1; the dashboards need Node 20 with npm and
Debian's chromium and fonts-liberation (without them that env says so and passes, unless CI=true).

Every argument is passed to tox; after `--` they go to pytest (in py39 and py313), in place
of the default `tests`:

  ./scripts/test.sh                                        everything
  ./scripts/test.sh -e py313 -- tests/test_rules.py        one test file on one Python
  ./scripts/test.sh -e py39,py313 -- tests/test_rules.py   one test file on both
  ./scripts/test.sh -e py313 -- tests/test_rules.py -k forward -x
                                                           tests whose name has "forward"; stop at the first failure
  ./scripts/test.sh -e package                             build the tarball and run AppInspect only
  ./scripts/test.sh -e fuzz                                the fuzz run only (T1114_FUZZ_CASES, T1114_FUZZ_SEED)
  ./scripts/test.sh -e lint                                ruff only
  ./scripts/test.sh -e dashboards                          the dashboard tests only (dashboards/test.sh --help)
  ./scripts/test.sh -e py313 -- -k t1114_003_mailbox_forwarding
                                                           one rule's tests (its events, shapes and schema)
  ./scripts/test.sh -l                                     list tox's environments
  ./scripts/test.sh --tox-help                             tox's own help

Without tox: python3 -m pytest -q tests/test_rules.py (needs pytest, PyYAML and hypothesis).
USAGE
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
esac

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
if [ "${1:-}" = "--tox-help" ]; then
  exec .venv/bin/tox --help
fi
exec .venv/bin/tox "$@"
