"""Metrics from several worker processes (gunicorn, ``uvicorn --workers N``).

prometheus_client's multiprocess mode keeps each worker's values in files
under ``PROMETHEUS_MULTIPROC_DIR``; a scrape merges them with a fresh registry
and a ``MultiProcessCollector``. Set the variable before Python starts, wipe the
directory when the server starts (:func:`prepare_dir`) and call
:func:`child_exit` from gunicorn's ``child_exit`` hook. See docs/sdk.md.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

ENV = "PROMETHEUS_MULTIPROC_DIR"


def enabled() -> bool:
    """True when ``PROMETHEUS_MULTIPROC_DIR`` is set (multiprocess mode)."""
    return bool(os.environ.get(ENV) or os.environ.get(ENV.lower()))


def prepare_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """Empty (or create) the multiprocess directory; call once before workers start."""
    target = Path(path or os.environ.get(ENV) or os.environ[ENV.lower()])
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    return target


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook: ``child_exit = driftline.sdk.multiprocess.child_exit`` in gunicorn.conf.py."""
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def metrics_payload(registry: CollectorRegistry | None = None) -> tuple[bytes, str]:
    """The Prometheus exposition and its content type: merged across workers in multiprocess
    mode, else from ``registry`` (default: the global registry)."""
    if enabled():
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return generate_latest(merged), CONTENT_TYPE_LATEST
    return generate_latest(registry or REGISTRY), CONTENT_TYPE_LATEST
