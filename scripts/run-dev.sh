#!/usr/bin/env bash
# `make run`: the daemon on the built-in simulator. When mosquitto is installed and nothing
# listens on 127.0.0.1:9001 yet, a local broker is started beside it (plain MQTT on
# 127.0.0.1:1883, WebSockets on 127.0.0.1:9001, the daemon's default mqtt.url) and stopped
# with it, so `mosquitto_sub -v -t '#'` shows the registration and availability.
set -euo pipefail
cd "$(dirname "$0")/.."
broker=$(command -v mosquitto || echo /usr/sbin/mosquitto)
if [ -x "$broker" ] && ! (exec 3<>/dev/tcp/127.0.0.1/9001) 2>/dev/null; then
  conf=$(mktemp --suffix=.conf)
  cat >"$conf" <<CONF
persistence false
set_tcp_nodelay true
listener 1883 127.0.0.1
allow_anonymous true
listener 9001 127.0.0.1
protocol websockets
socket_domain ipv4
CONF
  "$broker" -c "$conf" &
  broker_pid=$!
  trap 'kill "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; rm -f "$conf"' EXIT
  echo "doser: local mosquitto (pid $broker_pid): mqtt://127.0.0.1:1883, ws://127.0.0.1:9001/mqtt" >&2
fi
.venv/bin/doser run --simulate "$@"
