"""Performance estimation without labels (issue 4).

- :class:`CBPE`: confidence-based performance estimation for classifiers.
- :class:`DLE`: direct loss estimation for regression models.

Both are fitted on a labelled reference and then ``estimate(chunk)`` returns
``{metric: {"value": float, "lower": float, "upper": float}}``;
``estimate_result(chunk)`` adds the row count, exclusions and how the band was made.
"""

from __future__ import annotations

from driftline.stats.estimation._calibration import CalibrationTest
from driftline.stats.estimation._inputs import EstimationResult
from driftline.stats.estimation.cbpe import CBPE, CBPE_METRICS
from driftline.stats.estimation.dle import DLE, DLE_METRICS

__all__ = ["CBPE", "CBPE_METRICS", "DLE", "DLE_METRICS", "CalibrationTest", "EstimationResult"]
