"""Stages inside one prediction, error fingerprints and resource records (SDK side)."""

from __future__ import annotations

import asyncio
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from driftline.sdk import ManualClock, Monitor
from driftline.sdk.fingerprint import capture_frames, fingerprint
from driftline.sdk.metrics import model_metrics
from driftline.sdk.resources import ResourceSampler, load_nvml, split

MakeMonitor = Callable[..., Monitor]


def problems(mon: Monitor, problem: str) -> float:
    value = mon.registry.get_sample_value(
        "driftline_sdk_stage_problems_total", {"model": mon.model, "problem": problem}
    )
    return value or 0.0


def only_event(mon: Monitor) -> dict[str, Any]:
    assert mon.flush(5)
    (event,) = mon.sink.events  # type: ignore[attr-defined]
    return event  # type: ignore[no-any-return]


def test_stages_are_timed_nested_and_carry_attributes(make_monitor: MakeMonitor) -> None:
    clock = ManualClock()
    mon = make_monitor(clock=clock)
    with mon.observe({"q": "x"}) as obs:
        clock.advance(0.001)
        with obs.stage("retrieve", k=5) as st:
            clock.advance(0.010)
            with obs.stage("embed"):
                clock.advance(0.002)
            st.set(hits=3)
        with obs.stage("generate"):
            clock.advance(0.040)
        obs.record(prediction="a")
    stages = only_event(mon)["stages"]
    assert [s["name"] for s in stages] == ["retrieve", "embed", "generate"]
    assert [s["latency_ms"] for s in stages] == pytest.approx([12.0, 2.0, 40.0])
    assert [s["start_ms"] for s in stages] == pytest.approx([1.0, 11.0, 13.0])
    assert stages[1]["parent"] == 0 and "parent" not in stages[0]
    assert stages[0]["attributes"] == {"k": 5, "hits": 3}
    hist = mon.registry.get_sample_value(
        "driftline_stage_latency_seconds_count",
        {"model": mon.model, "version": mon.version, "stage": "generate"},
    )
    assert hist == 1


def test_a_failing_stage_is_marked_and_the_prediction_fails(make_monitor: MakeMonitor) -> None:
    mon = make_monitor()
    with pytest.raises(KeyError), mon.observe({}) as obs, obs.stage("lookup"):
        raise KeyError("id")
    event = only_event(mon)
    assert event["status"] == "error"
    assert event["stages"][0]["status"] == "error"
    assert event["stages"][0]["error_type"] == "KeyError"


def test_stages_left_open_are_closed_and_counted(make_monitor: MakeMonitor) -> None:
    clock = ManualClock()
    mon = make_monitor(clock=clock)
    with pytest.raises(RuntimeError), mon.observe({}) as obs:
        outer = obs.stage("outer").start()
        obs.stage("inner").start()  # never ended
        clock.advance(0.005)
        outer.end()  # ends the outer one: the inner one is closed as unclosed
        obs.stage("dangling").start()
        clock.advance(0.001)
        raise RuntimeError("boom")  # the dangling stage never sees its end
    stages = {s["name"]: s for s in only_event(mon)["stages"]}
    assert stages["inner"]["status"] == "unclosed"
    assert stages["outer"]["status"] == "ok"
    assert stages["dangling"]["status"] == "unclosed"
    assert stages["dangling"]["latency_ms"] == pytest.approx(1.0)
    assert problems(mon, "unclosed") == 2


def test_late_and_repeated_ends_are_ignored_and_counted(make_monitor: MakeMonitor) -> None:
    mon = make_monitor()
    with mon.observe({}) as obs:
        st = obs.stage("a").start()
        st.end()
        st.end()  # twice
        late = obs.stage("b").start()
    late.end()  # after the prediction ended: it was closed as unclosed already
    stages = only_event(mon)["stages"]
    assert [s["status"] for s in stages] == ["ok", "unclosed"]
    assert problems(mon, "late") == 2


@pytest.mark.parametrize(
    ("name", "sent"),
    [
        ("retrieve", "retrieve"),
        ("re rank/v2", "re_rank_v2"),
        ("ünïcode", "n_code"),
        ("", "unnamed"),
        ("_x", "x"),
        ("a" * 100, "a" * 64),
        (42, "42"),
    ],
    ids=["plain", "spaces-slash", "unicode", "empty", "leading-underscore", "long", "int"],
)
def test_odd_stage_names_are_rewritten_and_counted(
    make_monitor: MakeMonitor, name: Any, sent: str
) -> None:
    mon = make_monitor()
    with mon.observe({}) as obs, obs.stage(name):
        pass
    assert only_event(mon)["stages"][0]["name"] == sent
    assert problems(mon, "renamed") == (0 if str(name) == sent else 1)


def test_too_many_stages_are_dropped_and_counted(make_monitor: MakeMonitor) -> None:
    mon = make_monitor()
    with mon.observe({}) as obs:
        for _ in range(70):
            with obs.stage("step"):
                pass
    assert len(only_event(mon)["stages"]) == 64
    assert problems(mon, "too_many") == 6


def test_stage_decorator_finds_the_current_prediction(make_monitor: MakeMonitor) -> None:
    clock = ManualClock()
    mon = make_monitor(clock=clock)

    @mon.stage("embed", device="cpu")
    def embed(text: str) -> int:
        clock.advance(0.003)
        return len(text)

    @mon.stage("rerank")
    async def rerank(n: int) -> int:
        clock.advance(0.004)
        return n

    assert embed("outside") == 7  # no prediction: runs untimed
    assert problems(mon, "outside") == 1

    async def serve() -> None:
        async with mon.observe({}) as obs:
            await rerank(embed("hello"))
            obs.record(prediction=1)

    asyncio.run(serve())
    stages = only_event(mon)["stages"]
    assert [(s["name"], s["latency_ms"]) for s in stages] == [
        ("embed", pytest.approx(3.0)),
        ("rerank", pytest.approx(4.0)),
    ]
    assert stages[0]["attributes"] == {"device": "cpu"}


def test_stage_attributes_pass_the_privacy_policy() -> None:
    from driftline.sdk import PrivacyPolicy

    mon = Monitor(
        "m", sink="memory", registry=CollectorRegistry(), privacy=PrivacyPolicy({"user": "drop"})
    )
    with mon.observe({}) as obs, obs.stage("s", user="bob@example.com", note="mail a@b.io"):
        pass
    attrs = only_event(mon)["stages"][0]["attributes"]
    mon.close()
    assert attrs == {"note": "mail a@b.io"}  # text kept by default; the named field dropped


# -- error fingerprints -------------------------------------------------------------------


def _parse(value: str) -> int:
    return int(value)


def _recurse(n: int) -> int:
    return _parse("x") if n == 0 else _recurse(n - 1)


def _fingerprint_of(fn: Callable[[], Any]) -> str:
    try:
        fn()
    except Exception as exc:
        c = capture_frames(exc)
        return fingerprint(c.type, c.frames)
    raise AssertionError("did not raise")


def test_fingerprint_is_stable_across_recursion_depth_and_distinct_per_place() -> None:
    a = _fingerprint_of(lambda: _recurse(1))
    b = _fingerprint_of(lambda: _recurse(5))
    c = _fingerprint_of(lambda: _parse("y"))
    assert a == b  # the same place, another recursion depth
    assert a != c  # another call path


def test_errors_carry_group_and_masked_message_but_no_locals(make_monitor: MakeMonitor) -> None:
    mon = make_monitor()
    secret = "hunter2"  # a local that must not leave the process
    with pytest.raises(ValueError), mon.observe({}):
        raise ValueError(f"user jane@example.com rejected ({len(secret)})")
    error = only_event(mon)["error"]
    assert error["type"] == "ValueError"
    assert error["message"] == "user <email> rejected (7)"
    assert len(error["fingerprint"]) == 16
    assert error["frames"][-1]["function"].endswith(
        "test_errors_carry_group_and_masked_message_but_no_locals"
    )
    assert "hunter2" not in repr(error)


# -- resources ----------------------------------------------------------------------------


def test_resources_split_by_busy_time_and_idle_goes_to_the_default_version() -> None:
    sample = {"cpu_seconds": 2.0, "interval_s": 10.0, "n_gpus": 1, "rss_bytes": 5}
    out = split(sample, {"v1": 3.0, "v2": 1.0}, "v1")
    assert out["v1"]["cpu_seconds"] == pytest.approx(1.5)
    assert out["v2"]["cpu_seconds"] == pytest.approx(0.5)
    assert out["v2"]["gpu_seconds"] == pytest.approx(2.5)
    idle = split(sample, {"v1": 0.0, "v2": 0.0}, "v1")
    assert idle["v1"]["cpu_seconds"] == 2.0 and idle["v1"]["idle"] and "v2" not in idle


def _nvml(fail_at: str | None) -> types.ModuleType:
    nvml = types.ModuleType("pynvml")

    def maybe(name: str, value: Any) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            if fail_at == name:
                raise RuntimeError(f"NVML_ERROR in {name}")
            return value

        return call

    nvml.nvmlInit = maybe("init", None)  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetCount = maybe("count", 1)  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetHandleByIndex = maybe("handle", 0)  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetUtilizationRates = maybe("util", types.SimpleNamespace(gpu=50))  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetMemoryInfo = maybe("mem", types.SimpleNamespace(used=2**30))  # type: ignore[attr-defined]
    return nvml


@pytest.mark.parametrize(
    ("fail_at", "status", "errors"),
    [(None, "ok", 0), ("handle", "error", 1), ("util", "error", 1), ("init", "absent", 0)],
    ids=["works", "no-handle", "sampling-fails", "init-fails"],
)
def test_nvml_failures_are_reported_never_raised(
    monkeypatch: pytest.MonkeyPatch, fail_at: str | None, status: str, errors: int
) -> None:
    """No GPU here: NVML is a stand-in module that fails where told (docs/sdk.md says so)."""
    monkeypatch.setitem(sys.modules, "pynvml", _nvml(fail_at))
    registry = CollectorRegistry()
    sampler = ResourceSampler(model_metrics(registry), load_nvml(), model="m")
    record = sampler.sample()
    assert record["gpu_status"] == status
    assert record["gpus"] == ([{"index": 0, "utilization": 0.5, "memory_bytes": 2**30}]
                              if status == "ok" else [])  # fmt: skip
    got = registry.get_sample_value(
        "driftline_sdk_resource_errors_total", {"model": "m", "source": "nvml"}
    )
    assert (got or 0) == errors


def test_the_real_nvml_library_is_absent_here() -> None:
    """This machine has no NVIDIA driver: with or without nvidia-ml-py, no GPU is claimed."""
    nvml = load_nvml()
    registry = CollectorRegistry()
    record = ResourceSampler(model_metrics(registry), nvml, model="m").sample()
    assert record["gpu_status"] == "absent" and record["gpus"] == []


def _slots(obj: Any) -> dict[str, Any]:
    names = [n for cls in type(obj).__mro__ for n in getattr(cls, "__slots__", ())]
    return {n: getattr(obj, n, "<unset>") for n in names}


def test_the_inline_constructors_build_what_the_classes_build(make_monitor: MakeMonitor) -> None:
    """Monitor.observe() and Observation.stage() build their objects inline (one Python
    call less on the request path): every slot must come out as the constructors set it."""
    from driftline.sdk import Observation
    from driftline.sdk.stages import Stage

    mon = make_monitor()
    features, segment, tags = {"a": 1}, {"region": "eu"}, {"t": 1}
    obs = mon.observe(features, segment=segment, tags=tags, prediction_id="p1", shadow=True)
    made = Observation(mon, obs.bound, features, segment, tags, "p1", True)
    assert _slots(obs) == _slots(made)
    assert "<unset>" not in _slots(obs).values()
    assert _slots(obs.stage("s", k=1)) == _slots(Stage(obs, "s", {"k": 1}))
    assert _slots(obs.stage("s")) == _slots(Stage(obs, "s", None))


def test_ending_a_stage_never_started_is_counted_not_raised(make_monitor: MakeMonitor) -> None:
    mon = make_monitor()
    with mon.observe({}) as obs:
        obs.stage("never").end()
        with obs.stage("kept"):
            pass
    assert [s["name"] for s in only_event(mon)["stages"]] == ["kept"]
    assert problems(mon, "late") == 1
