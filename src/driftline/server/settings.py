"""Settings of the collector (``driftline serve``), separate from the YAML ``check`` config.

Every limit is here and enforced; docs/collector.md lists them with defaults.
``Settings.from_env()`` reads ``DRIFTLINE_*`` environment variables so that a
replica behind a load balancer needs no file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from driftline.errors import ConfigError
from driftline.windows import EvaluatorOptions, WindowConfig

#: Settings that must be > 0 (checked here, and by the ``collector:`` section of the file).
POSITIVE = (
    "max_body_bytes",
    "max_decoded_bytes",
    "max_batch_events",
    "max_inflight",
    "max_inflight_per_key",
    "max_version_columns",
    "max_depth",
    "body_timeout_seconds",
    "login_attempts_per_minute",
    "tick_seconds",
    "retention_days",
    "label_horizon_days",
    "alerting_lease_seconds",
    "raw_parquet_flush_seconds",
    "workers",
)


@dataclass(frozen=True)
class Settings:
    store_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    #: Collector processes ``serve`` runs on the one port (docs/collector.md, "Several
    #: workers on one port"): one per core for ingest-heavy deployments.
    workers: int = 1
    windows: WindowConfig = field(default_factory=WindowConfig)
    evaluator: EvaluatorOptions = field(default_factory=EvaluatorOptions)
    #: Largest request body as sent (compressed), and after gunzip.
    max_body_bytes: int = 16 * 1024 * 1024
    max_decoded_bytes: int = 128 * 1024 * 1024
    #: Most events in one request.
    max_batch_events: int = 10_000
    max_features: int = 2_000
    #: Columns a version's schema takes from its first events (names beyond are unknown).
    max_version_columns: int = 1_000
    #: Deepest nesting of objects and lists inside one record.
    max_depth: int = 32
    #: Seconds to receive a whole request body; a slower upload gets 408.
    body_timeout_seconds: float = 30.0
    #: Ingest requests of one API key in flight at once (reading or processing); more get 429.
    max_inflight_per_key: int = 4
    #: /readyz answers 503 when the SQLite store's disk has less free space than this.
    min_free_disk_bytes: int = 64 * 1024 * 1024
    #: Failed dashboard sign-ins allowed per client address per minute; more get 429.
    login_attempts_per_minute: int = 10
    #: Ingest requests processed at once by this process; more get 429.
    max_inflight: int = 8
    retry_after_seconds: int = 1
    unavailable_retry_after_seconds: int = 5
    #: Events stamped further in the future than this are rejected.
    max_future_seconds: float = 86_400.0
    retention_days: float = 30.0
    #: Days a prediction can still receive its label: past raw-event retention the compact
    #: prediction index keeps what the label needs (docs/collector.md, "Retention").
    label_horizon_days: float = 365.0
    #: Seconds the alerting lease lasts without renewal: the bound on failover to another
    #: replica when the one evaluating alerts dies (it renews every tick).
    alerting_lease_seconds: float = 30.0
    #: A directory: raw prediction events are also written there as Parquet partitioned by
    #: model/version/date, in the background (docs/collector.md); None: not written.
    raw_parquet_dir: str | None = None
    raw_parquet_flush_seconds: float = 60.0
    #: Seconds between background ticks (flush partials, evaluate, purge).
    tick_seconds: float = 5.0
    #: Key lookups are cached this long: a revoked key works at most this much longer.
    key_cache_seconds: float = 5.0
    #: /metrics without a key (for a Prometheus on a private network).
    public_metrics: bool = False
    #: Bounds of what /metrics exports (series = versions x columns x methods).
    max_label_series: int = 200
    max_export_columns: int = 100
    export_max_age_seconds: float = 7 * 86_400.0
    replica: str | None = None
    #: Link of a trace in the team's tracing tool, ``{trace_id}`` replaced by the trace id
    #: (e.g. ``https://jaeger.example.com/trace/{trace_id}``); the dashboard's error groups
    #: link their latest failure's trace (docs/service.md, "Errors, grouped").
    trace_url: str | None = None

    def __post_init__(self) -> None:
        for name in POSITIVE:
            if getattr(self, name) <= 0:
                raise ConfigError(f"setting {name}={getattr(self, name)!r}; allowed: > 0")
        url = self.trace_url
        if url is not None and (
            not url.startswith(("http://", "https://")) or "{trace_id}" not in url
        ):
            raise ConfigError(
                f"setting trace_url={url!r}; allowed: an http(s) URL containing {{trace_id}}"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``DRIFTLINE_<NAME>`` variables, then ``overrides``."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"DRIFTLINE_{f.name.upper()}")
            if raw is None or f.name in ("windows", "evaluator"):
                continue
            values[f.name] = _parse(f.name, raw, getattr(cls(), f.name))
        sizes = env.get("DRIFTLINE_WINDOW_SIZES")
        grace = env.get("DRIFTLINE_WINDOW_GRACE_SECONDS")
        segs = env.get("DRIFTLINE_SEGMENT_KEYS")
        if sizes or grace or segs:
            w = WindowConfig()
            try:
                w = replace(
                    w,
                    sizes=tuple(int(s) for s in sizes.split(",")) if sizes else w.sizes,
                    grace_seconds=int(grace) if grace else w.grace_seconds,
                    segment_keys=tuple(s for s in segs.split(",") if s) if segs else (),
                )
            except ValueError as exc:
                raise ConfigError(
                    f"DRIFTLINE_WINDOW_SIZES={sizes!r} / DRIFTLINE_WINDOW_GRACE_SECONDS="
                    f"{grace!r}: allowed: comma-separated integer seconds"
                ) from exc
            values["windows"] = w
        values.update(overrides)
        return cls(**values)


def _parse(name: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("1", "true", "yes")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError as exc:
        kind = type(default).__name__
        raise ConfigError(f"DRIFTLINE_{name.upper()}={raw!r}; allowed: a {kind}") from exc
    return raw
