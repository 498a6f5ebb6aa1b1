"""A throw-away certificate authority and a server certificate for 127.0.0.1/localhost,
made with the openssl command line, for TLS tests against a local broker."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

OPENSSL = shutil.which("openssl")


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the CA clients trust, the server's certificate and its key."""

    ca: Path
    cert: Path
    key: Path


def make_server_certificate(directory: Path) -> TlsFiles:
    """A new CA and a server certificate signed by it, valid for ``localhost`` and
    ``127.0.0.1`` for two days. Raises ``RuntimeError`` when openssl is missing."""
    if OPENSSL is None:
        raise RuntimeError("openssl is not installed")
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    ca_key, request, extensions = (directory / name for name in ("ca.key", "server.csr", "ext"))
    extensions.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for command in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", files.ca,
         "-days", "2", "-subj", "/CN=doser test CA"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", files.key, "-out", request,
         "-subj", "/CN=localhost"],
        ["x509", "-req", "-in", request, "-CA", files.ca, "-CAkey", ca_key,
         "-CAcreateserial", "-out", files.cert, "-days", "2", "-extfile", extensions],
    ):  # fmt: skip
        subprocess.run([OPENSSL, *map(str, command)], check=True, capture_output=True)
    return files
