"""One contract over every registered notifier, built-in or installed plug-in.

Each delivers a firing notification through the dispatcher to a real local
receiver (HTTP server, SMTP server, log, file), refuses unknown keys in its
settings (so a secret cannot be written in the file by mistake) and is
documented. A notifier added to the registry without an entry in EXAMPLES
fails here: the contract covers every one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from driftline.alerts import parse_alerts_config
from driftline.alerts.notifiers.registry import NOTIFIERS, NotifierType
from driftline.errors import ConfigError
from driftline.sdk.clock import ManualClock

from .conftest import Receiver
from .test_notifiers import cert, email_cfg, fire, setup, smtp  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]
Arrived = Callable[[], bool]


def _http(section: dict[str, Any]) -> Callable[..., tuple[dict[str, Any], dict[str, str]]]:
    def make(receiver: Receiver, **_: Any) -> tuple[dict[str, Any], dict[str, str]]:
        cfg = {
            k: (v.format(url=receiver.url) if isinstance(v, str) else v) for k, v in section.items()
        }
        return cfg, {"HOOK_URL": receiver.url + "/slack", "ROUTING_KEY": "k-123"}

    return make


#: notifier -> (its settings for a local receiver, environment); a new notifier adds one line
EXAMPLES: dict[str, Callable[..., tuple[dict[str, Any], dict[str, str]]]] = {
    "webhook": _http({"url": "{url}/hook"}),
    "slack": _http({"webhook_url_env": "HOOK_URL"}),
    "pagerduty": _http({"url": "{url}/pd", "routing_key_env": "ROUTING_KEY"}),
    "alertmanager": _http({"url": "{url}"}),
    "email": lambda **kw: (
        email_cfg(kw["smtp"], kw["cert"])["email"], {"SMTP_USER": "alerts", "SMTP_PASS": "pw"}
    ),
    "log": lambda **_: ({"level": "warning"}, {}),
    "jsonl_file": lambda tmp_path, **_: ({"path": str(tmp_path / "alerts.jsonl")}, {}),
}  # fmt: skip

NAMES = list(NOTIFIERS.names())


def test_every_registered_notifier_has_a_contract_example() -> None:
    assert set(NAMES) == set(EXAMPLES), "add the new notifier to EXAMPLES"
    assert "jsonl_file" in NAMES and not NOTIFIERS.is_builtin("jsonl_file")


@pytest.mark.parametrize("name", NAMES)
def test_delivers_a_firing_notification_to_a_real_receiver(
    name: str,
    clock: ManualClock,
    receiver: Receiver,
    smtp: dict[str, Any],  # noqa: F811
    cert: tuple[Path, Path],  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="driftline.alerts")
    section, env = EXAMPLES[name](receiver=receiver, smtp=smtp, cert=cert, tmp_path=tmp_path)
    sent_before = len(smtp["messages"])
    engine, dispatcher, store, _ = setup(clock, {name: section}, env=env)
    fire(engine, clock, "age")
    (delivery,) = store.deliveries()
    assert (delivery.notifier, delivery.status) == (name, "delivered"), delivery.last_error
    arrived = {
        "email": len(smtp["messages"]) == sent_before + 1,
        "log": any('"column": "age"' in r.getMessage() for r in caplog.records),
        "jsonl_file": tmp_path.joinpath("alerts.jsonl").exists()
        and json.loads(tmp_path.joinpath("alerts.jsonl").read_text())["status"] == "firing",
    }.get(name, len(receiver.requests) == 1)
    assert arrived, name
    dispatcher.close()


@pytest.mark.parametrize("name", NAMES)
def test_refuses_unknown_keys_and_names_the_allowed_ones(name: str) -> None:
    kind: NotifierType = NOTIFIERS[name]
    with pytest.raises(ConfigError) as err:
        parse_alerts_config({"receivers": [{"name": "r", name: {"password": "hunter2"}}]})
    message = str(err.value)
    assert f"alerts.receivers.0.{name}.password" in message
    assert "hunter2" not in message.split("allowed")[-1]
    some_key = next(iter(kind.config.model_fields))
    assert "allowed" not in message or some_key in message


@pytest.mark.parametrize("name", NAMES)
def test_is_documented(name: str) -> None:
    kind = NOTIFIERS[name]
    assert kind.description
    if NOTIFIERS.is_builtin(name):
        assert f"`{name}`" in (ROOT / "docs" / "alerts.md").read_text()
    else:
        assert (
            f"`{name}`"
            in (ROOT / "examples" / "driftline-plugin-example" / "README.md").read_text()
        )
