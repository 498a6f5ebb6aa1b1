"""A real mosquitto broker for tests: its own config in a temporary directory, a plain MQTT
listener and a WebSocket listener on free loopback ports, started, stopped and restarted on
the same ports by the test that owns it."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from support.certificates import TlsFiles

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
HOST = "127.0.0.1"


def free_port() -> int:
    """A loopback TCP port nobody listens on right now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def mosquitto_available() -> bool:
    """True when the broker binary exists (```make setup``` installs it)."""
    return Path(MOSQUITTO).is_file() and os.access(MOSQUITTO, os.X_OK)


class Mosquitto:
    """One broker process. ``users`` maps user name to password: given, anonymous clients
    are refused; absent, anyone may connect. ``tls`` adds an MQTT-over-TLS and a secure
    WebSocket listener (``mqtts_url``, ``wss_url``). ``persistent`` (the default, as a
    production broker runs): mosquitto saves retained messages and durable sessions, with
    their queued QoS 1/2 messages, on stop and reloads them on start; without it a restart
    forgets them."""

    def __init__(
        self,
        workdir: Path,
        *,
        users: dict[str, str] | None = None,
        tls: TlsFiles | None = None,
        persistent: bool = True,
    ) -> None:
        self._dir = workdir
        self._users = dict(users or {})
        self._tls = tls
        self._persistent = persistent
        self.port = free_port()
        self.ws_port = free_port()
        self.tls_port = free_port() if tls else 0
        self.wss_port = free_port() if tls else 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log = workdir / "mosquitto.log"
        self._conf = workdir / "mosquitto.conf"

    host = HOST

    @property
    def tcp_url(self) -> str:
        return f"mqtt://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.ws_port}/mqtt"

    @property
    def mqtts_url(self) -> str:
        return f"mqtts://{HOST}:{self.tls_port}"

    @property
    def wss_url(self) -> str:
        return f"wss://{HOST}:{self.wss_port}/mqtt"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the broker and return once both listeners accept connections.
        Raises ``RuntimeError`` with the broker's log when it exits or is not ready."""
        if self.running:
            return
        self._dir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [MOSQUITTO, "-c", str(self._conf)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout_s
        for port in (self.port, self.ws_port, self.tls_port, self.wss_port):
            if port:
                self._wait_listening(port, deadline)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Terminate the process this object started (SIGTERM, then SIGKILL)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)  # a paused broker cannot act on SIGTERM
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout_s)

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open but nothing answers, as a
        hung broker or a dead network path looks to its clients."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Undo ``pause`` (SIGCONT)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Stop and start again on the same ports."""
        self.stop()
        self.start()

    def log_text(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""

    def _write_config(self) -> None:
        lines = [
            f"persistence {'true' if self._persistent else 'false'}",
            f"persistence_location {self._dir}/",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            # As root, mosquitto would switch to the "mosquitto" user, who cannot read
            # this directory; naming the current user keeps it where it is.
            f"user {pwd.getpwuid(os.getuid()).pw_name}",
            # Small messages out at once (a command's result, an alarm), not after Nagle's
            # wait for an ACK: as a monitoring broker should run.
            "set_tcp_nodelay true",
        ]
        if self._users:
            lines += ["allow_anonymous false", f"password_file {self._password_file()}"]
        else:
            lines.append("allow_anonymous true")
        lines += [
            f"listener {self.port} {HOST}",
            f"listener {self.ws_port} {HOST}",
            "protocol websockets",
            # Without it the WebSocket listener (libwebsockets) binds every address family.
            "socket_domain ipv4",
        ]
        if self._tls is not None:
            pem = [
                f"cafile {self._tls.ca}",
                f"certfile {self._tls.cert}",
                f"keyfile {self._tls.key}",
            ]
            lines += [f"listener {self.tls_port} {HOST}", *pem]
            lines += [f"listener {self.wss_port} {HOST}", "protocol websockets"]
            lines += ["socket_domain ipv4", *pem]
        self._conf.write_text("\n".join(lines) + "\n")

    def _password_file(self) -> Path:
        path = self._dir / "passwords"
        path.write_text("")
        path.chmod(0o600)
        for name, password in self._users.items():
            subprocess.run(
                [MOSQUITTO_PASSWD, "-b", str(path), name, password],
                check=True,
                capture_output=True,
            )
        return path

    def _wait_listening(self, port: int, deadline: float) -> None:
        while True:
            if self._process is None or self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited during start-up:\n{self.log_text()}")
            try:
                with socket.create_connection((HOST, port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"mosquitto not listening on {port}:\n{self.log_text()}"
                    ) from None
                time.sleep(0.02)
