"""Who is asking: a principal with a role (viewer ⊂ analyst ⊂ admin) and maybe the ``pii`` grant."""

from __future__ import annotations

import getpass
from dataclasses import dataclass

ROLES = ("viewer", "analyst", "admin")


@dataclass(frozen=True)
class Principal:
    """A caller of the query layer: a token holder of the API, or the local user of the CLI."""

    name: str
    role: str
    pii: bool = False

    def can(self, role: str) -> bool:
        """True when this principal's role includes ``role`` (admin includes analyst, viewer)."""
        return ROLES.index(self.role) >= ROLES.index(role)


def local_user() -> Principal:
    """The user of the CLI or the Python API: they own the lake's files, so nothing is masked."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "local"
    return Principal(f"local:{name}", "admin", pii=True)
