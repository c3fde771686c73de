"""Outlier scores in the SDK: the collector's model, fetched and applied on the shipper thread.

``Monitor(score_outliers=True)`` with a collector sink: for each version it
sends events of, the shipper thread fetches ``GET {url}/v1/models/{model}/
versions/{version}/outlier-model`` (a key with the ``read`` scope), keeps it,
asks again every ``outlier_refresh`` seconds with ``If-None-Match`` (304: the
copy is current; a new reference, method or column kinds give a new tag), and
puts ``outlier: {"score", "model": tag}`` on each prediction event before it
is sent. The collector then takes the score instead of scoring the event
itself (after a spot check, windows/prescored.py). Nothing of this runs on
the request path: ``observe()`` costs what it did (benchmarks/RESULTS.md).

Scores are computed on the features as they leave the process (after the
privacy policy), i.e. on what the collector sees, so both give the same
number (driftline/_utils/outlier_wire.py). Until a model is fetched, for a
version without one (no reference: 404) and when the fetch fails (a key
without ``read``: 403, the collector down), events go unscored and the
collector scores them; each such case is logged (rate-limited) and counted
in :meth:`OutlierScoring.stats`. This module, and numpy, are imported only
when scoring is on.
"""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from driftline._utils.outlier_wire import WireModel
from driftline.sdk._logging import RateLimitedLog
from driftline.sdk.clock import Clock

#: Seconds before a failed fetch (collector down, 5xx) is tried again.
RETRY_FAILED = 30.0


class _Entry:
    __slots__ = ("due", "etag", "model")

    def __init__(self) -> None:
        self.model: WireModel | None = None
        self.due = 0.0
        self.etag: str | None = None


class OutlierScoring:
    """Per version: the collector's outlier model, refreshed when due; scores records."""

    def __init__(
        self,
        url: str,
        model: str,
        *,
        api_key: str | None,
        clock: Clock,
        refresh: float = 60.0,
        timeout: float = 5.0,
        log: RateLimitedLog | None = None,
        fetch: Callable[[str, dict[str, str], float], tuple[int, dict[str, str], bytes]]
        | None = None,
        on_events: Callable[[str, int], None] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.clock = clock
        self.refresh = refresh
        self.timeout = timeout
        self.log = log or RateLimitedLog(clock)
        self._fetch = fetch or _http_get
        self._versions: dict[str, _Entry] = {}
        #: ``on_events(result, n)``: events scored / unscored (the Monitor's counter)
        self.on_events = on_events
        #: events scored, events sent unscored (no model), fetches by outcome
        self.counts: dict[str, int] = {"scored": 0, "unscored": 0}

    def _count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def current(self, version: str) -> WireModel | None:
        """The version's model, fetched (or revalidated) first when due."""
        entry = self._versions.get(version)
        if entry is None:
            entry = self._versions[version] = _Entry()
        now = self.clock.monotonic()
        if now >= entry.due:
            self._refresh(version, entry, now)
        return entry.model

    def _refresh(self, version: str, entry: _Entry, now: float) -> None:
        q = urllib.parse.quote
        target = (
            f"{self.url}/v1/models/{q(self.model, safe='')}/versions/{q(version, safe='')}"
            "/outlier-model"
        )
        headers = {"Accept-Encoding": "gzip", "User-Agent": "driftline-sdk/0.1"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if entry.etag:
            headers["If-None-Match"] = entry.etag
        entry.due = now + self.refresh
        try:
            status, answer, body = self._fetch(target, headers, self.timeout)
        except OSError as exc:
            entry.due = now + min(self.refresh, RETRY_FAILED)
            self._count("fetch_failed")
            self.log.warning(
                "outliers_fetch", "driftline: cannot fetch the outlier model of %s/%s: %s; "
                "events go unscored (the collector scores them)", self.model, version, exc,
            )  # fmt: skip
            return
        if status == 304:
            self._count("fetch_current")
            return
        if status == 200:
            try:
                if answer.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                model = WireModel(json.loads(body))
            except Exception as exc:  # a bad document never costs an event
                self._count("fetch_invalid")
                self.log.warning(
                    "outliers_invalid", "driftline: the outlier model of %s/%s is unusable: %s",
                    self.model, version, exc,
                )  # fmt: skip
                entry.model, entry.etag = None, None
                return
            entry.model, entry.etag = model, answer.get("etag") or f'"{model.tag}"'
            self._count("fetched")
            return
        self._count(f"fetch_http_{status}")
        if status >= 500 or status == 429:
            entry.due = now + min(self.refresh, RETRY_FAILED)  # keep what it has meanwhile
            return
        entry.model, entry.etag = None, None
        hint = {
            401: "the API key is missing or unknown",
            403: "the API key needs the read scope (e.g. scopes ingest,read)",
            404: "the version has no outlier model (no reference, or scoring off)",
        }.get(status, "")
        self.log.warning(
            f"outliers_http_{status}",
            "driftline: outlier model of %s/%s: HTTP %s %s%s; events go unscored (the "
            "collector scores them)", self.model, version, status, body[:200].decode(
                "utf-8", "replace"
            ), f" ({hint})" if hint else "",
        )  # fmt: skip

    def annotate(self, records: list[dict[str, Any]], pause: Callable[[], None]) -> None:
        """Put ``outlier: {score, model}`` on each prediction record whose version has a model;
        ``pause`` gives the GIL back now and then (the shipper's)."""
        by_version: dict[str, list[dict[str, Any]]] = {}
        for r in records:
            by_version.setdefault(r["version"], []).append(r)
        for version, group in by_version.items():
            model = self.current(version)
            if model is None:
                self._count("unscored", len(group))
                if self.on_events is not None:
                    self.on_events("unscored", len(group))
                continue
            scores = model.score_rows([r.get("features") for r in group], pause)
            tag = model.tag
            for r, s in zip(group, scores.tolist(), strict=True):
                r["outlier"] = {"score": s, "model": tag}
            self._count("scored", len(group))
            if self.on_events is not None:
                self.on_events("scored", len(group))

    def stats(self) -> dict[str, Any]:
        return {
            **self.counts,
            "models": {v: e.model.tag for v, e in self._versions.items() if e.model is not None},
        }


def _http_get(
    url: str, headers: dict[str, str], timeout: float
) -> tuple[int, dict[str, str], bytes]:
    """(status, lower-cased headers, body) of a GET; OSError when it gets no answer."""
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def httpx_get(
    client: Any,
) -> Callable[[str, dict[str, str], float], tuple[int, dict[str, str], bytes]]:
    """The GET of :class:`OutlierScoring` through the ``httpx.Client`` given to the sink
    (``HTTPSink(client=...)``: its TLS settings, proxies and transport)."""

    def get(url: str, headers: dict[str, str], timeout: float) -> tuple[int, dict[str, str], bytes]:
        import httpx

        try:
            r = client.get(url, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            raise OSError(str(exc)) from exc
        answer = {k.lower(): v for k, v in r.headers.items()}
        answer.pop("content-encoding", None)  # httpx has decoded the body already
        return r.status_code, answer, r.content

    return get
