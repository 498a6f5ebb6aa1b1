"""Fixtures shared by the unit tests."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``DOSER_*`` variable from the caller's environment leaks into a settings test."""
    for key in [k for k in os.environ if k.startswith("DOSER_")]:
        monkeypatch.delenv(key)
