"""Schemathesis fuzzes the OpenAPI spec in-process: no request may get a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from insightflow import Lakehouse
from insightflow.api import TokenStore, create_app, tokens_path
from insightflow.query import Limits
from tests.exports import write_export


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("fuzz")
    lake = Lakehouse(root / "lake")
    lake.run(write_export(root / "export"))
    # an analyst token: enough for every endpoint but starting runs (403 is not a 5xx either)
    token = TokenStore(tokens_path(lake.layout)).add("fuzzer", "analyst")
    app = create_app(lake, limits=Limits(max_rows=100, timeout_seconds=2.0, memory_limit="512MB"))
    return schemathesis.openapi.from_asgi("/openapi.json", app), token


def test_no_request_gets_a_server_error(fuzzed) -> None:
    schema, token = fuzzed
    failures: list[tuple] = []
    statuses: list[int] = []
    for operation in schema.get_all_operations():
        fuzz_operation(operation.ok().as_strategy(), token, failures, statuses)
    assert not failures, failures
    assert len(statuses) >= 50 and any(s == 200 for s in statuses)


def fuzz_operation(strategy, token: str, failures: list[tuple], statuses: list[int]) -> None:
    @settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def check(case) -> None:
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        statuses.append(response.status_code)
        if response.status_code >= 500:
            failures.append((case.method, case.formatted_path, response.status_code, response.text[:200]))

    check()
