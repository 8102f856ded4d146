"""``python -m pytest_mlgate.cli``: the ``mlgate`` command."""

import sys

from pytest_mlgate.cli import main

sys.exit(main())
