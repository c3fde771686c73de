"""Integrations with web frameworks and data platforms; each imports its framework lazily.

- :mod:`driftline.integrations.fastapi`: FastAPI / Starlette middleware and ``/metrics``.
- :mod:`driftline.integrations.spark`: profile a Spark DataFrame on the executors.
- :mod:`driftline.integrations.sql`: read a SQL query in batches (server-side cursor).
"""

from __future__ import annotations

__all__: list[str] = []
