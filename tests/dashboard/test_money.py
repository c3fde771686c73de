"""Amounts on the dashboard read as amounts: fixed notation, never an exponent."""

from __future__ import annotations

import pytest

from driftline.server.dashboard import money


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "—"),
        (0.0, "0.00"),
        (8.233e-05, "0.00008233"),  # the live demo's cost per 1k predictions read 8.233e-05
        (0.012345, "0.01235"),
        (1.5, "1.50"),
        (1234.5, "1,234.50"),
        (-0.0003, "-0.0003000"),
        (float("nan"), "—"),  # never a 500 for a page showing a broken amount
        (float("inf"), "—"),
    ],
)
def test_an_amount_is_shown_in_fixed_notation(value: float | None, shown: str) -> None:
    assert money(value) == shown
