#!/usr/bin/env bash
# Install the Debian packages that the real-service tests use (Docker Engine, PostgreSQL, Prometheus, ...).
# Idempotent: installs only what is missing and runs `apt-get update` at most once, only if needed.
# It never starts a service; the pytest fixtures start private instances themselves.
# Not root, or no apt-get: prints the missing packages and exits 0 (the fixtures then skip with a reason,
# or fail when DCM_OTEL_REQUIRE_SERVICES=1).
set -euo pipefail

PACKAGES=(docker.io busybox-static postgresql prometheus prometheus-alertmanager wrk docker-compose chromium)

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

satisfied() {
  case "$1" in
    # Any versioned server (postgresql-15, ...) will do: the fixture uses /usr/lib/postgresql/*/bin.
    postgresql) compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || installed postgresql ;;
    *) installed "$1" ;;
  esac
}

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-services: not a Debian-like system; install the equivalents of: ${PACKAGES[*]}"
  exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  satisfied "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-services: all present: ${PACKAGES[*]}"
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-services: missing packages: ${missing[*]}"
  echo "install-services: as root: apt-get install ${missing[*]}  (until then the tests needing them skip)"
  exit 0
fi

# Maintainer scripts of docker.io, postgresql and prometheus would start system daemons; a policy-rc.d
# that answers 101 ("action forbidden") stops that. One already in place is left alone.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 0755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-services: installing: ${missing[*]}"
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
