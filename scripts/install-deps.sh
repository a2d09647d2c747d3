#!/usr/bin/env bash
# Installs what the test suite and the local run need on a fresh Debian
# machine: PostgreSQL (initdb/pg_ctl, pg_stat_statements), Redis, and Chromium
# for the students' page's browser tests. Idempotent: does nothing when they
# are already there.
set -euo pipefail

pg_ok() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; }
redis_ok() { command -v redis-server >/dev/null 2>&1; }
# Debian's chromium; GitHub's Ubuntu runners carry Google Chrome instead (their
# apt "chromium" is a snap stub).
chromium_ok() { command -v chromium >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1; }

if pg_ok && redis_ok && chromium_ok; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: need PostgreSQL (>= 15), redis-server and chromium; no apt-get here, install them by hand" >&2
  exit 1
fi
pkgs=()
pg_ok || pkgs+=(postgresql)
redis_ok || pkgs+=(redis-server)
# A font, so that headless Chromium renders text (screenshots) without the
# recommended packages.
chromium_ok || pkgs+=(chromium fonts-dejavu-core)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${pkgs[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
# The Debian packages start system-wide servers; surge's tests and local run
# start their own throwaway ones on random ports, so stop those.
$SUDO service postgresql stop >/dev/null 2>&1 || true
$SUDO service redis-server stop >/dev/null 2>&1 || true
pg_ok && redis_ok && chromium_ok
