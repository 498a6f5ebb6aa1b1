#!/usr/bin/env bash
# Install Debian packages a test level needs when the program they provide is absent:
#   ensure-debian.sh PROGRAM PACKAGE...
# PROGRAM is a command name or an absolute path (e.g. /usr/sbin/mosquitto). Debian/Ubuntu
# (apt-get), as root or through sudo; prints what it did.
set -euo pipefail

program=$1
shift
if command -v "$program" >/dev/null 2>&1 || [ -x "$program" ]; then
    echo "ensure-debian: $(basename "$program") already installed ($(command -v "$program" || echo "$program"))"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-debian: $program missing and no apt-get here; install $* by hand" >&2
    exit 1
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        echo "ensure-debian: $program missing; need root or sudo to install $*" >&2
        exit 1
    fi
fi

# env, not export: sudo would drop an exported DEBIAN_FRONTEND.
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
echo "ensure-debian: installed $*"
