"""The FastAPI app: ``insightflow serve`` runs it on 127.0.0.1.

Roles: ``viewer`` reads KPIs, metrics and the list of tables, ``analyst`` also runs SQL, ``admin`` also starts runs.
Every request is audited (who, role, endpoint, status, duration); queries also get their own entry.
Every request is also logged on one line to the logger ``insightflow.api.requests`` (method, path
without its query string, status, milliseconds, caller); tokens and headers never are.
Errors are JSON ``{"detail": …}``: 401 no or unknown token, 403 role too low, 400 bad SQL or
argument, 408 query timeout, 404 unknown KPI or run; never a traceback.
"""

import dataclasses
import datetime as dt
import decimal
import enum
import logging
import math
import re
import time
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from insightflow.api.docs import add_docs
from insightflow.api.request_metrics import Metrics
from insightflow.api.runs import RunJobs
from insightflow.api.tokens import TokenStore, tokens_path
from insightflow.errors import InsightFlowError, LakeBusyError
from insightflow.lakehouse import Lakehouse, TableInfo
from insightflow.query import CATALOGUE, KpiFilters, Limits, Principal, QueryResult, QueryTimeout
from insightflow.query.errors import AccessDenied
from insightflow.query.masking import masked_columns

KpiName = enum.Enum("KpiName", {name: name for name in CATALOGUE}, type=str)
_ANONYMOUS = Principal("anonymous", "none")
#: Characters of a request's path written to the audit log (an unauthenticated client chooses it).
AUDITED_PATH = 300
#: One line per request: ``GET /kpis 200 4.2 ms vera``.
REQUEST_LOG = logging.getLogger("insightflow.api.requests")
# A token pasted into a path by mistake is logged as its prefix only.
_TOKEN = re.compile(r"ifk_[A-Za-z0-9_-]+")
_bearer = HTTPBearer(auto_error=False, description="A token from `insightflow token add`.")


class SqlRequest(BaseModel):
    """One read-only statement over the lake's tables (``schema.table``)."""

    sql: str = Field(min_length=1, max_length=100_000, examples=["SELECT count(*) FROM marts.fact_sales"])
    as_of: str | None = Field(default=None, max_length=100, description="Run id, snapshot id or ISO time.")
    max_rows: int = Field(default=10_000, ge=1, le=100_000)


class RunRequest(BaseModel):
    """Start a pipeline run on a folder of exports (default: the lake's inbox)."""

    source: str | None = Field(default=None, max_length=4096)


def create_app(lake: Lakehouse, tokens: TokenStore | None = None, limits: Limits | None = None) -> FastAPI:
    """The API over ``lake``; tokens from ``tokens`` (default: the lake's token file)."""
    app = FastAPI(title="InsightFlow query API", version="1", description=__doc__, docs_url=None, redoc_url=None)
    add_docs(app)
    store = tokens or TokenStore(tokens_path(lake.layout))
    metrics = Metrics()
    jobs = RunJobs(lake.layout.root)
    limits = limits or lake.queries.limits
    audit = lake.queries.audit

    def caller(role: str):
        def require(request: Request,
                    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
            if credentials is None or credentials.scheme.lower() != "bearer":
                raise HTTPException(401, "a bearer token is required", {"WWW-Authenticate": "Bearer"})
            principal = store.principal(credentials.credentials)
            if principal is None:
                raise HTTPException(401, "unknown token", {"WWW-Authenticate": "Bearer"})
            request.state.principal = principal
            if not principal.can(role):
                raise AccessDenied(f"role {principal.role} may not do this; it needs {role}")
            return principal
        return require

    @app.middleware("http")
    async def audit_and_measure(request: Request, call_next):
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # a bug: answer 500 without the traceback, still audited
            response = JSONResponse({"detail": "internal error"}, status_code=500)
        seconds = time.perf_counter() - started
        route = getattr(request.scope.get("route"), "path", "other")
        metrics.observe(request.method, route, response.status_code, seconds)
        who = getattr(request.state, "principal", _ANONYMOUS)
        audit.append(who=who.name, role=who.role, action=f"{request.method} {_capped(request.url.path)}",
                     outcome=_outcome(response.status_code), seconds=seconds, status=response.status_code)
        REQUEST_LOG.info("%s %s %d %.1f ms %s", _printable(request.method), _logged_path(request.scope["path"]),
                         response.status_code, seconds * 1000, who.name if who is not _ANONYMOUS else "-")
        return response

    @app.exception_handler(InsightFlowError)
    async def insightflow_error(request: Request, error: InsightFlowError) -> JSONResponse:
        status = (408 if isinstance(error, QueryTimeout) else 403 if isinstance(error, AccessDenied)
                  else 409 if isinstance(error, LakeBusyError) else 400)
        return JSONResponse({"detail": " ".join(str(error).split())}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]
        return JSONResponse({"detail": "; ".join(problems)}, status_code=422)

    @app.get("/health", summary="Liveness, and the published run")
    def health() -> dict:
        published = lake.published_run()
        return {"status": "ok", "published_run": published.run_id if published else None}

    @app.get("/kpis", summary="The KPI summary (viewer)")
    def kpis(
        principal: Annotated[Principal, Depends(caller("viewer"))],
        year: Annotated[int | None, Query(ge=1, le=9999)] = None,
        quarter: Annotated[int | None, Query(ge=1, le=4)] = None,
        shipping_mode: Annotated[str | None, Query(max_length=100)] = None,
        category: Annotated[str | None, Query(max_length=100)] = None,
        segment: Annotated[str | None, Query(max_length=100)] = None,
        as_of: Annotated[str | None, Query(max_length=100)] = None,
    ) -> dict:
        filters = KpiFilters(year, quarter, shipping_mode, category, segment)
        return _json(lake.kpis(as_of, filters, principal=principal))

    @app.get("/kpis/{name}", summary="One KPI of the catalogue (viewer)")
    def kpi(
        principal: Annotated[Principal, Depends(caller("viewer"))],
        name: Annotated[KpiName, Path(description="A KPI of the catalogue.")],
        year: Annotated[int | None, Query(ge=1, le=9999)] = None,
        quarter: Annotated[int | None, Query(ge=1, le=4)] = None,
        shipping_mode: Annotated[str | None, Query(max_length=100)] = None,
        category: Annotated[str | None, Query(max_length=100)] = None,
        segment: Annotated[str | None, Query(max_length=100)] = None,
        top: Annotated[int, Query(ge=1, le=1000, description="Rows of top_products.")] = 10,
        as_of: Annotated[str | None, Query(max_length=100)] = None,
    ) -> dict:
        filters = KpiFilters(year, quarter, shipping_mode, category, segment)
        entry = CATALOGUE[name.value]
        result = lake.kpi(name.value, filters, as_of, top=top, principal=principal)
        return {"kpi": entry.name, "title": entry.title, "filters": filters.active(), **_answer(result)}

    @app.post("/sql", summary="One sandboxed read-only statement (analyst)")
    def sql(request: SqlRequest, principal: Annotated[Principal, Depends(caller("analyst"))]) -> dict:
        bounded = dataclasses.replace(limits, max_rows=request.max_rows)
        return _answer(lake.query(request.sql, request.as_of, principal=principal, limits=bounded))

    @app.post("/runs", status_code=202, summary="Start a pipeline run (admin)")
    def start_run(principal: Annotated[Principal, Depends(caller("admin"))],
                  request: RunRequest | None = None) -> dict:
        metrics.runs_started += 1
        return jobs.start(request.source if request else None)

    @app.get("/runs/{run_id}", summary="A run started here (by job id) or recorded (by run id) (admin)")
    def get_run(run_id: Annotated[str, Path(max_length=100)],
                principal: Annotated[Principal, Depends(caller("admin"))]) -> dict:
        job = jobs.get(run_id)
        if job:
            return job
        for run in lake.history():
            if run.run_id == run_id:
                return _json(run.__dict__ | {"seconds": run.seconds})
        raise HTTPException(404, f"no run or job {run_id}")

    @app.get("/tables", summary="The tables served: rows, snapshot, columns (viewer)")
    def tables(principal: Annotated[Principal, Depends(caller("viewer"))]) -> dict:
        if not lake.catalog.initialized():
            return {"tables": []}
        return {"tables": [_table(info, principal) for info in lake.tables()]}

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics (viewer)")
    def prometheus(principal: Annotated[Principal, Depends(caller("viewer"))]) -> str:
        return metrics.text()

    return app


def _table(info: TableInfo, principal: Principal) -> dict:
    """One table of ``GET /tables``; ``masked`` marks the columns this caller reads as ``***``."""
    masked = set() if principal.pii else set(masked_columns(info.name, [name for name, _ in info.columns]))
    return {
        "name": info.name,
        "rows": info.rows,
        "snapshot": str(info.snapshot_id) if info.snapshot_id is not None else None,  # 64-bit: text for JS
        "snapshots": info.snapshots,
        "files": info.files,
        "bytes": info.bytes,
        "columns": [{"name": name, "type": kind, "masked": name in masked} for name, kind in info.columns],
    }


def _answer(result: QueryResult) -> dict:
    return {
        "columns": result.columns,
        "rows": [dict(zip(result.columns, _json(list(row)), strict=True)) for row in result.rows],
        "row_count": len(result.rows),
        "truncated": result.truncated,
        "snapshots": {k: str(v) if v is not None else None for k, v in result.snapshots.items()},
    }


def _json(value: object) -> object:
    """A JSON-safe copy: NaN and infinities as null, decimals as numbers, dates as ISO text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return value.hex()
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def _capped(path: str) -> str:
    return path if len(path) <= AUDITED_PATH else f"{path[:AUDITED_PATH]}… ({len(path):,} characters)"


def _logged_path(path: str) -> str:
    """The path as the request log shows it: capped, tokens masked, control characters escaped
    (the path is percent-decoded: ``%0A`` would otherwise start a forged log line)."""
    return _printable(_TOKEN.sub("ifk_***", _capped(path)))


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() and c != "\\" else c.encode("unicode_escape").decode("ascii") for c in text)


def _outcome(status: int) -> str:
    return {401: "unauthenticated", 403: "denied", 408: "timeout"}.get(
        status, "ok" if status < 400 else "error" if status >= 500 else "refused")
