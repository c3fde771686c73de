"""Monitor.check(): the reference's contract, checked before inference."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry
from sklearn.datasets import load_wine

import driftline
from driftline.sdk import Monitor, SDKConfigError
from driftline.sdk.contract import Contract, Violation


@pytest.fixture(scope="module")
def wine() -> pd.DataFrame:
    df: pd.DataFrame = load_wine(as_frame=True).frame
    df["region"] = np.array(["north", "south", "east"])[np.arange(len(df)) % 3]
    return df.drop(columns=["target"])


@pytest.fixture(scope="module")
def contract(wine: pd.DataFrame) -> Contract:
    return Contract.from_profile(driftline.profile(wine))


def test_a_training_row_keeps_the_contract(wine: pd.DataFrame, contract: Contract) -> None:
    for row in wine.head(50).to_dict("records"):
        assert contract.check(row) == ()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"alcohol": None}, [("alcohol", "missing")]),
        ({"alcohol": math.nan}, [("alcohol", "missing")]),
        ({"alcohol": "13.2"}, [("alcohol", "type")]),
        ({"alcohol": 99.0}, [("alcohol", "out_of_range")]),
        ({"alcohol": np.float32(99.0)}, [("alcohol", "out_of_range")]),
        ({"alcohol": True}, [("alcohol", "type")]),
        ({"region": "west"}, [("region", "unseen_category")]),
        ({"region": 3.5}, [("region", "type")]),
        ({"colour": "red"}, [("colour", "unexpected")]),
    ],
    ids=["none", "nan", "string", "above", "numpy", "bool", "unseen", "float-category",
         "unexpected"],
)  # fmt: skip
def test_each_kind_of_violation(
    wine: pd.DataFrame, contract: Contract, change: dict[str, Any], expected: list[Any]
) -> None:
    row = wine.iloc[0].to_dict() | change
    assert [(v.feature, v.kind) for v in contract.check(row)] == expected


def test_absent_required_feature_and_trained_range(contract: Contract) -> None:
    spec = contract.features["alcohol"]
    assert spec["required"] is True
    assert (spec["min"], spec["max"]) == (11.03, 14.83)
    assert Violation("alcohol", "missing", None) in contract.check({"region": "north"})


def test_contract_round_trips_through_a_file(contract: Contract, tmp_path: Path) -> None:
    loaded = Contract.load(contract.save(tmp_path / "contract.json"))
    assert loaded.features == contract.features
    with pytest.raises(SDKConfigError, match="cannot read the contract"):
        Contract.load(tmp_path / "missing.json")


def test_monitor_check_counts_calls_and_violations(wine: pd.DataFrame, contract: Contract) -> None:
    mon = Monitor("wine", sink="memory", registry=CollectorRegistry(), contract=contract)
    good = wine.iloc[0].to_dict()
    assert mon.check(good) == ()
    assert [v.kind for v in mon.check(good | {"alcohol": 99.0})] == ["out_of_range"]
    mon.close()
    assert mon.check(good) == ()  # still answers after close (no I/O)


def test_check_without_a_contract_warns_and_finds_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mon = Monitor("wine", sink="memory", registry=CollectorRegistry())
    assert mon.check({"a": 1}) == ()
    mon.close()
    assert "has no contract" in caplog.text
    with pytest.raises(SDKConfigError, match=r"takes a driftline\.sdk\.Contract"):
        mon.set_contract({"features": {}})  # type: ignore[arg-type]


def test_fetch_reads_the_contract_over_http_and_names_failures(contract: Contract) -> None:
    import json as _json
    from http.server import BaseHTTPRequestHandler

    from support import http_server

    seen: list[tuple[str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            seen.append((self.path, self.headers.get("Authorization")))
            ok = "/versions/v1/" in self.path
            body = _json.dumps(contract.to_dict() if ok else {"detail": "no reference"}).encode()
            self.send_response(200 if ok else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with http_server(Handler) as url:
        got = Contract.fetch(url, "wine", "v1", api_key="k1", margin=0.1)
        assert got.features == contract.features
        assert seen[0] == ("/v1/models/wine/versions/v1/contract?margin=0.1", "Bearer k1")
        with pytest.raises(SDKConfigError, match="HTTP 404"):
            Contract.fetch(url, "wine", "v9")
    with pytest.raises(SDKConfigError, match="cannot fetch the contract"):
        Contract.fetch(url, "wine", "v1", timeout=1)
