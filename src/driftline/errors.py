"""One exception tree, rooted at :class:`DriftlineError`.

Every error says what was wrong, where (column, key, field, line) and what is
allowed, so a user can fix the input without reading driftline's code::

    DriftlineError
    ├── SchemaError                  a schema names a missing column or a bad role/kind
    ├── InputError                   data that cannot be read or has the wrong shape
    │   └── NoOutlierFeaturesError   (driftline.stats.outliers) no column an outlier model
    │                                scores (a text-only service): not applicable, no fault
    ├── ProfileFormatError           a corrupt, truncated or unknown-version profile
    ├── ConfigError                  a configuration file or option has a bad value
    │   └── SDKConfigError           (driftline.sdk) a Monitor/sink/privacy option
    ├── MissingDependencyError       an optional extra is not installed (also ImportError)
    ├── PluginError                  a plug-in's entry point cannot be loaded or registered
    ├── SinkError                    (driftline.sdk) a batch was not delivered; retried,
    │                                never raised to the model service
    ├── JudgeError                   (driftline.sdk) one judge call failed or answered garbage;
    │                                counted with its reason, never raised to the service
    ├── NotificationError            (driftline.alerts) one notification attempt failed
    └── HTTPError                    an answer of the collector; ``status`` is its HTTP code
        ├── BodyError                (driftline.server.ingest) 400 / 413 / 415
        ├── InvalidEventError        (driftline.server.ingest) 422, one event, names the field
        ├── ForbiddenError           (driftline.server.collector) 403, foreign models
        └── OverloadedError          (driftline.server.collector) 429, retry later

Catch :class:`DriftlineError` to handle everything driftline raises on purpose;
anything else escaping driftline is a bug.
"""

from __future__ import annotations


class DriftlineError(Exception):
    """Base class of every error driftline raises on purpose."""


class SchemaError(DriftlineError):
    """A schema mapping names a missing column, or a role/kind that does not fit."""


class InputError(DriftlineError):
    """The data handed to driftline cannot be read or has the wrong shape."""


class ProfileFormatError(DriftlineError):
    """A serialised profile is corrupt, truncated or of an unknown format version."""


class ConfigError(DriftlineError):
    """The configuration file or an option has a bad value."""


class PluginError(DriftlineError):
    """A plug-in (a ``driftline.*`` entry point) cannot be loaded or does not fit its registry."""


class HTTPError(DriftlineError):
    """An error the collector answers with; ``status`` is the HTTP status code it sends."""

    status: int = 500

    def __init__(self, message: str = "", *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.message = message


class MissingDependencyError(DriftlineError, ImportError):
    """An optional dependency is needed for this feature; the message says how to install it."""


#: top-level module of an optional dependency -> the extra that installs it (pyproject.toml).
EXTRAS: dict[str, str] = {
    **dict.fromkeys(
        ("scipy", "pyarrow", "numba", "datasketches", "yaml", "pydantic", "typing_extensions"),
        "profile",
    ),
    "plotly": "report",
    **dict.fromkeys(("typer", "rich", "click"), "cli"),
    **dict.fromkeys(
        ("fastapi", "starlette", "jinja2", "orjson", "uvicorn", "sqlalchemy", "alembic"), "server"
    ),
    "psycopg": "postgres",
    "sklearn": "ml",
    "threadpoolctl": "ml",
    "pandas": "pandas",
    "polars": "polars",
    "pyspark": "spark",
    "nats": "nats",
    "isal": "sdk",
    "opentelemetry": "otel",
    "pynvml": "gpu",
    "PIL": "images",
}


def missing_extra_message(module: str, extra: str | None = None) -> str:
    """The one-line hint for a missing optional dependency (the extra found from the module)."""
    top = module.split(".")[0]
    extra = extra or EXTRAS.get(top, "all")
    return (
        f"this needs the '{extra}' extra (module {top!r} is not installed): "
        f"pip install 'driftline[{extra}]'"
    )


def missing_extra(exc: ImportError) -> MissingDependencyError | None:
    """A :class:`MissingDependencyError` for an import of an optional dependency that failed.

    None when ``exc`` is about anything else (a bug, or a module of driftline itself).
    """
    if isinstance(exc, MissingDependencyError):
        return exc
    name = (exc.name or "").split(".")[0]
    if not isinstance(exc, ModuleNotFoundError) or name not in EXTRAS:
        return None
    return MissingDependencyError(missing_extra_message(name))


def require(module: str, extra: str) -> None:
    """Raise :class:`MissingDependencyError` with an install hint if ``module`` is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(missing_extra_message(module, extra))


__all__ = [
    "EXTRAS",
    "ConfigError",
    "DriftlineError",
    "HTTPError",
    "InputError",
    "MissingDependencyError",
    "PluginError",
    "ProfileFormatError",
    "SchemaError",
    "missing_extra",
    "missing_extra_message",
    "require",
]
