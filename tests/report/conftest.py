"""Data with known drift for the report tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Columns ``frame(shifted=True)`` moves; every other column keeps its distribution.
SHIFTED = {"income", "region"}


def frame(n: int, seed: int, *, shifted: bool = False, start: str = "2025-01-06") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    regions = np.array(["north", "south", "east", "west"])
    return pd.DataFrame(
        {
            "ts": pd.Timestamp(start)
            + pd.to_timedelta(np.sort(rng.integers(0, 28 * 86400, n)), "s"),
            "income": rng.lognormal(10 + (0.3 if shifted else 0.0), 0.4, n),
            "age": rng.normal(40, 10, n),
            "score": rng.beta(2, 5, n),
            "region": rng.choice(regions, n, p=[0.1, 0.2, 0.3, 0.4] if shifted else [0.25] * 4),
            "device": rng.choice(["ios", "android", "web"], n),
        }
    )
