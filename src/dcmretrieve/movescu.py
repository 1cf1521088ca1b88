"""``movescu`` entry point (console script and ``python -m dcmretrieve.movescu``).

Deliberately thin: all behaviour lives in ``app.run`` so both tools share
one command-line engine and one error handler.
"""

from __future__ import annotations

from typing import NoReturn

from .cli.app import exit_process, run


def main(argv: list[str] | None = None) -> int:
    """Run movescu on ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    return run("movescu", argv)


def console() -> NoReturn:
    """The ``movescu`` console script: ``main()``, then ``exit_process`` (the
    status, without the interpreter's teardown)."""
    exit_process(main())


if __name__ == "__main__":
    console()
