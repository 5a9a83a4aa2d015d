#!/bin/sh
# Prepares a Debian/Ubuntu machine (as root) for the real-proxy tests of
# tests/support/proxies.rs (`cargo test --test proxy_harness`):
#
# - installs tinyproxy (HTTP CONNECT) and dante-server (SOCKS5) if missing;
# - creates the SOCKS5 test user `wsproxytest` (no home, no login shell)
#   and sets its password, which dante's `socksmethod: username` checks
#   against the system's password database (/etc/shadow).
#
# The user name and password must match SOCKS_USER and SOCKS_PASSWORD in
# tests/support/proxies.rs. The password is a fixed test password: the
# account cannot log in (nologin shell) and is only meant for test machines
# and CI containers.
#
# Idempotent: run it again at will. Needs root (or sudo) for apt-get,
# useradd and chpasswd.
set -eu

SOCKS_USER=wsproxytest
SOCKS_PASSWORD=ws-proxy-test-pass-1

if [ "$(id -u)" -ne 0 ]; then
    echo "setup-proxies.sh: run as root (sudo $0)" >&2
    exit 1
fi

missing=""
command -v tinyproxy >/dev/null 2>&1 || missing="$missing tinyproxy"
command -v danted >/dev/null 2>&1 || [ -x /usr/sbin/danted ] || missing="$missing dante-server"
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # shellcheck disable=SC2086 # word splitting wanted: one package a word
    apt-get install -y --no-install-recommends $missing
fi

# The packages' own services are not needed (the tests start private
# instances on free loopback ports); leave them as the system has them.

if ! getent passwd "$SOCKS_USER" >/dev/null; then
    useradd --no-create-home --shell /usr/sbin/nologin "$SOCKS_USER"
fi
echo "$SOCKS_USER:$SOCKS_PASSWORD" | chpasswd

echo "setup-proxies.sh: tinyproxy, danted and user $SOCKS_USER are ready"
