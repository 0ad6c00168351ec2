"""Model management from the app: admins only (the command line registers models directly).

API::

    add_model(session, user, *, name, sha256, architecture, version, card_json) -> Model
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from db.accounts import User, require_role
from db.models import Model
from db.repository import register_model

__all__ = ["add_model"]


def add_model(
    session: Session, user: User, *, name: str, sha256: str, architecture: str, version: str,
    card_json: str | Mapping[str, Any],
) -> Model:
    """Register a model checkpoint as :func:`db.repository.register_model` does,
    after checking that ``user`` is an enabled admin (:class:`PermissionDenied` otherwise)."""
    require_role(session, user, "admin")
    return register_model(session, name=name, sha256=sha256, architecture=architecture, version=version,
                          card_json=card_json)
