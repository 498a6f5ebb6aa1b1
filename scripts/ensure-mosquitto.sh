#!/usr/bin/env bash
# Install the mosquitto broker (and mosquitto_passwd, mosquitto_pub/sub) for the integration
# and acceptance tests when it is absent. Debian/Ubuntu (apt-get); prints what it did.
set -euo pipefail

if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
    echo "ensure-mosquitto: mosquitto already installed ($(command -v mosquitto || echo /usr/sbin/mosquitto))"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-mosquitto: mosquitto missing and no apt-get here; install mosquitto by hand" >&2
    exit 1
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        echo "ensure-mosquitto: mosquitto missing; need root or sudo to install it" >&2
        exit 1
    fi
fi

# env, not export: sudo would drop an exported DEBIAN_FRONTEND.
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends mosquitto mosquitto-clients >/dev/null
echo "ensure-mosquitto: installed mosquitto $(/usr/sbin/mosquitto -h 2>/dev/null | sed -n '1s/.*version //p')"
