"""The live demo: a collector, a model service instrumented with the SDK, traffic, alerts.

``driftline.demo.live.run(port=...)`` starts everything in one process and
serves the dashboard until Ctrl-C (docs/dashboard.md, "The live demo").
"""

from __future__ import annotations

__all__: list[str] = []
