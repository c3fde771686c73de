"""Schema inference and user overrides, with errors that name the column and the value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import driftline
from driftline import Kind, Role, SchemaError


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "zip": rng.integers(10000, 99999, 300),
            "plan": rng.choice(["free", "pro"], 300),
            "score": rng.random(300),
            "churned": rng.integers(0, 2, 300),
        }
    )


def test_override_in_python(frame: pd.DataFrame) -> None:
    p = driftline.profile(
        frame,
        {
            "zip": {"kind": "categorical"},
            "churned": {"role": "target"},
            "plan": {"role": "segment"},
        },
    )
    assert p["zip"].kind is Kind.CATEGORICAL
    assert p["churned"].spec.role is Role.TARGET
    assert p["plan"].spec.role is Role.SEGMENT
    assert p["score"].kind is Kind.NUMERIC


def test_override_from_yaml(frame: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "schema.yaml"
    path.write_text("columns:\n  zip: {kind: categorical}\n  score: {role: score}\n")
    p = driftline.profile(frame, path)
    assert p["zip"].kind is Kind.CATEGORICAL and p["score"].spec.role is Role.SCORE


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"zipcode": {"kind": "categorical"}}, r"column 'zipcode', which is not in the data"),
        ({"zip": {"kind": "float"}}, r"column 'zip': kind 'float' is not one of: numeric"),
        ({"zip": {"role": "boss"}}, r"column 'zip': role 'boss' is not one of"),
        (
            {"plan": {"role": "timestamp"}},
            r"column 'plan' cannot have role timestamp: its text is not ISO 8601 times",
        ),
        (
            {"plan": {"kind": "embedding"}},
            r"column 'plan' has type (large_)?string and cannot be profiled as embedding",
        ),
        ({"zip": {"knd": "numeric"}}, r"unknown key\(s\) \['knd'\]"),
        ({"zip": "numeric"}, r"column 'zip' must be a mapping"),
    ],
    ids=["missing-column", "bad-kind", "bad-role", "role-kind", "kind-type", "typo", "not-map"],
)
def test_bad_mappings_name_the_column_and_value(
    frame: pd.DataFrame, mapping: dict[str, object], message: str
) -> None:
    with pytest.raises(SchemaError, match=message):
        driftline.profile(frame, mapping)


def test_bad_yaml_file(frame: pd.DataFrame, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns: [unclosed\n")
    with pytest.raises(SchemaError, match=r"bad\.yaml is not valid YAML"):
        driftline.profile(frame, bad)
    with pytest.raises(SchemaError, match="cannot read schema file"):
        driftline.profile(frame, tmp_path / "absent.yaml")
