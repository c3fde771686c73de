"""Notifiers against real local receivers: payload shapes, retries, outbox, secrets, metrics."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from driftline.alerts import AlertEngine, Dispatcher, MemoryAlertStore, parse_alerts_config
from driftline.alerts.notifiers.slack import MAX_BLOCKS
from driftline.errors import ConfigError
from driftline.sdk.clock import ManualClock
from support import free_port

from .conftest import START, Receiver, point, require_binary, set_time

W = 300.0
FAST = {"timeout": "2s", "attempts": 3, "backoff": "10ms", "max_backoff": "50ms"}
SECRET = "T0001/B0002/S3CRETt0ken"
SLEEPS: list[float] = []  # the dispatcher's backoff sleeps (not slept in these tests)


def setup(
    clock: ManualClock,
    receiver_cfg: dict[str, Any],
    *,
    env: dict[str, str] | None = None,
    rules: list[dict[str, Any]] | None = None,
    **cfg: Any,
) -> tuple[AlertEngine, Dispatcher, MemoryAlertStore, CollectorRegistry]:
    receiver_cfg.setdefault("retry", FAST)
    config = parse_alerts_config(
        {
            "rules": rules
            or [
                {
                    "name": "drift",
                    "metric": "drift_score",
                    "threshold": 0.2,
                    "for": 1,
                    "severity": "critical",
                    "team": "ml",
                    "annotations": {"summary": "{{ $labels.column }} drifted"},
                }
            ],
            "receivers": [{"name": "r", **receiver_cfg}],
            "route": {"receiver": "r", "group_wait": "0s", "group_interval": "1m"},
            **cfg,
        }
    )
    store = MemoryAlertStore()
    registry = CollectorRegistry()
    dispatcher = Dispatcher(
        config, store, clock=clock, env=env or {}, registry=registry, sleep=SLEEPS.append
    )
    engine = AlertEngine(config, store=store, clock=clock, sink=dispatcher)
    return engine, dispatcher, store, registry


def fire(
    engine: AlertEngine, clock: ManualClock, *columns: str, i: int = 0, value: float = 0.9
) -> None:
    set_time(clock, START + (i + 1) * W)
    engine.ingest([point("drift_score", value, i, c) for c in columns])
    engine.tick()


def metric(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


# -- webhook --------------------------------------------------------------


def test_webhook_sends_alertmanager_v4_payload(clock: ManualClock, receiver: Receiver) -> None:
    engine, d, _, _ = setup(clock, {"webhook": {"url": receiver.url + "/hook"}})
    fire(engine, clock, "age")
    (body,) = receiver.bodies("/hook")
    assert set(body) == {
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    }
    assert body["version"] == "4" and body["status"] == "firing" and body["receiver"] == "r"
    assert body["truncatedAlerts"] == 0
    assert body["groupLabels"] == {"model": "m", "owner": "ml"}
    (alert,) = body["alerts"]
    assert set(alert) == {
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "generatorURL",
        "fingerprint",
    }
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["startsAt"] == "2026-01-01T00:05:00.000Z"
    assert alert["labels"] == {
        "alertname": "drift",
        "severity": "critical",
        "team": "ml",
        "model": "m",
        "version": "v1",
        "segment": "*",
        "column": "age",
        "owner": "ml",
        "window": "5m",
    }
    assert alert["annotations"]["summary"] == "age drifted"
    assert body["commonLabels"]["column"] == "age"
    # the condition clears: a resolved notification with the same fingerprint
    fire(engine, clock, "age", i=1, value=0.1)
    clock.advance(60)
    engine.tick()
    resolved = receiver.bodies("/hook")[1]
    assert resolved["status"] == "resolved"
    assert resolved["alerts"][0]["fingerprint"] == alert["fingerprint"]
    assert resolved["alerts"][0]["endsAt"] == "2026-01-01T00:10:00.000Z"
    d.close()


def test_webhook_json_format_with_context_and_token(clock: ManualClock, receiver: Receiver) -> None:
    engine, d, _, _ = setup(
        clock,
        {"webhook": {"url_env": "HOOK_URL", "format": "json", "bearer_token_env": "HOOK_TOKEN"}},
        env={"HOOK_URL": receiver.url + "/j", "HOOK_TOKEN": "tok-123"},
    )
    fire(engine, clock, "age", "income")
    (req,) = receiver.requests
    assert req.headers["authorization"] == "Bearer tok-123"
    assert req.body["version"] == "driftline.alerts/v1"
    alerts = {a["labels"]["column"]: a for a in req.body["alerts"]}
    assert alerts["age"]["value"] == 0.9 and alerts["age"]["threshold"] == 0.2
    assert [t["column"] for t in alerts["age"]["context"]["top_columns"]] == ["age", "income"]
    d.close()


def test_webhook_max_alerts_truncates(clock: ManualClock, receiver: Receiver) -> None:
    engine, d, _, _ = setup(clock, {"webhook": {"url": receiver.url, "max_alerts": 2}})
    fire(engine, clock, "a", "b", "c", "d")
    (body,) = receiver.bodies()
    assert len(body["alerts"]) == 2 and body["truncatedAlerts"] == 2
    d.close()


# -- Slack ----------------------------------------------------------------


def test_slack_blocks_escaping_and_limits(clock: ManualClock, receiver: Receiver) -> None:
    rules = [
        {
            "name": "drift",
            "metric": "drift_score",
            "threshold": 0.2,
            "for": 1,
            "annotations": {
                "summary": "<script> & {{ $labels.column }}",
                "runbook_url": "https://runbooks/drift",
            },
        }
    ]
    engine, d, _, _ = setup(
        clock,
        {"slack": {"webhook_url_env": "SLACK_URL"}},
        rules=rules,
        env={"SLACK_URL": f"{receiver.url}/services/{SECRET}"},
    )
    fire(engine, clock, *[f"c{k:02d}" for k in range(60)])
    (req,) = receiver.requests
    assert req.path == f"/services/{SECRET}"
    body = req.body
    assert set(body) == {"text", "blocks"}
    blocks = body["blocks"]
    assert len(blocks) == MAX_BLOCKS
    assert blocks[0]["type"] == "header" and blocks[0]["text"]["type"] == "plain_text"
    assert body["text"].startswith("[FIRING:60] drift (m)")
    first = blocks[1]["text"]
    assert first["type"] == "mrkdwn" and len(first["text"]) <= 3000
    assert "&lt;script&gt; &amp; c00" in first["text"] and "<script>" not in first["text"]
    assert "<https://runbooks/drift|Runbook>" in first["text"]
    assert blocks[-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "and 12 more alerts"}],
    }
    d.close()


def test_slack_429_is_retried_after_retry_after_and_secret_never_logged(
    clock: ManualClock, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.respond((429, {"Retry-After": "0.03"}, b"rate_limited"), (500, {}, b"oops"))
    SLEEPS.clear()
    engine, d, store, registry = setup(
        clock,
        {"slack": {"webhook_url_env": "SLACK_URL"}},
        env={"SLACK_URL": f"{receiver.url}/services/{SECRET}"},
    )
    fire(engine, clock, "age")
    assert len(receiver.requests) == 3  # 429, 500, then 200 "ok"
    assert SLEEPS == [0.03, 0.02]  # Retry-After honoured, then backoff 10ms x 2^1
    (delivery,) = store.deliveries()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert (
        metric(
            registry,
            "driftline_alert_notification_failures_total",
            receiver="r",
            notifier="slack",
            reason="http_429",
        )
        == 1
    )
    assert (
        metric(
            registry,
            "driftline_alert_notification_failures_total",
            receiver="r",
            notifier="slack",
            reason="http_5xx",
        )
        == 1
    )
    assert (
        metric(
            registry,
            "driftline_alert_notifications_total",
            receiver="r",
            notifier="slack",
            outcome="delivered",
        )
        == 1
    )
    assert "S3CRET" not in caplog.text
    assert any(
        "hooks" not in r.getMessage() and "127.0.0.1" in r.getMessage()
        for r in caplog.records
        if r.name == "httpx"
    )
    assert SECRET not in repr(d.notifiers[("r", "slack")])
    d.close()


def test_missing_secret_names_the_variable_not_a_value(clock: ManualClock) -> None:
    with pytest.raises(
        ConfigError, match=r"environment variable SLACK_URL \(Slack webhook URL\) is not set"
    ):
        setup(clock, {"slack": {"webhook_url_env": "SLACK_URL"}}, env={})


def test_secrets_cannot_be_written_in_the_file() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'alerts.receivers.0.slack.webhook_url'"):
        parse_alerts_config({"receivers": [{"name": "ops", "slack": {"webhook_url": "https://x"}}]})


# -- PagerDuty ------------------------------------------------------------


def pagerduty(clock: ManualClock, receiver: Receiver, **options: Any) -> Any:
    """``setup`` with a PagerDuty receiver (routing key from the environment) on ``receiver``,
    which answers as the Events API does."""
    receiver.default = (202, {}, b'{"status":"success"}')
    return setup(
        clock,
        {"pagerduty": {"routing_key_env": "PD_KEY", "url": receiver.url + "/v2/enqueue"}},
        env={"PD_KEY": "R0UTINGKEY"},
        **options,
    )


def test_pagerduty_trigger_and_resolve_share_a_stable_dedup_key(
    clock: ManualClock, receiver: Receiver
) -> None:
    engine, d, store, _ = pagerduty(
        clock, receiver, dashboard_url="https://dash/{{ $labels.model }}"
    )
    fire(engine, clock, "age")
    fire(engine, clock, "age", i=1, value=0.1)
    clock.advance(60)
    engine.tick()
    trigger, resolve = receiver.bodies("/v2/enqueue")
    assert set(trigger) == {
        "routing_key",
        "event_action",
        "dedup_key",
        "payload",
        "links",
        "client",
        "client_url",
    }
    assert trigger["routing_key"] == "R0UTINGKEY" and trigger["event_action"] == "trigger"
    p = trigger["payload"]
    assert {
        "summary",
        "source",
        "severity",
        "timestamp",
        "component",
        "group",
        "class",
        "custom_details",
    } == set(p)
    assert (p["summary"], p["severity"], p["component"], p["class"]) == (
        "age drifted",
        "critical",
        "m",
        "drift",
    )
    assert p["custom_details"]["value"] == 0.9
    assert {"href": "https://dash/m", "text": "Dashboard"} in trigger["links"]
    assert resolve == {
        "routing_key": "R0UTINGKEY",
        "event_action": "resolve",
        "dedup_key": trigger["dedup_key"],
    }
    assert trigger["dedup_key"] == f"driftline/{engine.alerts()[0].fingerprint}"
    assert all(x.status == "delivered" for x in store.deliveries())
    d.close()


def test_acknowledging_a_paged_alert_acknowledges_the_pagerduty_incident(
    clock: ManualClock, receiver: Receiver
) -> None:
    engine, _, store, _ = pagerduty(clock, receiver, resolve_timeout="12h")
    fire(engine, clock, "age")
    (alert,) = engine.alerts("firing")
    engine.acknowledge(alert.fingerprint, by="alice", comment="looking")
    assert len(receiver.requests) == 1  # queued, not sent from the acknowledging request
    engine.tick()
    trigger, ack = receiver.bodies("/v2/enqueue")
    assert ack == {
        "routing_key": "R0UTINGKEY",
        "event_action": "acknowledge",
        "dedup_key": trigger["dedup_key"],
    }
    assert [x.status for x in store.deliveries()] == ["delivered", "delivered"]
    clock.advance(5 * 3600)  # past repeat_interval: an acknowledged alert is not re-sent
    engine.tick()
    assert len(receiver.requests) == 2


def test_acknowledging_an_alert_never_paged_sends_nothing(
    clock: ManualClock, receiver: Receiver
) -> None:
    engine, _, store, _ = setup(
        clock,
        {"pagerduty": {"routing_key_env": "PD_KEY", "url": receiver.url}},
        env={"PD_KEY": "k"},
    )
    engine.add_silence(["column=age"], duration="1h", created_by="bob", comment="backfill")
    fire(engine, clock, "age")
    engine.acknowledge(engine.alerts("firing")[0].fingerprint, by="alice")
    engine.tick()
    assert receiver.requests == [] and store.deliveries() == []


def test_pagerduty_400_is_not_retried(clock: ManualClock, receiver: Receiver) -> None:
    receiver.default = (400, {}, b'{"status":"invalid event"}')
    engine, d, store, registry = setup(
        clock, {"pagerduty": {"routing_key_env": "K", "url": receiver.url}}, env={"K": "k"}
    )
    fire(engine, clock, "age")
    assert len(receiver.requests) == 1
    (delivery,) = store.deliveries()
    assert delivery.status == "failed" and "HTTP 400" in delivery.last_error
    assert (
        metric(
            registry,
            "driftline_alert_notifications_total",
            receiver="r",
            notifier="pagerduty",
            outcome="failed",
        )
        == 1
    )
    for _ in range(10):
        clock.advance(600)
        engine.tick()
    assert [b["event_action"] for b in receiver.bodies()].count("trigger") == 1
    d.close()


# -- outbox: nothing is lost ----------------------------------------------


def test_undelivered_notifications_wait_in_the_outbox(
    clock: ManualClock, receiver: Receiver
) -> None:
    receiver.default = (503, {}, b"down")
    engine, d, store, registry = setup(
        clock,
        {
            "webhook": {"url": receiver.url},
            "retry": {"attempts": 2, "backoff": "10ms", "max_backoff": "30s"},
        },
    )
    fire(engine, clock, "age")
    (delivery,) = store.deliveries()
    assert (delivery.status, delivery.attempts) == ("pending", 2)
    assert delivery.next_attempt_at > clock.time()
    engine.tick()  # not due yet
    assert len(receiver.requests) == 2
    for _ in range(4):  # still down: retried later, with growing backoff, never dropped
        clock.advance(60)
        engine.tick()
    assert store.deliveries()[0].status == "pending"
    down = len(receiver.requests)
    assert down > 2
    receiver.default = (200, {}, b"ok")
    clock.advance(60)
    engine.tick()  # the receiver is back
    (delivery,) = store.deliveries()
    assert delivery.status == "delivered"
    assert receiver.bodies()[-1]["alerts"][0]["labels"]["column"] == "age"
    assert (
        metric(
            registry,
            "driftline_alert_notifications_total",
            receiver="r",
            notifier="webhook",
            outcome="deferred",
        )
        >= 2
    )
    d.close()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers (for timeouts)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    try:
        yield f"http://127.0.0.1:{s.getsockname()[1]}"
    finally:
        s.close()


def test_timeout_is_retryable(clock: ManualClock, silent_server: str) -> None:
    engine, d, store, registry = setup(
        clock,
        {
            "webhook": {"url": silent_server},
            "retry": {"timeout": "200ms", "attempts": 1, "backoff": "1s"},
        },
    )
    fire(engine, clock, "age")
    (delivery,) = store.deliveries()
    assert delivery.status == "pending" and "timed out" in delivery.last_error
    assert (
        metric(
            registry,
            "driftline_alert_notification_failures_total",
            receiver="r",
            notifier="webhook",
            reason="timeout",
        )
        == 1
    )
    d.close()


def test_connection_refused_is_retryable(clock: ManualClock) -> None:
    engine, d, store, _ = setup(clock, {"webhook": {"url": f"http://127.0.0.1:{free_port()}"}})
    fire(engine, clock, "age")
    (delivery,) = store.deliveries()
    assert delivery.status == "pending" and "cannot connect" in delivery.last_error
    assert delivery.attempts == 3
    d.close()


# -- actions --------------------------------------------------------------


def test_action_is_called_once_when_an_alert_fires(clock: ManualClock, receiver: Receiver) -> None:
    engine, d, _, _ = setup(
        clock,
        {"log": {}},
        actions=[
            {
                "name": "retrain",
                "matchers": ["alertname=drift"],
                "url": receiver.url + "/run",
                "body": {
                    "conf": {"model": "{{ $labels.model }}", "reason": "{{ $labels.column }}"}
                },
            }
        ],
    )
    for i in range(5):
        fire(engine, clock, "age", i=i)
    (body,) = receiver.bodies("/run")
    assert body["conf"] == {"model": "m", "reason": "age"}
    assert body["action"] == "retrain" and body["alert"]["labels"]["alertname"] == "drift"
    d.close()


def test_log_notifier(clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="driftline.alerts")
    engine, d, _, _ = setup(clock, {"log": {"level": "warning"}})
    fire(engine, clock, "age")
    (rec,) = [r for r in caplog.records if r.name == "driftline.alerts"]
    assert rec.levelno == logging.WARNING and '"column": "age"' in rec.getMessage()
    d.close()


# -- email ----------------------------------------------------------------


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = require_binary("openssl")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(d / "key.pem"),
            "-out",
            str(d / "cert.pem"),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return d / "cert.pem", d / "key.pem"


@pytest.fixture
def smtp(cert: tuple[Path, Path]) -> Iterator[dict[str, Any]]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    got: dict[str, Any] = {"messages": [], "logins": []}
    lock = threading.Lock()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with lock:
                got["messages"].append(envelope)
            return "250 OK"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"alerts", b"pw")
        got["logins"].append((getattr(data, "login", None), ok))
        return AuthResult(success=ok)

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    port = free_port()
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        tls_context=ctx,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
    )
    controller.start()
    got["smarthost"] = f"127.0.0.1:{port}"
    try:
        yield got
    finally:
        controller.stop()


def email_cfg(smtp: dict[str, Any], cert: tuple[Path, Path]) -> dict[str, Any]:
    return {
        "email": {
            "to": ["ml-team@example.com"],
            "from": "driftline@example.com",
            "smarthost": smtp["smarthost"],
            "username_env": "SMTP_USER",
            "password_env": "SMTP_PASS",
            "ca_file": str(cert[0]),
        }
    }


def test_email_over_starttls_with_login(
    clock: ManualClock, smtp: dict[str, Any], cert: tuple[Path, Path]
) -> None:
    engine, d, store, _ = setup(
        clock, email_cfg(smtp, cert), env={"SMTP_USER": "alerts", "SMTP_PASS": "pw"}
    )
    fire(engine, clock, "age")
    (envelope,) = smtp["messages"]
    assert envelope.rcpt_tos == ["ml-team@example.com"]
    msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert msg["Subject"] == "[FIRING:1] drift (m) - driftline"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "age drifted" in text and "column=age" in text
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<b>age drifted</b>" in html
    assert smtp["logins"] == [(b"alerts", True)]
    assert store.deliveries()[0].status == "delivered"
    d.close()


def test_email_wrong_password_is_not_retried(
    clock: ManualClock, smtp: dict[str, Any], cert: tuple[Path, Path]
) -> None:
    engine, d, store, _ = setup(
        clock, email_cfg(smtp, cert), env={"SMTP_USER": "alerts", "SMTP_PASS": "nope"}
    )
    fire(engine, clock, "age")
    (delivery,) = store.deliveries()
    assert delivery.status == "failed" and "login refused" in delivery.last_error
    assert len(smtp["logins"]) == 1 and smtp["messages"] == []
    assert "nope" not in delivery.last_error
    d.close()
