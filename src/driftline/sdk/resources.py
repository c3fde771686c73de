"""Process CPU and memory, and GPU utilisation and memory through NVML when present.

Sampled every ``resource_interval`` seconds on the shipper thread, never on the
request path. Each sample updates the process gauges and becomes a
``resources`` record that rides on the next prediction event of each model
version (docs/sdk.md, "Resources"):

- ``cpu_seconds``: process CPU time since the previous sample, split between
  the versions this process served by their share of busy time (the summed
  latency of their predictions); CPU used while no prediction ran goes to the
  Monitor's default version;
- ``rss_bytes``: the process's resident memory (the whole process: several
  versions in one process each report it);
- ``gpus``: per GPU, utilisation (0..1) and memory in use, from NVML
  (``pip install 'driftline[gpu]'``, i.e. nvidia-ml-py); ``gpu_seconds`` is
  GPU wall time held (GPUs x interval x the version's share), what a price per
  GPU hour bills. ``gpu_status`` says ``ok``, ``absent`` (no NVML library or
  no GPU: nothing is claimed) or ``error`` (NVML failed: counted in
  ``driftline_sdk_resource_errors_total{source="nvml"}``).
- ``instance``: a random id of this process (a new one after fork), so the
  collector adds the memory of several processes instead of mixing them.
"""

from __future__ import annotations

import os
import resource
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from driftline.sdk.metrics import ModelMetrics

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int:
    """Current resident set size (Linux /proc), else the peak from getrusage."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)


def load_nvml() -> ModuleType | None:
    """The initialised ``pynvml`` module, or None when there is no NVML (no GPU, no package)."""
    try:
        import pynvml  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:
        return None
    module: ModuleType = pynvml
    return module


class ResourceSampler:
    """Updates the process and GPU gauges and hands each sample to ``on_sample``."""

    def __init__(
        self,
        families: ModelMetrics,
        nvml: ModuleType | None = None,
        *,
        model: str = "",
        clock: Callable[[], float] = time.monotonic,
        cpu: Callable[[], float] = time.process_time,
        rss: Callable[[], int] = resident_bytes,
        on_sample: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._families = families
        self._model = model
        self._clock = clock
        self._cpu = cpu
        self._rss = rss
        self.on_sample = on_sample
        self.instance = uuid.uuid4().hex[:12]
        self._last_cpu = cpu()
        self._last_at = clock()
        self._nvml = nvml
        self._gpus: list[Any] = []
        self.gpu_status = "absent"
        if nvml is not None:
            try:
                self._gpus = [
                    nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())
                ]
                self.gpu_status = "ok" if self._gpus else "absent"
            except Exception:
                self._gpus = []
                self.gpu_status = "error"
                self._count_error("nvml")

    def _count_error(self, source: str) -> None:
        self._families.resource_errors.labels(self._model, source).inc()

    def sample(self) -> dict[str, Any]:
        """One sample: CPU seconds since the last one, RSS, GPUs (see the module docs)."""
        now = self._clock()
        cpu = self._cpu()
        used = max(0.0, cpu - self._last_cpu)
        if used:
            self._families.cpu.inc(used)
        interval = max(0.0, now - self._last_at)
        self._last_cpu, self._last_at = cpu, now
        try:
            rss = self._rss()
        except Exception:
            rss = None
            self._count_error("proc")
        if rss is not None:
            self._families.rss.set(rss)
            self._families.model_rss.labels(self._model).set(rss)
        gpus = []
        status = self.gpu_status
        if self._nvml is not None:
            for i, handle in enumerate(self._gpus):
                try:
                    util = self._nvml.nvmlDeviceGetUtilizationRates(handle)
                    mem = self._nvml.nvmlDeviceGetMemoryInfo(handle)
                except Exception:
                    status = "error"
                    self._count_error("nvml")
                    continue
                ratio = float(util.gpu) / 100.0
                used_bytes = int(mem.used)
                self._families.gpu_utilization.labels(str(i)).set(ratio)
                self._families.gpu_memory.labels(str(i)).set(used_bytes)
                self._families.model_gpu_utilization.labels(self._model, str(i)).set(ratio)
                self._families.model_gpu_memory.labels(self._model, str(i)).set(used_bytes)
                gpus.append({"index": i, "utilization": ratio, "memory_bytes": used_bytes})
        out = {
            "instance": self.instance,
            "interval_s": interval,
            "cpu_seconds": used,
            "rss_bytes": rss,
            "gpu_status": status,
            "gpus": gpus,
            "n_gpus": len(self._gpus),
        }
        if self.on_sample is not None:
            self.on_sample(out)
        return out


def split(sample: Mapping[str, Any], busy: Mapping[str, float], default: str) -> dict[str, Any]:
    """Per version, its ``resources`` record: CPU and GPU time by share of busy time."""
    total = sum(busy.values())
    shares = {v: b / total for v, b in busy.items() if b > 0} if total > 0 else {default: 1.0}
    if default not in shares:
        shares[default] = 0.0
    idle = 1.0 if total <= 0 else 0.0
    out = {}
    for version, share in shares.items():
        record = dict(sample)
        record["cpu_seconds"] = sample["cpu_seconds"] * (share or 0.0)
        record["gpu_seconds"] = sample["n_gpus"] * sample["interval_s"] * (share or 0.0)
        record["share"] = share
        record["idle"] = bool(idle and version == default)
        out[version] = record
    return out


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Two samples of one version that waited for the same event: times add, state is the new."""
    out = dict(new)
    for key in ("cpu_seconds", "gpu_seconds", "interval_s"):
        out[key] = float(old.get(key) or 0.0) + float(new.get(key) or 0.0)
    return out
