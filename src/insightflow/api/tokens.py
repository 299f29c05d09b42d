"""API tokens: bearer tokens mapped to roles in a TOML file that stores only their sha256.

The file is ``$INSIGHTFLOW_API_TOKENS`` if set, else ``<lake>/api_tokens.toml``::

    [tokens.alice]
    sha256 = "9f86d0…"      # sha256 of the token, hex
    role = "analyst"        # viewer, analyst or admin
    pii = false             # may see customer names, cities and zip codes
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
import tomllib
from pathlib import Path

from insightflow.errors import UsageError
from insightflow.lake import LakeLayout
from insightflow.query.access import ROLES, Principal

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def tokens_path(layout: LakeLayout) -> Path:
    """Where the token file of a lake lives."""
    return layout.api_tokens


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    """The token file, re-read when it changes on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._principals: dict[str, Principal] = {}

    def principal(self, token: str) -> Principal | None:
        """The principal holding ``token``, or ``None`` for an unknown token."""
        presented = token_hash(token)
        found = None
        for digest, principal in self._load().items():
            if hmac.compare_digest(digest, presented):
                found = principal
        return found

    def add(self, name: str, role: str, pii: bool = False) -> str:
        """Add a token for ``name`` and return it (only its hash is stored)."""
        if not _NAME.match(name):
            raise UsageError("a token name is 1-64 letters, digits, '.', '_' or '-'")
        if role not in ROLES:
            raise UsageError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if any(p.name == name for p in self._load().values()):
            raise UsageError(f"a token named {name!r} exists already in {self.path}")
        token = "ifk_" + secrets.token_urlsafe(32)
        entry = (f'\n[tokens."{name}"]\nsha256 = "{token_hash(token)}"\n'
                 f'role = "{role}"\npii = {"true" if pii else "false"}\n')
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, entry.encode("utf-8"))
        finally:
            os.close(fd)
        return token

    def list(self) -> list[Principal]:
        """Who holds a token, by name (the tokens themselves are not stored)."""
        return sorted(self._load().values(), key=lambda p: p.name)

    def revoke(self, name: str) -> None:
        """Remove ``name``'s token: it is refused from the next request on."""
        entries = self._entries()
        if name not in entries:
            known = ", ".join(sorted(entries)) or "none"
            raise UsageError(f"no token named {name!r} in {self.path} (the tokens: {known})")
        del entries[name]
        text = "".join(f'\n[tokens."{n}"]\nsha256 = "{e["sha256"]}"\nrole = "{e["role"]}"\n'
                       f'pii = {"true" if e.get("pii") else "false"}\n' for n, e in entries.items())
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)
        os.replace(temporary, self.path)

    def _entries(self) -> dict[str, dict]:
        try:
            return dict(tomllib.loads(self.path.read_text("utf-8")).get("tokens", {}))
        except FileNotFoundError:
            return {}
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise UsageError(f"cannot read the token file {self.path}: {error}") from None

    def _load(self) -> dict[str, Principal]:
        try:
            st = self.path.stat()
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            return {}
        with self._lock:
            if stamp != self._stamp:
                try:
                    data = tomllib.loads(self.path.read_text("utf-8"))
                except (OSError, tomllib.TOMLDecodeError) as error:
                    raise UsageError(f"cannot read the token file {self.path}: {error}") from None
                self._principals = {
                    str(entry["sha256"]).lower(): Principal(name, entry["role"], bool(entry.get("pii", False)))
                    for name, entry in data.get("tokens", {}).items()
                    if entry.get("role") in ROLES and "sha256" in entry
                }
                self._stamp = stamp
            return self._principals
