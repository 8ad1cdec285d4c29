"""The lab's guests: which Debian release a ``--guest NAME`` image is built from.

Every guest is made by the same provision.sh; they differ only in the suites the
root file system comes from, where its kernel (image and headers) comes from,
and the guest's Python version (for ``pip download --python-version``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vnet_ebpf.errors import UserError

#: Environment variable that picks the guest when ``--guest`` is not given.
ENV_VAR = "VNET_LAB_GUEST"
DEFAULT = "trixie"


@dataclass(frozen=True)
class Guest:
    name: str
    #: The Debian suite the root file system is bootstrapped from.
    suite: str
    #: Every suite of the guest's apt sources (the ``-security`` one lives on the security mirror).
    apt_suites: tuple[str, ...]
    #: The suite the kernel image and headers come from (``suite`` for the release's own kernel).
    kernel_suite: str
    #: The guest's python3 (major.minor), for the wheels fetched on the host.
    python: str
    #: One line for help texts and the docs.
    about: str

    @property
    def kernel_from_backports(self) -> bool:
        return self.kernel_suite != self.suite


GUESTS: dict[str, Guest] = {
    g.name: g
    for g in (
        Guest("bookworm", "bookworm", ("bookworm", "bookworm-updates", "bookworm-security"),
              "bookworm", "3.11", "Debian 12, kernel 6.1"),
        Guest("trixie", "trixie", ("trixie", "trixie-updates", "trixie-security"),
              "trixie", "3.13", "Debian 13, kernel 6.12"),
        Guest("trixie-backports", "trixie",
              ("trixie", "trixie-updates", "trixie-security", "trixie-backports"),
              "trixie-backports", "3.13", "Debian 13 with the newest kernel of trixie-backports"),
    )
}


class UnknownGuest(UserError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown guest {name!r}; known guests: {', '.join(GUESTS)}", 2)


def get(name: str) -> Guest:
    try:
        return GUESTS[name]
    except KeyError:
        raise UnknownGuest(name) from None


def resolve(option: str | None, env: Mapping[str, str]) -> Guest:
    """The guest named by the ``--guest`` option, else by $VNET_LAB_GUEST, else the default."""
    if option is not None:
        return get(option)
    return get(env.get(ENV_VAR) or DEFAULT)
