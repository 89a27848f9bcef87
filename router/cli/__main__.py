"""``python -m router.cli``: the ``omnirouter`` command."""

import sys

from router.cli import main

if __name__ == "__main__":  # not when a tool imports every module (tests/router/test_imports.py)
    sys.exit(main())
