#!/usr/bin/env bash
# `npm test` and CI: install what is missing, type-check and lint, then every test (unit,
# integration on real etcd + PostgreSQL). Ends with the line `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test || exit 1

echo "== npm run check"
npm run -s check || { echo "0 passed, 1 failed"; exit 1; }

report=$(mktemp)
echo "== vitest"
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
rc=$?
# The closing line; also fails the run when a file broke outside its tests, or (CI) on a skip.
npx tsx scripts/vitest-summary.ts "$report" || rc=1
rm -f "$report"
exit $rc
