#!/bin/sh
# Install the system packages hsmkms needs, if they are missing (Debian/Ubuntu, apt-get).
#
# Usage: softhsm/install-deps.sh [softhsm2] [h2load]
#   softhsm2  SoftHSM2 PKCS#11 module and softhsm2-util (default)
#   h2load    HTTP/2 load generator from nghttp2-client (benchmarks only)
#
# Idempotent: does nothing when everything requested is already installed.
set -eu

SOFTHSM2_MODULE=/usr/lib/softhsm/libsofthsm2.so

log() {
    printf 'install-deps: %s\n' "$*"
}

# Packages to install, space separated.
missing=""

need_softhsm2() {
    if [ -e "$SOFTHSM2_MODULE" ] && command -v softhsm2-util >/dev/null 2>&1; then
        log "softhsm2: ok ($SOFTHSM2_MODULE, $(command -v softhsm2-util))"
    else
        log "softhsm2: missing $SOFTHSM2_MODULE or softhsm2-util"
        missing="$missing softhsm2"
    fi
}

need_h2load() {
    if command -v h2load >/dev/null 2>&1; then
        log "h2load: ok ($(command -v h2load))"
    else
        log "h2load: missing"
        missing="$missing nghttp2-client"
    fi
}

[ "$#" -gt 0 ] || set -- softhsm2
for component in "$@"; do
    case "$component" in
        softhsm2) need_softhsm2 ;;
        h2load) need_h2load ;;
        *)
            log "unknown component '$component' (expected: softhsm2, h2load)" >&2
            exit 2
            ;;
    esac
done

if [ -z "$missing" ]; then
    log "nothing to install"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    log "apt-get not found; install these packages with your system package manager:$missing" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    log "not running as root and sudo is not available; as root, run:" >&2
    log "  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi

log "running: ${sudo:+$sudo }apt-get update"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update
log "running: ${sudo:+$sudo }apt-get install -y$missing"
# shellcheck disable=SC2086 # word splitting of $missing is intended
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y $missing

case " $missing " in
    *" softhsm2 "*)
        if [ ! -e "$SOFTHSM2_MODULE" ]; then
            log "softhsm2 installed, but $SOFTHSM2_MODULE still does not exist" >&2
            exit 1
        fi
        ;;
esac
log "done"
