"""``python -m drx.cli ...``: the ``drx`` command (as torchrun launches it)."""

import sys

from drx.cli import main

sys.exit(main())
