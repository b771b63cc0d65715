#!/usr/bin/env bash
# Installs what pgwarden's demo and tests need on a fresh Debian machine with Node 20:
# PostgreSQL 15, etcd 3.4, the npm packages and, with --test, Patroni's patronictl.
# Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
[ -x /usr/bin/etcd ] || need+=(etcd-server)
# The real patronictl (3.0.2) drives a pgwarden cluster in the compatibility tests (--test).
if [ "${1:-}" = "--test" ]; then [ -x /usr/bin/patronictl ] || need+=(patroni); fi
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
