"""A small world for the corrections tests: accounts of every role, an image, a model, candidates."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher
from sqlalchemy.orm import Session, sessionmaker

from db import accounts
from db.accounts import User, create_account
from db.decisions import register_candidate
from db.repository import register_image, register_model
from db.session import run_in_transaction

#: strings that would do harm if a layer executed or rendered them
INJECTIONS = (
    "Robert'); DROP TABLE annotation;--",
    "\" OR 1=1 --",
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)> & &amp; </textarea>",
)


@pytest.fixture
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with the smallest cost (tests that are not about passwords need no slow hashing)."""
    monkeypatch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def sha(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


@dataclass
class World:
    sessions: sessionmaker[Session]
    admin: User
    a: User
    b: User
    reviewer: User
    image: int
    model: int
    candidates: list[int]

    def run(self, fn):
        """``fn(session)`` in a retried write transaction."""
        return run_in_transaction(self.sessions, fn)


PASSWORDS = {"root": "root-password-1", "dr. a": "a-password-1", "dr. b": "b-password-1", "dr. r": "r-password-1"}


def build_world(sessions: sessionmaker[Session], *, width: int = 200, height: int = 150) -> World:
    def setup(session: Session) -> World:
        admin = create_account(session, "root", PASSWORDS["root"], role="admin")
        a = create_account(session, "dr. a", PASSWORDS["dr. a"], by=admin)
        b = create_account(session, "dr. b", PASSWORDS["dr. b"], by=admin)
        reviewer = create_account(session, "dr. r", PASSWORDS["dr. r"], role="reviewer", by=admin)
        image = register_image(session, content_sha256=sha("fundus"), file_name="fundus.png", width=width,
                               height=height, size_bytes=1000, source="upload")
        model = register_model(session, name="m", sha256=sha("model"), architecture="arch", version="1",
                               card_json="{}")
        candidates = [
            register_candidate(session, image=image, model=model, method="sensitivity", output="any_lesion",
                               x=10.0 * (k + 1), y=5.0 * (k + 1), score=score).id
            for k, score in enumerate((0.2, 0.9, 0.5))
        ]
        return World(sessions, admin, a, b, reviewer, image.id, model.id, candidates)

    return run_in_transaction(sessions, setup)
