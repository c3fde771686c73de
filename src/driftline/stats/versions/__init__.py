"""Version comparison: champion (A) against challenger (B), with a verdict.

- :mod:`~driftline.stats.versions.paired`: agreement, McNemar, DeLong, score shift
  (both versions scored the same requests: shadow deployments);
- :mod:`~driftline.stats.versions.bootstrap`: paired bootstrap intervals;
- :mod:`~driftline.stats.versions.sequential`: the always-valid confidence
  sequence and the verdict rule;
- :mod:`~driftline.stats.versions.compare`: :func:`compare_paired` and
  :func:`compare_unpaired`, which put them together.
"""

from driftline.stats.versions.compare import (
    CompareOptions,
    Comparison,
    VersionData,
    compare_paired,
    compare_unpaired,
)
from driftline.stats.versions.paired import agreement, delong, mcnemar, score_shift
from driftline.stats.versions.sequential import MetricVerdict, half_width

__all__ = [
    "CompareOptions",
    "Comparison",
    "MetricVerdict",
    "VersionData",
    "agreement",
    "compare_paired",
    "compare_unpaired",
    "delong",
    "half_width",
    "mcnemar",
    "score_shift",
]
