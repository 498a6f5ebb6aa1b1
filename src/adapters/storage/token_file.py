"""The HTTP API token kept in a file under data_dir (generated on first start)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def load_or_create_token(path: Path) -> tuple[str, bool]:
    """Return ``(token, created)``: the token stored at ``path``, or a new 32-byte
    URL-safe one written there with mode 0600 when the file is absent or empty.

    Raises ``OSError`` when the file cannot be read or written.
    """
    if path.is_file():
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token, False
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token, True
