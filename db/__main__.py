"""``python -m db``: see :mod:`db.cli`."""

from db.cli import main

raise SystemExit(main())
