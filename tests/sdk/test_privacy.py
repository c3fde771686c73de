"""Privacy policy: masking, hashing, dropping, derived values, and the canary PII test."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.sdk import Monitor, PIIPattern, PrivacyPolicy, SDKConfigError
from driftline.sdk.privacy import DEFAULT_PATTERNS

from .conftest import Receiver

KEY = "test-hash-key"

# Canary values: if any of these strings reaches a sink, the policy leaked.
CANARY_EMAIL = "canary.leak@example.org"
CANARY_PHONE = "+44 20 7946 0958"
CANARY_CARD = "4539 1488 0343 6467"  # passes Luhn
CANARY_IBAN = "GB82WEST12345698765432"  # valid mod-97
CANARY_IP = "203.0.113.77"
CANARY_IPV6 = "2001:db8::8a2e:370:7334"
CANARY_USER = "user-7f3c-canary"
CANARY_SECRET = "s3cr3t-canary-token"
CANARY_TEXT = "please call me, I'm worried about my loan"
CANARIES = [
    CANARY_EMAIL,
    CANARY_PHONE,
    CANARY_CARD,
    CANARY_CARD.replace(" ", ""),
    CANARY_IBAN,
    CANARY_IP,
    CANARY_IPV6,
    CANARY_USER,
    CANARY_SECRET,
    CANARY_TEXT,
    "canary.leak",
    "7946 0958",
    "0343 6467",
]


@pytest.fixture
def policy() -> PrivacyPolicy:
    return PrivacyPolicy(
        {
            "user_id": "hash",
            "prediction_id": "hash",
            "password": "drop",
            "complaint": ("length", "tokens"),
            "embedding": ("norm", "dim"),
            "tags.contact": "mask",
        },
        text_default="mask",
        hash_key=KEY,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to a.b+c@mail.example.com now", "write to <email> now"),
        ("card 4111 1111 1111 1111 ok", "card <card> ok"),
        ("card 4111-1111-1111-1112 fails Luhn", "card 4111-1111-1111-1112 fails Luhn"),
        ("iban GB82 WEST 1234 5698 7654 32.", "iban <iban>."),
        ("iban GB00WEST12345698765432 bad check", "iban GB00WEST12345698765432 bad check"),
        ("from 192.168.1.20:8080", "from <ip>:8080"),
        ("v6 fe80::1ff:fe23:4567:890a here", "v6 <ip> here"),
        ("call +1 (415) 555-0132 today", "call <phone> today"),
        ("ring 020 7946 0958", "ring <phone>"),
        ("on 2024-01-05 at 12:30", "on 2024-01-05 at 12:30"),
        ("version 1.2.3 and 999.1.1.1", "version 1.2.3 and 999.1.1.1"),
        ("order 12345", "order 12345"),
    ],
    ids=[
        "email",
        "card",
        "card-bad-luhn",
        "iban",
        "iban-bad-check",
        "ipv4",
        "ipv6",
        "phone-intl",
        "phone-local",
        "date-not-phone",
        "version-not-ip",
        "short-number",
    ],
)
def test_mask_finds_pii_and_leaves_look_alikes(text: str, expected: str) -> None:
    assert PrivacyPolicy().mask(text) == expected


def test_pluggable_patterns() -> None:
    ssn = PIIPattern("ssn", r"\b\d{3}-\d{2}-\d{4}\b")
    policy = PrivacyPolicy(patterns=[ssn])
    assert policy.mask("ssn 078-05-1120, mail x@y.io") == "ssn <ssn>, mail x@y.io"
    with pytest.raises(SDKConfigError, match="invalid regular expression"):
        PIIPattern("bad", "(")


_UNTRIGGERED = PrivacyPolicy(
    patterns=[PIIPattern(p.name, p.regex, p.validate, p.flags) for p in DEFAULT_PATTERNS]
)
_PIECES = st.sampled_from(
    [CANARY_EMAIL, CANARY_PHONE, CANARY_CARD, CANARY_IBAN, CANARY_IP, CANARY_IPV6, "GB82 WEST"]
)
_NOISE = st.text(alphabet="0123456789 .-:@+()abcXYZ", max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_PIECES, _NOISE), max_size=5))
def test_triggers_only_skip_patterns_that_cannot_match(parts: list[str]) -> None:
    text = " ".join(parts)
    assert PrivacyPolicy().mask(text) == _UNTRIGGERED.mask(text)


def test_hash_is_a_keyed_hmac_sha256(policy: PrivacyPolicy) -> None:
    expected = hmac.new(KEY.encode(), b"alice", hashlib.sha256).hexdigest()[:32]
    assert policy.hash("alice") == expected
    assert PrivacyPolicy(hash_key="other").hash("alice") != expected


def test_hash_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIFTLINE_HASH_KEY", raising=False)
    with pytest.raises(SDKConfigError, match="DRIFTLINE_HASH_KEY"):
        PrivacyPolicy({"email": "hash"})
    monkeypatch.setenv("DRIFTLINE_HASH_KEY", KEY)
    assert PrivacyPolicy({"email": "hash"}).hash("alice") == PrivacyPolicy(hash_key=KEY).hash(
        "alice"
    )


def test_rules_by_field_and_scope(policy: PrivacyPolicy) -> None:
    features = {
        "user_id": "u1",
        "password": "hunter2",
        "complaint": "too slow to answer",
        "embedding": [3.0, 4.0],
        "note": f"mail {CANARY_EMAIL}",
        "age": 41,
    }
    out = policy.apply_mapping("features", features)
    assert out == {
        "user_id": policy.hash("u1"),
        "complaint.length": 18,
        "complaint.tokens": 4,
        "embedding.norm": 5.0,
        "embedding.dim": 2,
        "note": "mail <email>",
        "age": 41,
    }
    assert policy.apply_mapping("tags", {"contact": CANARY_PHONE}) == {"contact": "<phone>"}
    assert policy.apply_field("prediction_id", "p1") == policy.hash("p1")


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        ({"age": 41, "note": CANARY_EMAIL}, {"age": 41, "note": CANARY_EMAIL}),
        ({"age": 41, "email": CANARY_EMAIL}, {"age": 41}),
        ({"age": 41, "note": "x", "user": "u1"}, {"age": 41, "note": "x", "user": "<h>"}),
    ],
    ids=["no-rule-applies", "dropped", "hashed"],
)
def test_rules_apply_to_the_fields_they_name_and_only_those(
    features: dict[str, Any], expected: dict[str, Any]
) -> None:
    policy = PrivacyPolicy({"email": "drop", "features.user": "hash"}, hash_key=KEY)
    expected = {k: policy.hash(features[k]) if v == "<h>" else v for k, v in expected.items()}
    assert policy.apply_mapping("features", features) == expected
    assert policy.apply_mapping("tags", {"user": "u1"}) == {"user": "u1"}  # scoped to features


def test_text_default_applies_to_string_subclasses_such_as_numpy_strings() -> None:
    np = pytest.importorskip("numpy")

    class Text(str):
        pass

    policy = PrivacyPolicy(text_default="mask")
    values = {"a": np.str_(f"mail {CANARY_EMAIL}"), "b": Text(f"call {CANARY_PHONE}"), "n": 1}
    assert policy.apply_mapping("features", values) == {
        "a": "mail <email>",
        "b": "call <phone>",
        "n": 1,
    }
    assert policy.apply_field("prediction", np.str_(CANARY_EMAIL)) == "<email>"


@pytest.mark.parametrize("where", ["features", "segment", "tags", "nowhere"])
def test_events_with_and_without_named_fields_in_one_batch(
    make_monitor: Callable[..., Monitor], where: str
) -> None:
    policy = PrivacyPolicy({"email": "drop", "tags.user": "hash"}, hash_key=KEY)
    mon = make_monitor(privacy=policy, batch_size=100, flush_interval=30)
    for i in range(6):
        features: dict[str, Any] = {"i": i, "user": "u"} if i == 4 else {"i": i}
        parts: dict[str, dict[str, Any]] = {"features": features, "segment": {}}
        parts["tags"] = {"user": "u"} if i % 2 else {}
        if i % 3 == 0 and where != "nowhere":
            parts[where]["email"] = CANARY_EMAIL
        with mon.observe(parts["features"], segment=parts["segment"], tags=parts["tags"]):
            pass
    assert mon.flush(5)
    events = mon.sink.events  # type: ignore[attr-defined]
    assert CANARY_EMAIL not in json.dumps(events)
    assert [e["features"].get("user") for e in events] == [None] * 4 + ["u", None]
    hashed = policy.hash("u")
    assert [e["tags"] for e in events] == [{"user": hashed} if i % 2 else {} for i in range(6)]


@pytest.mark.parametrize(
    ("fields", "kwargs", "message"),
    [
        ({"x": "encrypt"}, {}, "unknown action 'encrypt'"),
        ({"x": ("hash", "length")}, {"hash_key": "k"}, "mixes actions"),
        ({}, {"text_default": "shout"}, "text_default='shout'"),
    ],
    ids=["unknown-action", "mixed", "bad-default"],
)
def test_bad_policies_say_what_is_allowed(
    fields: dict[str, str], kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(SDKConfigError, match=message):
        PrivacyPolicy(fields, **kwargs)  # type: ignore[arg-type]


def _plant_canaries(mon: Monitor) -> None:
    for _ in range(3):
        features = {
            "user_id": CANARY_USER,
            "password": CANARY_SECRET,
            "complaint": CANARY_TEXT,
            "free_text": f"I am {CANARY_EMAIL}, phone {CANARY_PHONE}, card {CANARY_CARD}",
            "iban": CANARY_IBAN,
            "client_ip": CANARY_IP,
            "embedding": [0.1, 0.2, 0.3],
            "amount": 1200.5,
            # inside lists and nested objects, and in names (issue 13, item 5)
            "history": [CANARY_EMAIL, {"note": f"call {CANARY_PHONE}", "n": 2}],
            "profile": {"contact": {"email": CANARY_EMAIL, "ip": [CANARY_IP]}},
            f"opt_in_{CANARY_EMAIL}": 1.0,
        }
        with mon.observe(
            features,
            segment={"ip6": CANARY_IPV6},
            tags={"contact": f"{CANARY_EMAIL} / {CANARY_PHONE}", "seen": [CANARY_IP]},
            prediction_id=CANARY_USER,
        ) as obs:
            obs.record(prediction="approve", scores={"approve": 0.9, "reject": 0.1})
        with mon.observe({"amount": 3.0}) as obs:  # a class name that is PII
            obs.record(prediction=f"refer {CANARY_EMAIL}", scores={CANARY_EMAIL: 1.0})
        mon.label(CANARY_USER, "approve")
        mon.feedback(CANARY_USER, "comment", f"reach me at {CANARY_EMAIL}")
    with mon.job("ingest") as run:
        run.rows(10, 10)
    with pytest.raises(ValueError), mon.job("ingest"):
        raise ValueError(f"bad row for {CANARY_EMAIL} from {CANARY_IP}")


def test_canary_pii_never_reaches_the_collector(
    receiver: Receiver, policy: PrivacyPolicy, make_monitor: Callable[..., Monitor]
) -> None:
    mon = make_monitor(sink=receiver.url, privacy=policy)
    _plant_canaries(mon)
    assert mon.flush(10)
    wire = b"".join(r["body"] + r["raw"] for r in receiver.requests)
    assert len(receiver.accepted("/v1/events")) == 6
    assert len(receiver.accepted("/v1/jobs")) == 2
    for canary in CANARIES:
        assert canary.encode() not in wire, canary
    event = receiver.accepted()[0]
    assert event["features"]["free_text"] == "I am <email>, phone <phone>, card <card>"
    assert event["features"]["amount"] == 1200.5
    assert event["prediction_id"] == policy.hash(CANARY_USER)
    assert receiver.accepted("/v1/labels")[0]["prediction_id"] == event["prediction_id"]
    assert receiver.accepted("/v1/jobs")[1]["error"] == "ValueError: bad row for <email> from <ip>"


@pytest.mark.parametrize("sink_kind", ["memory", "jsonl"])
def test_canary_pii_never_reaches_local_sinks(
    sink_kind: str,
    tmp_path: Path,
    policy: PrivacyPolicy,
    make_monitor: Callable[..., Monitor],
) -> None:
    path = tmp_path / "events.jsonl"
    mon = make_monitor(sink="memory" if sink_kind == "memory" else f"jsonl:{path}", privacy=policy)
    _plant_canaries(mon)
    mon.close()
    if sink_kind == "memory":
        sink = mon.sink
        kinds = ("prediction", "label", "feedback", "job_run")
        text = json.dumps([sink.records(k) for k in kinds])  # type: ignore[attr-defined]
    else:
        text = path.read_text()
    assert "approve" in text
    for canary in CANARIES:
        assert canary not in text, canary
