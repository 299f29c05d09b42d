"""One error hierarchy, with messages written for the user.

The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``; a traceback is shown
only with ``--debug``. Library code raises these and nothing else for problems a user can fix.
"""

from __future__ import annotations

import errno


class InsightFlowError(Exception):
    """Base of every error InsightFlow reports to a user."""

    exit_code = 1


class SourceError(InsightFlowError):
    """A source file or folder cannot be read or does not match its contract."""

    exit_code = 2

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ContractError(InsightFlowError):
    """A source contract (``sources.yaml``) declares something InsightFlow cannot enforce."""


class LakeError(InsightFlowError):
    """The lake (catalog, warehouse, landing zone) is missing or inconsistent."""

    exit_code = 3


class TableNotFound(LakeError):
    """A table name does not exist in the catalog."""


class ModelError(InsightFlowError):
    """A transformation model failed; nothing of the run was published."""

    exit_code = 4


class QualityGateError(InsightFlowError):
    """An ``error``-severity check failed; the previous snapshots stay published.

    ``checks`` holds every check result of the run (passed, warned and failed).
    """

    exit_code = 5
    checks: list = []


class LakeBusyError(InsightFlowError):
    """Another run holds the lake's lock."""

    exit_code = 6


class UsageError(InsightFlowError):
    """An argument or setting is out of range or points somewhere unusable."""

    exit_code = 2


class ServingError(InsightFlowError):
    """The BI serving database cannot be reached or refused the sync; the lake is unchanged."""

    exit_code = 7
    #: Whether trying again may succeed (the server is down or unreachable, a lock timed out).
    transient = False


class TransientError(InsightFlowError):
    """A failure that may pass when tried again (a busy resource, a dropped connection).

    The orchestrated run retries the step that raised it (``retries`` and ``retry_delay`` in the
    settings); every other error fails the run at once.
    """

    exit_code = 75  # EX_TEMPFAIL


#: The ``errno`` of a call that may pass when made again: a busy file or device, an interrupted call.
_TRANSIENT_ERRNOS = frozenset({errno.EAGAIN, errno.EBUSY, errno.EINTR, errno.ETIMEDOUT})


def is_transient(error: BaseException) -> bool:
    """Whether trying again what raised ``error`` may succeed.

    One of InsightFlow's errors says so by its class (``TransientError``, ``LakeBusyError``); any
    other is transient when it is a busy file, device or database (SQLite's "database is locked"),
    an interrupted call, or an Iceberg commit that lost the race with another (PyIceberg's
    ``CommitFailedException``). A dropped connection (``ConnectionError``) is not: the commit it cut
    off may have landed, and making it again would publish its files twice.
    """
    if isinstance(error, InsightFlowError):
        return isinstance(error, TransientError | LakeBusyError)
    if isinstance(error, OSError):
        return error.errno in _TRANSIENT_ERRNOS
    text = f"{type(error).__name__}: {error}".lower()
    return "database is locked" in text or "commitfailed" in text or "busy" in text


def one_line(error: BaseException | str, *, first_line: bool = False, limit: int | None = 300) -> str:
    """An error's message on one line, as the CLI prints it: every run of white space (line breaks
    included) becomes one space, and at most ``limit`` characters are kept (None: all of them).

    ``first_line``: only the first line of the message, for engines that follow it with what the
    user does not need (Spark's JVM stack trace, the SQL and caret under a parse error). An
    exception without a message is named by its type.
    """
    text = str(error).strip()
    if first_line and text:
        text = text.splitlines()[0]
    text = " ".join(text.split()) or ("" if isinstance(error, str) else type(error).__name__)
    return text[:limit]
