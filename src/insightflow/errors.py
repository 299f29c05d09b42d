"""One error hierarchy, with messages written for the user.

The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``; a traceback is shown
only with ``--debug``. Library code raises these and nothing else for problems a user can fix.
"""

from __future__ import annotations


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
