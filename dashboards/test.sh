#!/usr/bin/env bash
# The dashboard tests: Splunk's validator over every definition, then every dashboard drawn in
# headless Chromium from fixtures of the t1114 command's output on the sample events.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: dashboards/test.sh [dashboard name ...]

Checks the app's Dashboard Studio definitions (default/data/ui/views/*.xml):
  1. npm ci from dashboards/package-lock.json, when node_modules/ is missing or older than it;
  2. python dashboards/fixtures.py: the sample events through the real t1114 command, and from
     its output one fixture result per search data source (dashboards/build/fixtures.json);
  3. node validate.cjs: Splunk's validator (@splunk/dashboard-validation, Enterprise preset)
     and the data-source references the validator does not check;
  4. node render.cjs: each dashboard drawn by @splunk/dashboard-core in headless Chromium,
     a screenshot of each in dashboards/screenshots/.
Needs Node 20 with npm, and Debian's chromium (apt-get install chromium fonts-liberation;
another binary with T1114_CHROMIUM). Without them it says so and exits 0, or 1 when CI=true.
Run by ./scripts/test.sh (tox env dashboards); alone: ./scripts/test.sh -e dashboards.
USAGE
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
esac

cd "$(dirname "$0")"
chromium="${T1114_CHROMIUM:-/usr/bin/chromium}"
missing=()
command -v node >/dev/null 2>&1 || missing+=("node")
command -v npm >/dev/null 2>&1 || missing+=("npm")
[ -x "$chromium" ] || missing+=("$chromium (Debian: apt-get install chromium fonts-liberation)")
if [ "${#missing[@]}" -gt 0 ]; then
  echo "dashboard tests not run: missing ${missing[*]}" >&2
  [ "${CI:-}" = "true" ] && exit 1
  exit 0
fi
stamp=node_modules/.t1114-package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
"${PYTHON:-python3}" fixtures.py
node validate.cjs
node render.cjs "$@"
