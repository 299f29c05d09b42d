"""Quoting of SQL identifiers and literals, for the few statements built from names at run time."""

from __future__ import annotations


def ident(name: str) -> str:
    """A double-quoted identifier: ``order id`` -> ``"order id"``."""
    return '"' + name.replace('"', '""') + '"'


def table_ident(name: str) -> str:
    """A quoted dotted table name: ``curated.order_dim`` -> ``"curated"."order_dim"``."""
    return ".".join(ident(part) for part in name.split("."))


def literal(value: str) -> str:
    """A single-quoted string literal."""
    return "'" + value.replace("'", "''") + "'"
