"""Integrations with web frameworks and data platforms; each imports its framework lazily.

- :mod:`driftline.integrations.fastapi`: FastAPI / Starlette middleware and ``/metrics``.
"""

from __future__ import annotations

__all__: list[str] = []
