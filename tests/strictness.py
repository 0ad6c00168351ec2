"""Skips that become failures in CI."""

import os

import pytest


def unavailable(reason: str) -> None:
    """Skip for want of something a developer's machine may lack; in CI (DRX_CI_STRICT=1) fail instead."""
    if os.environ.get("DRX_CI_STRICT") == "1":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)
