"""Process CPU and memory, and GPU utilisation and memory through NVML when present."""

from __future__ import annotations

import os
import resource
import sys
import time
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
        import pynvml  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:
        return None
    module: ModuleType = pynvml
    return module


class ResourceSampler:
    """Updates the process and GPU gauges; called every few seconds by the shipper thread."""

    def __init__(self, families: ModelMetrics, nvml: ModuleType | None = None) -> None:
        self._families = families
        self._last_cpu = time.process_time()
        self._nvml = nvml
        self._gpus: list[Any] = []
        if nvml is not None:
            try:
                self._gpus = [
                    nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())
                ]
            except Exception:
                self._gpus = []

    def sample(self) -> None:
        cpu = time.process_time()
        if cpu > self._last_cpu:
            self._families.cpu.inc(cpu - self._last_cpu)
        self._last_cpu = cpu
        self._families.rss.set(resident_bytes())
        if self._nvml is None:
            return
        for i, handle in enumerate(self._gpus):
            try:
                util = self._nvml.nvmlDeviceGetUtilizationRates(handle)
                mem = self._nvml.nvmlDeviceGetMemoryInfo(handle)
            except Exception:
                continue
            self._families.gpu_utilization.labels(str(i)).set(util.gpu / 100.0)
            self._families.gpu_memory.labels(str(i)).set(mem.used)
