"""The ``otel`` extra: driftline's SDK measurements through the OpenTelemetry SDK (docs/service.md).

``mon.enable_otel()`` (or :func:`enable_otel`) makes every observed prediction
also a span, each of its stages a child span, and records histograms:

- span ``predict {model}`` (kind INTERNAL), child of the span active when
  ``observe()`` was entered (the web framework's request span, when it is
  instrumented), so the prediction sits in the request's trace; attributes
  ``driftline.model``, ``driftline.version``, ``driftline.prediction_id``,
  ``driftline.event_id``, ``driftline.shadow`` and, on failure, ``error.type``
  with status ERROR;
- one span per stage, named after it, nested as the stages were
  (``driftline.stage``, its attributes as ``driftline.stage.<key>``,
  ``error.type``); a stage that recorded LLM usage follows the GenAI
  conventions: named ``{gen_ai.operation.name} {gen_ai.request.model}``, kind
  CLIENT, with ``gen_ai.operation.name``, ``gen_ai.request.model``,
  ``gen_ai.provider.name``, ``gen_ai.usage.input_tokens`` and
  ``gen_ai.usage.output_tokens``;
- histograms ``driftline.prediction.duration`` and ``driftline.stage.duration``
  (s), and for LLM stages ``gen_ai.client.operation.duration`` (s) and
  ``gen_ai.client.token.usage`` (``{token}``, by ``gen_ai.token.type``).

The prediction's ``trace_id`` and ``span_id`` (hex) go on its driftline event,
so a prediction, and an error group's latest failure, can be found in both
systems. The spans are made on the SDK's background thread with the times the
SDK measured (explicit start and end times); the request path only captures
the active OpenTelemetry context. Without the extra enabled, nothing of this
module is imported and ``observe()`` pays one attribute check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from driftline.errors import MissingDependencyError, missing_extra_message

if TYPE_CHECKING:
    from driftline.sdk.monitor import Monitor
    from driftline.sdk.observation import Observation

SCOPE = "driftline"


def _otel() -> Any:
    try:
        from opentelemetry import context, metrics, trace
    except ImportError:
        raise MissingDependencyError(missing_extra_message("opentelemetry", "otel")) from None
    return context, metrics, trace


class OTelExporter:
    """Spans and histograms of one Monitor's predictions (built by :func:`enable_otel`)."""

    def __init__(self, monitor: Monitor, tracer_provider: Any = None, meter_provider: Any = None):
        context, metrics, trace = _otel()
        self._context = context
        self._trace = trace
        from driftline import __version__

        self.model = monitor.model
        tp = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
        mp = meter_provider if meter_provider is not None else metrics.get_meter_provider()
        self.tracer = tp.get_tracer(SCOPE, __version__)
        meter = mp.get_meter(SCOPE, __version__)
        self.prediction_duration = meter.create_histogram(
            "driftline.prediction.duration", unit="s", description="Time to serve one prediction."
        )
        self.stage_duration = meter.create_histogram(
            "driftline.stage.duration", unit="s", description="Time spent in one stage."
        )
        self.genai_duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration."
        )
        self.genai_tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Tokens used per operation."
        )

    # -- request thread ----------------------------------------------------------------
    def parent(self) -> Any:
        """The active OpenTelemetry context (its span becomes the prediction's parent)."""
        return self._context.get_current()

    # -- shipper thread --------------------------------------------------------------------
    def export(self, obs: Observation, record: dict[str, Any]) -> None:
        """The prediction's spans and measurements; its trace and span ids onto ``record``."""
        trace = self._trace
        start = int(obs.timestamp * 1e9)
        end = start + int(obs.latency * 1e9)
        version = record.get("version", "")
        attrs: dict[str, Any] = {
            "driftline.model": self.model,
            "driftline.version": version,
            "driftline.prediction_id": str(record.get("prediction_id") or ""),
            "driftline.event_id": str(record.get("event_id") or ""),
            "driftline.shadow": bool(obs.shadow),
        }
        failed = obs.status != "ok"
        if failed:
            attrs["error.type"] = (record.get("error") or {}).get("type") or obs.error_type or ""
        span = self.tracer.start_span(
            f"predict {self.model}", context=obs.trace, kind=trace.SpanKind.INTERNAL,
            attributes=attrs, start_time=start,
        )  # fmt: skip
        if failed:
            span.set_status(trace.Status(trace.StatusCode.ERROR))
        ctx = span.get_span_context()
        record["trace_id"] = format(ctx.trace_id, "032x")
        record["span_id"] = format(ctx.span_id, "016x")
        labels = {"driftline.model": self.model, "driftline.version": version}
        self.prediction_duration.record(obs.latency, labels | {"driftline.status": obs.status})
        stages = record.get("stages") or []
        spans: list[Any] = []
        for st in stages:
            parent = st.get("parent")
            parent_span = spans[parent] if isinstance(parent, int) and parent < len(spans) else span
            spans.append(self._stage(st, parent_span, start, labels))
        span.end(end_time=end)

    def _stage(self, st: dict[str, Any], parent: Any, start: int, labels: dict[str, str]) -> Any:
        trace = self._trace
        begin = start + int(float(st.get("start_ms") or 0.0) * 1e6)
        seconds = float(st["latency_ms"]) / 1000.0
        attrs: dict[str, Any] = {"driftline.stage": st["name"]}
        for k, v in (st.get("attributes") or {}).items():
            if v is not None:
                attrs[f"driftline.stage.{k}"] = v
        usage = st.get("usage")
        name, kind = st["name"], trace.SpanKind.INTERNAL
        if usage:
            operation = usage.get("operation") or "chat"
            llm = usage.get("model") or ""
            name, kind = f"{operation} {llm}".strip(), trace.SpanKind.CLIENT
            attrs["gen_ai.operation.name"] = operation
            if llm:
                attrs["gen_ai.request.model"] = llm
            if usage.get("provider"):
                attrs["gen_ai.provider.name"] = usage["provider"]
            for key in ("input_tokens", "output_tokens"):
                if usage.get(key) is not None:
                    attrs[f"gen_ai.usage.{key}"] = int(usage[key])
        if st.get("status") != "ok":
            attrs["error.type"] = st.get("error_type") or st.get("status") or "error"
        span = self.tracer.start_span(
            name, context=trace.set_span_in_context(parent), kind=kind, attributes=attrs,
            start_time=begin,
        )  # fmt: skip
        if st.get("status") == "error":
            span.set_status(trace.Status(trace.StatusCode.ERROR))
        span.end(end_time=begin + int(seconds * 1e9))
        self.stage_duration.record(seconds, labels | {"driftline.stage": st["name"]})
        if usage:
            gl = {k: attrs[k] for k in attrs if k.startswith("gen_ai.") and "usage" not in k}
            self.genai_duration.record(seconds, gl)
            for key, kind_name in (("input_tokens", "input"), ("output_tokens", "output")):
                if usage.get(key) is not None:
                    self.genai_tokens.record(int(usage[key]), gl | {"gen_ai.token.type": kind_name})
        return span


def enable_otel(
    monitor: Monitor, *, tracer_provider: Any = None, meter_provider: Any = None
) -> OTelExporter:
    """Export ``monitor``'s predictions and stages through OpenTelemetry (module docs).

    ``tracer_provider`` / ``meter_provider``: default the global ones
    (``opentelemetry.trace.set_tracer_provider``); see :func:`otlp_providers` for
    providers that export over OTLP/HTTP.
    """
    exporter = OTelExporter(monitor, tracer_provider, meter_provider)
    monitor.otel = exporter
    monitor.encoder.otel = exporter
    return exporter


def otlp_providers(
    endpoint: str, service_name: str, *, export_interval_ms: int = 10_000
) -> tuple[Any, Any]:
    """A TracerProvider and a MeterProvider exporting to an OTLP/HTTP endpoint
    (``http://collector:4318``: spans to ``/v1/traces``, metrics to ``/v1/metrics``)."""
    try:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise MissingDependencyError(missing_extra_message("opentelemetry", "otel")) from None
    base = endpoint.rstrip("/")
    resource = Resource.create({"service.name": service_name})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces"))
    )
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{base}/v1/metrics"), export_interval_millis=export_interval_ms
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    return tracer_provider, meter_provider
