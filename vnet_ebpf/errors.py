"""One way to fail for every command: a one-line message and an exit status.

Commands raise :class:`UserError` for anything a user can cause or fix (bad input,
missing tools, no root).  The CLI entry points turn it into ``prog: message`` on
stderr and the exit status, without a traceback.  Ctrl-C in a command's body is
``prog: interrupted`` and status 130 (vnet_ebpf.entry: what SIGINT does before and after).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import NoReturn, ParamSpec, TypeVar

from vnet_ebpf import entry

P = ParamSpec("P")
R = TypeVar("R")


class UserError(Exception):
    """An error with a message meant for the user and an exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def die(prog: str, err: UserError) -> NoReturn:
    print(f"{prog}: {err}", file=sys.stderr)
    sys.exit(err.status)


def reported(prog: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Wrap a command body so that UserError becomes a one-line message, and so does
    Ctrl-C, which raises KeyboardInterrupt in the body for its cleanup to run."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                with entry.Interruptible():
                    return fn(*args, **kwargs)
            except UserError as err:
                die(prog, err)
            except KeyboardInterrupt:
                entry.interrupted(prog)

        return inner

    return wrap
