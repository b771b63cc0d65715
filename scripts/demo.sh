#!/usr/bin/env bash
# `npm run demo`: install what is missing, then a local 3-node cluster until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
exec node bin/pgwarden.js demo "$@"
