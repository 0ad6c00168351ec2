"""Alembic migrations of the drx schema, shipped inside the ``db`` package.

Nothing here is imported by the application: Alembic reads ``env.py``,
``script.py.mako`` and ``versions/*.py`` from this folder. The folder is
found through :data:`db.session.MIGRATIONS_DIR` and configured in code
(:func:`db.session.alembic_config`), so no ``alembic.ini`` is needed and an
installed ``drx`` migrates its database the same way as a checkout.

Use :func:`db.session.upgrade` (``init_database`` calls it on every start),
or ``python -m db upgrade|current|check|revision`` (see :mod:`db.cli`).
A schema change is a new revision: edit ``db/models.py``, run
``python -m db revision -m "what changed"``, review the generated file in
``versions/``, and run the tests (``tests/database/test_db_migrations.py``
fails while the models and the migrations disagree).
"""
