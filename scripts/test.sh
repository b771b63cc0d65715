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
node -e '
  const fs = require("fs");
  let r = {};
  try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch {}
  const passed = r.numPassedTests ?? 0, failed = (r.numFailedTests ?? 0), skipped = r.numPendingTests ?? 0;
  const broken = (r.testResults ?? []).filter((f) => f.status === "failed" && (f.assertionResults ?? []).length === 0).length;
  console.log(`${passed} passed, ${failed + broken} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$report"
rm -f "$report"
exit $rc
