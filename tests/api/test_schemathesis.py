"""Property-based tests of every API operation from the app's own OpenAPI spec.

Schemathesis generates valid and invalid requests for each operation (bounded examples);
whatever it sends, the API must answer without a server error. Driven through Hypothesis
directly (one pytest case per operation) so it runs inside the test's rolled-back
transaction on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from regulars.core.config import Settings
from regulars.entrypoints.app import create_app
from tests.factories.world import World, build_world

_SPEC = create_app(Settings(database_url="sqlite://")).openapi()
OPERATIONS = [
    (path, method.upper())
    for path, methods in _SPEC["paths"].items()
    for method in methods
    if method in {"get", "post", "put", "patch", "delete"}
]
EXAMPLES = int(__import__("os").environ.get("ST_EXAMPLES", "20"))


@pytest.fixture
def world(uow) -> World:
    return build_world(uow, products=3, members=2)


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_no_input_makes_a_server_error(app: FastAPI, world: World, path: str, method: str) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operation = schema[path][method]
    headers = {**world.till(), **world.staff("admin")}
    failures: list[str] = []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call(headers=headers)
        if response.status_code >= 500:
            failures.append(
                f"{response.status_code} {case.method} {case.formatted_path} {case.body!r}: {response.text[:300]}"
            )

    run()
    assert failures == []
