"""Version-aware serving: split traffic between model versions, run shadows on the side.

    router = Router(mon, {"v3": v3.predict, "v4": v4.predict}, weights={"v3": 0.9, "v4": 0.1},
                    shadows={"v5": v5.predict})
    routed = router.predict(features, key=user_id)   # routed.version, routed.prediction

- Weighted split; with ``key`` the choice is sticky (a keyed hash of the key
  picks the bucket, so one user always sees one version while weights hold).
- Every metric and event carries the version that served it.
- Shadows get the same input after the champion has answered, on a small
  thread pool (or as asyncio tasks for async models), so a slow or failing
  shadow changes neither the response nor its latency. Their events have
  ``shadow=true`` and the champion's ``prediction_id``, so a label for the
  request reaches the shadow too. At most ``max_pending_shadows`` calls wait;
  beyond that a shadow call is skipped and counted
  (``driftline_shadow_skipped_total``; started ones in
  ``driftline_shadow_started_total``); :meth:`Router.shadow_share` gives the
  share scored per shadow version.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import random
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from driftline.sdk.errors import SDKConfigError
from driftline.sdk.events import Prediction

if TYPE_CHECKING:
    from driftline.sdk.monitor import Monitor
    from driftline.sdk.observation import Observation

ModelFn = Callable[[Any], Any]


@dataclass(frozen=True)
class Routed:
    """The champion's answer: which version served, its prediction and scores, the id."""

    version: str
    prediction: Any
    scores: Any
    prediction_id: str


def _split(result: Any) -> tuple[Any, Any]:
    if isinstance(result, Prediction):
        return result.prediction, result.scores
    return result, None


class Router:
    """Routes each request to one model version by weight; see the module documentation."""

    def __init__(
        self,
        monitor: Monitor,
        models: Mapping[str, ModelFn],
        weights: Mapping[str, float] | None = None,
        shadows: Mapping[str, ModelFn] | None = None,
        *,
        shadow_workers: int = 2,
        max_pending_shadows: int = 1000,
        rng: random.Random | None = None,
    ) -> None:
        if not models:
            raise SDKConfigError("Router needs at least one model version")
        weights = dict(weights) if weights is not None else dict.fromkeys(models, 1.0)
        unknown = set(weights) - set(models)
        if unknown:
            raise SDKConfigError(
                f"Router weights name unknown versions {sorted(unknown)}; "
                f"versions: {sorted(models)}"
            )
        if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise SDKConfigError(f"Router weights={weights}: need >= 0 each and a positive sum")
        overlap = set(shadows or {}) & set(models)
        if overlap:
            raise SDKConfigError(f"versions {sorted(overlap)} are both served and shadowed")
        self.monitor = monitor
        self.models = dict(models)
        self.shadows = dict(shadows or {})
        total = sum(weights.values())
        self._versions = [v for v in models if weights.get(v, 0.0) > 0]
        cumulative, acc = [], 0.0
        for v in self._versions:
            acc += weights[v] / total
            cumulative.append(acc)
        cumulative[-1] = 1.0
        self._cumulative = cumulative
        self._rng = rng or random.Random()
        self._max_pending = max_pending_shadows
        self._pending = 0
        self._lock = threading.Lock()
        self._started = dict.fromkeys(self.shadows, 0)
        self._skipped = dict.fromkeys(self.shadows, 0)
        self._executor = (
            ThreadPoolExecutor(shadow_workers, thread_name_prefix="driftline-shadow")
            if self.shadows
            else None
        )
        self._tasks: set[asyncio.Task[None]] = set()
        for version in (*self.models, *self.shadows):
            monitor.bind(version)

    def choose(self, key: str | bytes | None = None) -> str:
        """The version for this request: sticky for a given ``key``, random without one."""
        if key is None:
            point = self._rng.random()
        else:
            data = key if isinstance(key, bytes) else str(key).encode()
            digest = hashlib.blake2b(data, digest_size=8, person=b"driftline").digest()
            point = int.from_bytes(digest, "big") / 2**64
        for version, edge in zip(self._versions, self._cumulative, strict=True):
            if point < edge:
                return version
        return self._versions[-1]

    def predict(
        self,
        features: Any,
        *,
        key: str | bytes | None = None,
        segment: Mapping[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
        prediction_id: str | None = None,
    ) -> Routed:
        """Serve ``features`` with the chosen version, then start the shadows."""
        version = self.choose(key)
        obs = self.monitor.observe(
            features, segment=segment, tags=tags, prediction_id=prediction_id, version=version
        )
        try:
            with obs:
                prediction, scores = _split(self.models[version](features))
                obs.record(prediction=prediction, scores=scores)
        finally:
            self._start_shadows(features, obs.prediction_id, segment, tags)
        return Routed(version, prediction, scores, obs.prediction_id)

    async def apredict(
        self,
        features: Any,
        *,
        key: str | bytes | None = None,
        segment: Mapping[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
        prediction_id: str | None = None,
    ) -> Routed:
        """Like :meth:`predict`, awaiting async models; async shadows run as tasks."""
        version = self.choose(key)
        obs = self.monitor.observe(
            features, segment=segment, tags=tags, prediction_id=prediction_id, version=version
        )
        try:
            with obs:
                result = self.models[version](features)
                if inspect.isawaitable(result):
                    result = await result
                prediction, scores = _split(result)
                obs.record(prediction=prediction, scores=scores)
        finally:
            self._start_shadows(features, obs.prediction_id, segment, tags, in_loop=True)
        return Routed(version, prediction, scores, obs.prediction_id)

    def _reserve(self, version: str) -> bool:
        with self._lock:
            if self._pending >= self._max_pending:
                self._skipped[version] += 1
                self.monitor.bind(version).shadow_skipped.inc()
                return False
            self._pending += 1
            return True

    def _count_start(self, version: str) -> None:
        with self._lock:
            self._started[version] += 1
        self.monitor.bind(version).shadow_started.inc()

    def _cancelled(self, version: str, future: Future[None]) -> None:
        """A queued shadow call cancelled by ``close(wait=False)``: counted as skipped."""
        if future.cancelled():
            with self._lock:
                self._skipped[version] += 1
                self._pending -= 1
            self.monitor.bind(version).shadow_skipped.inc()

    def shadow_share(self) -> dict[str, dict[str, float | int | None]]:
        """Per shadow version: calls ``started``, ``skipped`` (pool full, or cancelled by
        ``close(wait=False)``) and ``share_scored`` = started / (started + skipped), None
        before any; calls still queued are in neither."""
        with self._lock:
            return {
                v: {
                    "started": self._started[v],
                    "skipped": self._skipped[v],
                    "share_scored": (
                        self._started[v] / (self._started[v] + self._skipped[v])
                        if self._started[v] + self._skipped[v]
                        else None
                    ),
                }
                for v in self.shadows
            }

    def _release(self) -> None:
        with self._lock:
            self._pending -= 1

    def _start_shadows(
        self,
        features: Any,
        prediction_id: str,
        segment: Mapping[str, Any] | None,
        tags: dict[str, Any] | None,
        in_loop: bool = False,
    ) -> None:
        for version, fn in self.shadows.items():
            try:
                if not self._reserve(version):
                    continue
                args = (version, fn, features, prediction_id, segment, tags)
                if in_loop and inspect.iscoroutinefunction(fn):
                    task = asyncio.get_running_loop().create_task(self._run_shadow_async(*args))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                elif self._executor is not None:
                    future = self._executor.submit(self._run_shadow, *args)
                    future.add_done_callback(partial(self._cancelled, version))
                else:  # pragma: no cover - executor exists whenever shadows do
                    self._release()
            except Exception:
                self._release()
                self.monitor.internal_error("router.shadow")

    def _observe(
        self,
        version: str,
        features: Any,
        prediction_id: str,
        segment: Mapping[str, Any] | None,
        tags: dict[str, Any] | None,
    ) -> Observation:
        """The shadow's observation: its own event, under the primary's prediction id."""
        return self.monitor.observe(
            features,
            segment=segment,
            tags=tags,
            prediction_id=prediction_id,
            version=version,
            shadow=True,
        )

    def _run_shadow(
        self,
        version: str,
        fn: ModelFn,
        features: Any,
        prediction_id: str,
        segment: Mapping[str, Any] | None,
        tags: dict[str, Any] | None,
    ) -> None:
        self._count_start(version)
        try:
            with self._observe(version, features, prediction_id, segment, tags) as obs:
                result = fn(features)
                if inspect.isawaitable(result):
                    result = asyncio.run(_await(result))
                obs.record(*_split(result))
        except Exception:
            pass  # recorded as status=error on the shadow's event; never reaches the caller
        finally:
            self._release()

    async def _run_shadow_async(
        self,
        version: str,
        fn: ModelFn,
        features: Any,
        prediction_id: str,
        segment: Mapping[str, Any] | None,
        tags: dict[str, Any] | None,
    ) -> None:
        self._count_start(version)
        try:
            with self._observe(version, features, prediction_id, segment, tags) as obs:
                obs.record(*_split(await fn(features)))
        except Exception:
            pass
        finally:
            self._release()

    def close(self, wait: bool = True) -> None:
        """Stop the shadow pool. ``wait``: run every queued shadow call first; else cancel
        the queued ones (counted as skipped) and return at once."""
        if self._executor is not None:
            self._executor.shutdown(wait=wait, cancel_futures=not wait)


async def _await(awaitable: Any) -> Any:
    return await awaitable
