"""The query layer of one lake: sandboxed SQL and catalogue KPIs for a principal, audited.

One ``QueryService`` per lake keeps the caches (resolved snapshots, Arrow tables, idle sandbox
databases) that make repeated queries cheap; the CLI, the API and the dashboard share it.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future

from insightflow.lake import LakeCatalog
from insightflow.query.access import Principal, local_user
from insightflow.query.audit import AuditLog
from insightflow.query.cache import CatalogState, TableCache
from insightflow.query.catalogue import KpiFilters
from insightflow.query.errors import QueryRefused, QueryTimeout
from insightflow.query.kpis import checked_filters, filter_values, kpi_summary, run_kpi
from insightflow.query.reader import LakeReader, QueryResult
from insightflow.query.sandbox import Limits, SandboxPool


class QueryService:
    """Runs user SQL and catalogue KPIs over one lake's catalog, writing an audit entry each."""

    def __init__(self, catalog: LakeCatalog, limits: Limits | None = None) -> None:
        self.state = CatalogState(catalog)
        self.cache = TableCache(storage=catalog.storage)
        self.pool = SandboxPool()
        self.limits = limits or Limits()
        self.audit = AuditLog(catalog.layout)
        self._answers: OrderedDict[tuple, object] = OrderedDict()
        self._flights: dict[tuple, Future] = {}
        self._lock = threading.Lock()

    def reader(self, as_of: str | None = None) -> LakeReader:
        return LakeReader(self.state, as_of, cache=self.cache, pool=self.pool)

    def sql(self, statement: str, as_of: str | None = None, *, principal: Principal | None = None,
            limits: Limits | None = None) -> QueryResult:
        """Run one user statement in the sandbox (PII masked unless ``principal`` has ``pii``)."""
        who = principal or local_user()
        return self._audited(
            who, statement, as_of,
            lambda: self.reader(as_of).run(statement, limits=limits or self.limits, masked=not who.pii),
        )

    def kpi(self, name: str, filters: KpiFilters | None = None, as_of: str | None = None, *,
            top: int = 10, principal: Principal | None = None) -> QueryResult:
        """Run catalogue KPI ``name`` (the catalogue holds no personal data)."""
        return self._audited(principal or local_user(), f"kpi:{name}", as_of, lambda: self._remembered(
            (name, filters, top, as_of),
            lambda: run_kpi(self.reader(as_of), name, self._checked(filters, as_of), top)))

    def summary(self, filters: KpiFilters | None = None, as_of: str | None = None, *,
                principal: Principal | None = None) -> dict:
        """The KPI summary (JSON keys and rounding of ``insightflow kpis``)."""
        return self._audited(principal or local_user(), "kpi:summary", as_of, lambda: self._remembered(
            ("summary-figures", filters, as_of),
            lambda: kpi_summary(self.reader(as_of), self._checked(filters, as_of))))

    def filter_values(self, as_of: str | None = None) -> dict[str, list]:
        """The values each KPI filter can take in the data (``as_of``: at that point)."""
        return self._remembered(("filter-values", as_of), lambda: filter_values(self.reader(as_of)))

    def _checked(self, filters: KpiFilters | None, as_of: str | None) -> KpiFilters | None:
        """Filters matched to the data's values; unknown values refused with the closest ones."""
        if filters is None or not any(v is not None for k, v in filters.active().items() if k != "quarter"):
            return filters
        return checked_filters(filters, self.filter_values(as_of))

    def _remembered(self, key: tuple, compute):
        """A KPI answer, reused until the catalog changes: the same snapshots give the same figures.
        Identical requests that arrive while it is computed wait for that one computation."""
        key = (*key, self.state.version())
        with self._lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return _copy(self._answers[key])
            flight = self._flights.get(key)
            first = flight is None
            if first:
                flight = self._flights[key] = Future()
        if not first:
            return _copy(flight.result())
        try:
            answer = compute()
        except BaseException as error:
            flight.set_exception(error)
            raise
        finally:
            with self._lock:
                self._flights.pop(key, None)
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > 512:
                self._answers.popitem(last=False)
        flight.set_result(answer)
        return _copy(answer)

    def _audited(self, who: Principal, action: str, as_of: str | None, work):
        started = time.perf_counter()
        try:
            result = work()
        except Exception as error:
            self.audit.append(who=who.name, role=who.role, action=action, outcome=_outcome(error),
                              seconds=time.perf_counter() - started, as_of=as_of,
                              error=" ".join(str(error).split()))
            raise
        rows = len(result.rows) if isinstance(result, QueryResult) else 1
        extra = {"truncated": True} if getattr(result, "truncated", False) else {}
        self.audit.append(who=who.name, role=who.role, action=action, outcome="ok", rows=rows,
                          seconds=time.perf_counter() - started, as_of=as_of, **extra)
        return result


def _outcome(error: Exception) -> str:
    if isinstance(error, QueryRefused):
        return "refused"
    return "timeout" if isinstance(error, QueryTimeout) else "error"


def _copy(answer):
    """A copy a caller may change without changing the remembered answer (Arrow data is immutable)."""
    if isinstance(answer, QueryResult):
        return dataclasses.replace(answer, columns=list(answer.columns), rows=list(answer.rows),
                                   snapshots=dict(answer.snapshots))
    return copy.deepcopy(answer)
