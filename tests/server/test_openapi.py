"""Schemathesis against the published OpenAPI document: malformed input never causes a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from driftline.sdk.clock import ManualClock
from driftline.server import Settings, create_app
from driftline.server.auth import create_key
from driftline.store import open_store

from .conftest import T0


def make_app(root: Path) -> tuple[object, str]:
    clock = ManualClock(T0)
    store = open_store(f"sqlite:///{root}/openapi.db")
    key, _ = create_key(store, clock, name="fuzz", scopes=("admin",))
    return create_app(Settings(max_batch_events=5), store, clock, background=False), key


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: object, value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


APP, KEY = make_app(Path(__import__("tempfile").mkdtemp(prefix="driftline-openapi-")))
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", APP, headers={"Authorization": f"Bearer {KEY}"}
)


@pytest.fixture(scope="module", autouse=True)
def _tick() -> Iterator[None]:
    yield
    APP.state.collector.tick(force_flush=True)  # type: ignore[attr-defined]


#: One test per operation, each with its own id ("POST /v1/events"): schemathesis's own
#: ``schema.parametrize()`` gives all of them the one node id "test_no_server_errors".
OPERATIONS = [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_no_server_errors(operation: Any) -> None:
    valid, invalid = (operation.as_strategy(mode) for mode in GenerationMode)

    @given(case=st.one_of(valid, invalid))  # schemathesis's two modes, as its own runner does
    @settings(
        max_examples=20,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def call(case: schemathesis.Case) -> None:
        response = case.call(headers={"Authorization": f"Bearer {KEY}"})
        assert response.status_code < 500, (case.method, case.path, response.text[:500])

    call()
