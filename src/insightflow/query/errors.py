"""Errors of the query layer; the API maps them to 400, 408 and 403."""

from __future__ import annotations

from insightflow.errors import InsightFlowError


class QueryError(InsightFlowError):
    """A query cannot be run (bad SQL, unknown column, out of memory)."""

    exit_code = 2


class QueryRefused(QueryError):
    """The sandbox refused a statement (not read-only, not over catalog tables)."""


class QueryTimeout(QueryError):
    """A query ran longer than its limit and was interrupted."""

    exit_code = 8


class AccessDenied(InsightFlowError):
    """A principal lacks the role a request needs."""

    exit_code = 9
