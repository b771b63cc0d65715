#!/usr/bin/env bash
# Installs what pgwarden runs on a fresh Debian machine with Node 20: the Debian packages of the
# table below, then the npm packages. Idempotent: installs only what is missing.
#
#   install-deps.sh           the demo and every agent   (group demo)
#   install-deps.sh --test    npm test, CI               (groups demo, test)
#   install-deps.sh --bench   the benchmarks of bench/   (groups demo, test, bench)
set -euo pipefail
cd "$(dirname "$0")/.."

# Every executable that src/, test/, bench/ or scripts/ runs and that is neither part of Node nor
# of Debian's required base system, with the package that provides it. A package is installed
# when one of its executables is missing. test/unit/installed-executables.test.ts scans the code
# for what it spawns and fails on anything missing here (or listed under a later group than the
# code that runs it needs), and checks each path against the package that really owns it.
# group  package               executables
read -r -d '' PACKAGES <<'TABLE' || true
demo   postgresql-15         /usr/lib/postgresql/15/bin/initdb /usr/lib/postgresql/15/bin/pg_ctl /usr/lib/postgresql/15/bin/postgres /usr/lib/postgresql/15/bin/pg_controldata /usr/lib/postgresql/15/bin/pg_rewind
demo   postgresql-client-15  /usr/lib/postgresql/15/bin/pg_basebackup
demo   etcd-server           /usr/bin/etcd
test   etcd-client           /usr/bin/etcdctl
test   patroni               /usr/bin/patronictl /usr/bin/patroni
test   python3-minimal       /usr/bin/python3
test   openssl               /usr/bin/openssl
test   iproute2              /usr/sbin/ip
test   nftables              /usr/sbin/nft
test   chromium              /usr/bin/chromium
bench  wrk                   /usr/bin/wrk
bench  procps                /usr/bin/ps /usr/bin/pgrep /usr/bin/uptime
bench  git                   /usr/bin/git
bench  time                  /usr/bin/time
TABLE

case "${1:-}" in
  "") groups="demo" ;;
  --test) groups="demo test" ;;
  --bench) groups="demo test bench" ;;
  *) echo "usage: $0 [--test|--bench]" >&2; exit 2 ;;
esac

need=()
while read -r group package paths; do
  [[ " $groups " == *" $group "* ]] || continue
  for p in $paths; do
    if [ ! -x "$p" ]; then need+=("$package"); break; fi
  done
done <<< "$PACKAGES"

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "pgwarden needs ${need[*]}: run as root, or: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  # Debian's postgresql package would create and start a 'main' cluster on 5432: we manage our own.
  mkdir -p /etc/postgresql-common
  [ -f /etc/postgresql-common/createcluster.conf ] || echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
  echo "installing ${need[*]} ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! id postgres >/dev/null 2>&1; then
  echo "there is no postgres OS user after installing postgresql-15" >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

# The agent runs the compiled dist/ (`npm run build`); rebuilt when a source is newer.
node scripts/build.mjs --if-stale
