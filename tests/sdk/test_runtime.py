"""Runtime capture in the SDK: once per process and version, real distributions, clear errors."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from driftline.sdk import Monitor, Router, SDKConfigError
from driftline.sdk.runtime import canonical_name, capture_runtime, check_metadata
from driftline.stats.versions.environment import change_kind, diff_environment


def test_the_capture_lists_this_process_python_and_packages() -> None:
    import platform

    rt = capture_runtime()
    assert rt["python"] == platform.python_version()
    assert rt["packages"]["numpy"] == np.__version__
    assert rt["packages"]["scikit-learn"] == metadata.version("scikit-learn")
    assert all(name == canonical_name(name) for name in rt["packages"])


def _dist(root: Path, folder: str, body: str) -> None:
    d = root / folder
    d.mkdir()
    (d / "METADATA").write_text(body)


def test_distributions_with_odd_names_or_no_version_are_listed_not_hidden(tmp_path: Path) -> None:
    _dist(
        tmp_path,
        "Good_Pkg-1.2.3.dist-info",
        "Metadata-Version: 2.1\nName: Good_Pkg\nVersion: 1.2.3\n",
    )
    _dist(tmp_path, "bad-1.0.dist-info", "Metadata-Version: 2.1\nName: bad name!\nVersion: 1.0\n")
    _dist(tmp_path, "nover-0.dist-info", "Metadata-Version: 2.1\nName: nover\n")
    rt = capture_runtime(metadata.distributions(path=[str(tmp_path)]))
    assert rt["packages"] == {"good-pkg": "1.2.3"}
    assert sorted((e["name"], e["reason"]) for e in rt["excluded"]) == [
        ("bad name!", "not a valid package name"),
        ("nover", "no version in its metadata"),
    ]


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        (
            {"hyperparameters": {"layers": {1, 2}}},
            "version_metadata['hyperparameters']['layers'] is a set",
        ),
        ({"lr": float("nan")}, "version_metadata['lr'] is nan"),
        ({"features": ["a", object()]}, "version_metadata['features'][1] is a object"),
        ({"weird": {1: "x"}}, "version_metadata['weird'] has a key 1 that is not a string"),
    ],
    ids=["set", "nan", "object", "int-key"],
)
def test_metadata_that_is_not_json_gets_an_error_naming_the_key(
    meta: dict[str, object], message: str
) -> None:
    with pytest.raises(SDKConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Monitor("m", "v1", "memory", registry=CollectorRegistry(), version_metadata=meta)
    assert check_metadata({"lr": np.float64(0.1)}) == {"lr": 0.1}


def test_the_runtime_goes_out_once_per_process_and_version() -> None:
    meta = {"git_commit": "abc123", "hyperparameters": {"lr": 0.1}, "features": ["x"]}
    mon = Monitor(
        "m",
        "v1",
        "memory",
        registry=CollectorRegistry(),
        version_metadata=meta,
        flush_interval=0.01,
        send_runtime=True,
    )
    router = Router(mon, {"v1": lambda f: 1}, shadows={"v2": lambda f: 0})
    try:
        for i in range(5):
            router.predict({"x": i})
        router.close()
        assert mon.flush(timeout=10)
        records = mon.sink.records("runtime")  # type: ignore[attr-defined]
    finally:
        mon.close()
    assert sorted(r["version"] for r in records) == ["v1", "v2"]
    assert all(r["role"] == "serving" and r["metadata"] == meta for r in records)
    assert records[0]["runtime"]["packages"]["numpy"] == np.__version__


def test_the_runtime_goes_out_with_the_first_prediction_not_at_construction() -> None:
    """A monitor that only reports jobs sends no runtime record, so it never appears as a
    model version; the first prediction of a version sends it, once."""
    mon = Monitor("pipelines", "v1", "memory", registry=CollectorRegistry(),
                  flush_interval=0.01, send_runtime=True)  # fmt: skip
    try:
        with mon.job("nightly_etl"):
            pass
        assert mon.flush(timeout=10)
        assert mon.sink.records("runtime") == []  # type: ignore[attr-defined]
        assert [r["job"] for r in mon.sink.records("job_run")] == ["nightly_etl"]  # type: ignore[attr-defined]
        for i in range(3):
            with mon.observe({"x": i}) as obs:
                obs.prediction = 1
        with mon.observe({"x": 9}, version="v2") as obs:
            obs.prediction = 0
        assert mon.flush(timeout=10)
        records = mon.sink.records("runtime")  # type: ignore[attr-defined]
    finally:
        mon.close()
    assert [r["version"] for r in records] == ["v1", "v2"]


def test_package_changes_are_classified() -> None:
    assert [
        change_kind(a, b)
        for a, b in (
            ("1.26.4", "2.0.1"),
            ("2.1.0", "2.2.0"),
            ("2.2.0", "2.2.3"),
            ("1.0", "1.0rc1"),
            ("2024.1", "2025.1"),
            ("abc", "1.0"),
        )
    ] == ["major", "minor", "patch", "other", "major", "other"]
    train = {
        "runtime": {
            "python": "3.11.4",
            "packages": {"numpy": "1.26.4", "scipy": "1.11.0", "pandas": "2.1.0"},
        },
        "metadata": {"features": ["a", "b"], "hyperparameters": {"lr": 0.1}},
    }
    serve = {
        "runtime": {
            "python": "3.12.1",
            "packages": {"numpy": "2.0.1", "scipy": "1.11.4", "polars": "1.0"},
        },
        "metadata": {"features": ["a", "c"], "hyperparameters": {"lr": 0.2}},
    }
    d = diff_environment(train, serve)
    assert d is not None
    assert d["python"] == {"a": "3.11.4", "b": "3.12.1", "change": "minor"}
    assert d["packages"]["changed"] == {
        "numpy": {"a": "1.26.4", "b": "2.0.1", "change": "major"},
        "scipy": {"a": "1.11.0", "b": "1.11.4", "change": "patch"},
    }
    assert d["packages"]["major"] == ["numpy"]
    assert d["packages"]["added"] == {"polars": "1.0"} and d["packages"]["removed"] == {
        "pandas": "2.1.0"
    }
    assert d["features"] == {"added": ["c"], "removed": ["b"]}
    assert d["hyperparameters"] == {"lr": {"a": 0.1, "b": 0.2}}
    only = diff_environment(train, serve, only=["SciPy"])
    assert (
        only is not None
        and only["packages"]["major"] == []
        and list(only["packages"]["changed"]) == ["scipy"]
    )
