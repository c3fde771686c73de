"""The ``otel`` extra against a real OTLP/HTTP receiver on loopback.

The receiver is an HTTP server that decodes what arrives with the protocol's
published definitions (opentelemetry-proto's ``ExportTraceServiceRequest`` and
``ExportMetricsServiceRequest``); the exporters are the OpenTelemetry SDK's own
OTLP/HTTP exporters, so the bytes on the wire are what a collector would get.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from driftline.sdk import Monitor
from driftline.sdk.otel import otlp_providers


class OTLPReceiver:
    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.metrics: list[Any] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.paths.append(self.path)
                assert self.headers["Content-Type"] == "application/x-protobuf"
                if self.path == "/v1/traces":
                    req = trace_service_pb2.ExportTraceServiceRequest()
                    req.ParseFromString(body)
                    for rs in req.resource_spans:
                        for ss in rs.scope_spans:
                            receiver.spans.extend(ss.spans)
                else:
                    req = metrics_service_pb2.ExportMetricsServiceRequest()
                    req.ParseFromString(body)
                    for rm in req.resource_metrics:
                        for sm in rm.scope_metrics:
                            receiver.metrics.extend(sm.metrics)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    r = OTLPReceiver()
    yield r
    r.close()


def _attrs(span: Any) -> dict[str, Any]:
    out = {}
    for kv in span.attributes:
        v = kv.value
        out[kv.key] = getattr(v, v.WhichOneof("value"))
    return out


def test_a_prediction_and_its_stages_arrive_as_spans_with_the_events_trace_id(
    receiver: OTLPReceiver,
) -> None:
    tracer_provider, meter_provider = otlp_providers(receiver.url, "rag-service")
    mon = Monitor("rag", "v2", sink="memory", registry=CollectorRegistry())
    mon.enable_otel(tracer_provider=tracer_provider, meter_provider=meter_provider)
    request_tracer = tracer_provider.get_tracer("web")
    with (
        request_tracer.start_as_current_span("POST /answer") as request_span,
        mon.observe({"q_len": 12}) as obs,
    ):
        with obs.stage("retrieve", k=5):
            pass
        with obs.stage("generate") as st:
            st.record_usage(model="small-llm", provider="openai", input_tokens=812,
                            output_tokens=64)  # fmt: skip
        obs.record(prediction="42")
    with pytest.raises(KeyError), mon.observe({"q_len": 3}) as obs, obs.stage("retrieve"):
        raise KeyError("doc")
    assert mon.flush(10)
    events = mon.sink.records("prediction")  # type: ignore[attr-defined]
    mon.close()
    tracer_provider.force_flush()
    meter_provider.force_flush()
    tracer_provider.shutdown()
    meter_provider.shutdown()

    by_name = {s.name: s for s in receiver.spans}
    predict = [s for s in receiver.spans if s.name == "predict rag"]
    assert len(predict) == 2
    ok_event = events[0]
    ok_span = next(s for s in predict if s.trace_id.hex() == ok_event["trace_id"])
    # the prediction sits in the request's trace, under the request's span
    assert ok_event["trace_id"] == format(request_span.get_span_context().trace_id, "032x")
    assert ok_span.parent_span_id == request_span.get_span_context().span_id.to_bytes(8, "big")
    assert ok_span.span_id.hex() == ok_event["span_id"]
    assert (
        _attrs(ok_span).items()
        >= {
            "driftline.model": "rag",
            "driftline.version": "v2",
            "driftline.prediction_id": ok_event["prediction_id"],
            "driftline.event_id": ok_event["event_id"],
        }.items()
    )
    retrieve = [s for s in receiver.spans if s.name == "retrieve"]
    assert any(s.parent_span_id == ok_span.span_id for s in retrieve)
    assert (
        _attrs(next(s for s in retrieve if s.parent_span_id == ok_span.span_id))[
            "driftline.stage.k"
        ]
        == 5
    )
    llm = by_name["chat small-llm"]
    assert llm.parent_span_id == ok_span.span_id
    assert (
        _attrs(llm).items()
        >= {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "small-llm",
            "gen_ai.provider.name": "openai",
            "gen_ai.usage.input_tokens": 812,
            "gen_ai.usage.output_tokens": 64,
        }.items()
    )
    # the failed prediction: ERROR status and error.type, its own trace (no request span)
    failed_event = events[1]
    failed = next(s for s in predict if s.trace_id.hex() == failed_event["trace_id"])
    assert failed.status.code == 2  # STATUS_CODE_ERROR
    assert _attrs(failed)["error.type"] == "KeyError"
    assert failed.end_time_unix_nano >= failed.start_time_unix_nano
    names = {m.name for m in receiver.metrics}
    assert {
        "driftline.prediction.duration",
        "driftline.stage.duration",
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
    } <= names
    assert set(receiver.paths) == {"/v1/traces", "/v1/metrics"}


def test_without_the_extra_enabled_observe_records_no_trace_ids() -> None:
    mon = Monitor("rag", sink="memory", registry=CollectorRegistry())
    with mon.observe({"q_len": 1}) as obs:
        obs.record(prediction=1)
    assert mon.flush(5)
    (event,) = mon.sink.records("prediction")  # type: ignore[attr-defined]
    mon.close()
    assert "trace_id" not in event and mon.otel is None
