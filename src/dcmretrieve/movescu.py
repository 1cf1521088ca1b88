"""``movescu`` entry point (console script and ``python -m dcmretrieve.movescu``).

Deliberately thin: all behaviour lives in ``app.run`` so both tools share
one command-line engine and one error handler.
"""

from __future__ import annotations

import sys

from .cli.app import run


def main(argv: list[str] | None = None) -> int:
    """Run movescu on ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    return run("movescu", argv)


if __name__ == "__main__":
    sys.exit(main())
