"""The HTTP sink: batches to a driftline collector, with gzip, retries and a spool.

Protocol (see docs/sdk.md): ``POST {url}/v1/events`` (``/v1/labels``,
``/v1/feedback``, ``/v1/jobs``) with a JSON array, ``Content-Encoding: gzip``
when the body is larger than ``gzip_min_bytes``, ``Authorization: Bearer KEY``.

- 2xx: accepted; records the answer lists as ``rejected`` (invalid, e.g. a NUL
  character in an id) are counted as dropped (``reason="rejected"``).
- 429 / 503: back off (honouring ``Retry-After``) and retry.
- any other 4xx: the batch is dropped and counted (``reason="rejected"``) and
  the reason logged, rate-limited; retrying would fail the same way.
- 5xx, timeouts, connection errors: retry with exponential backoff and jitter.

A batch that cannot go now waits in the spool; while anything is spooled, new
batches queue up behind it, so delivery stays in order. Every event carries a
client-made ``event_id``, so a retry that duplicates a request is harmless.

Plain ``http://`` collectors without a proxy are reached through the standard
library's ``http.client`` (a third of httpx's CPU per request, see
:mod:`driftline.sdk._http`); HTTPS, proxies and a ``client=`` go through httpx.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import random
import zlib
from typing import TYPE_CHECKING, Any

from driftline.sdk._http import PlainHTTP, plain_http_target
from driftline.sdk._logging import RateLimitedLog
from driftline.sdk.clock import Clock, SystemClock
from driftline.sdk.errors import SDKConfigError, SinkError
from driftline.sdk.events import PATHS, encode_json
from driftline.sdk.sinks import DeliveryReport, _NullReport
from driftline.sdk.spool import Batch, MemorySpool, Spool

if TYPE_CHECKING:
    import httpx

USER_AGENT = "driftline-sdk/0.1"

try:  # python-isal (ISA-L) gzips about five times faster than zlib; used when installed
    from isal import isal_zlib as _isal_zlib
except ImportError:  # pragma: no cover - exercised when isal is absent
    _isal_zlib = None  # type: ignore[assignment, unused-ignore]
#: ISA-L's levels are 0..3; higher levels go to zlib.
ISAL_MAX_LEVEL = 3


def gzip_bytes(body: bytes, level: int) -> bytes:
    """``body`` as a gzip member (what ``Content-Encoding: gzip`` expects)."""
    module: Any = _isal_zlib if gzip_backend(level) == "isal" else zlib
    compressor = module.compressobj(level, module.DEFLATED, 31)
    gzipped: bytes = compressor.compress(body) + compressor.flush()
    return gzipped


def gzip_backend(level: int) -> str:
    """Which library gzips at ``level``: ``"isal"`` or ``"zlib"``."""
    return "isal" if _isal_zlib is not None and level <= ISAL_MAX_LEVEL else "zlib"


def parse_retry_after(value: str | None, now_wall: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        seconds = None
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, float(when.timestamp()) - now_wall)


class HTTPSink:
    """Delivers batches to a collector at ``url``; see the module documentation."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        spool: Spool | None = None,
        timeout: float = 5.0,
        gzip_min_bytes: int = 1024,
        gzip_level: int = 1,
        arrow: bool = False,
        backoff_base: float = 0.5,
        backoff_max: float = 60.0,
        pump_budget: float = 0.25,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise SDKConfigError(f"collector url={url!r} must start with http:// or https://")
        if not 0 <= gzip_level <= 9:
            raise SDKConfigError(f"gzip_level={gzip_level}; allowed: 0..9")
        self.url = url.rstrip("/")
        self.spool: Spool = spool if spool is not None else MemorySpool()
        self.gzip_min_bytes = gzip_min_bytes
        self.gzip_level = gzip_level
        #: Send predictions as Arrow IPC batches when pyarrow is installed (else JSON).
        self.arrow = arrow
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.pump_budget = pump_budget
        self.clock: Clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._timeout = timeout
        self._client = client
        self._own_client = client is None
        # Plain http:// without a proxy: the standard library's client (see _http.py).
        self._plain: PlainHTTP | None = None
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._headers = headers
        self._failures = 0
        self._retry_at = 0.0
        #: Records of the last accepted batch that the collector listed as rejected.
        self._refused = 0
        self._refused_why = ""
        self._report: DeliveryReport = _NullReport()
        self._log = RateLimitedLog(self.clock)

    # -- Sink protocol ---------------------------------------------------------
    def open(self, report: DeliveryReport) -> None:
        self._report = report
        if self._client is None and self._plain is None:
            target = plain_http_target(self.url)
            if target is not None:
                self._plain = PlainHTTP(*target, timeout=self._timeout)
            else:
                import httpx  # HTTPS and proxies only; plain HTTP never imports it

                self._client = httpx.Client(timeout=self._timeout)
        report.spool_size(self.spool.nbytes)

    def write(self, kind: str, records: list[dict[str, Any]]) -> None:
        batch = self.encode(kind, records)
        if len(self.spool) or self.clock.monotonic() < self._retry_at:
            self._keep(batch)
            return
        if not self._attempt(batch):
            self._keep(batch)

    def pump(self, force: bool) -> None:
        if not len(self.spool):
            return
        clock = self.clock
        if force:
            self._retry_at = 0.0
        deadline = clock.monotonic() + self.pump_budget
        while len(self.spool) and clock.monotonic() >= self._retry_at:
            batch = self.spool.peek()
            if batch is None:
                break
            if not self._attempt(batch):
                break
            self.spool.pop()
            self._report.spool_size(self.spool.nbytes)
            if clock.monotonic() > deadline:
                break

    def pending(self) -> int:
        return len(self.spool)

    @property
    def due(self) -> bool:
        """True when spooled batches wait and the backoff has passed (replay more now)."""
        return bool(len(self.spool)) and self.clock.monotonic() >= self._retry_at

    @property
    def durable(self) -> bool:
        """True when undelivered batches survive a restart (a disk spool)."""
        return self.spool.durable

    def close(self) -> None:
        if not self.spool.durable and len(self.spool):
            lost = sum(b.count for b in _drain(self.spool))
            self._report.dropped("shutdown", lost)
            self._log.warning("shutdown", "driftline: %d events not delivered at shutdown", lost)
        self.spool.close()
        if self._own_client and self._client is not None:
            self._client.close()
            self._client = None
        if self._plain is not None:
            self._plain.close()

    # -- internals -------------------------------------------------------------
    def encode(self, kind: str, records: list[dict[str, Any]]) -> Batch:
        if kind == "prediction" and self.arrow:
            from driftline.sdk.arrow_batch import encode_arrow  # imports pyarrow, once

            data = encode_arrow(records)
            if data is not None:  # Arrow IPC: the collector reads it column by column
                return Batch(kind, data, len(records), False, True)
        body = encode_json(records)
        if len(body) >= self.gzip_min_bytes and self.gzip_level > 0:
            return Batch(kind, gzip_bytes(body, self.gzip_level), len(records), True)
        return Batch(kind, body, len(records), False)

    def _keep(self, batch: Batch) -> None:
        if self.spool.push(batch):
            self._report.spooled(batch.count)
            self._report.spool_size(self.spool.nbytes)
        else:
            self._report.dropped("spool_full", batch.count)
            self._log.warning(
                "spool_full", "driftline: spool full, dropped %d %s events", batch.count, batch.kind
            )

    def _attempt(self, batch: Batch) -> bool:
        """Send ``batch``; True when it is done with (accepted or rejected for good)."""
        try:
            self.send(batch)
        except SinkError as exc:
            if not exc.retry:
                self._report.dropped("rejected", batch.count)
                self._log.warning(
                    "rejected", "driftline: collector rejected %d events: %s", batch.count, exc
                )
                self._failures = 0
                return True
            self._report.failed()
            self._failures += 1
            delay = self.backoff(self._failures, exc.retry_after)
            self._retry_at = self.clock.monotonic() + delay
            self._log.warning(
                "retry", "driftline: delivery failed (%s); retrying in %.1f s", exc, delay
            )
            return False
        self._failures = 0
        self._retry_at = 0.0
        refused = self._refused
        if refused:  # records the collector listed as rejected in a 200: invalid for good
            self._refused = 0
            self._report.dropped("rejected", refused)
            self._log.warning(
                "rejected", "driftline: collector rejected %d of %d events: %s",
                refused, batch.count, self._refused_why,
            )  # fmt: skip
        self._report.sent(batch.kind, batch.count - refused)
        return True

    def backoff(self, failures: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter (50-100 % of the step), or Retry-After if later."""
        step = min(self.backoff_max, self.backoff_base * 2.0 ** min(failures - 1, 30))
        delay = step * (0.5 + 0.5 * self._rng.random())
        if retry_after is not None:
            delay = max(delay, min(retry_after, 10 * self.backoff_max))
        return delay

    def send(self, batch: Batch) -> None:
        """One POST; raises :class:`SinkError` saying whether to retry."""
        headers = dict(self._headers)
        if batch.gzipped:
            headers["Content-Encoding"] = "gzip"
        if batch.arrow:
            headers["Content-Type"] = "application/vnd.apache.arrow.stream"
        path = PATHS.get(batch.kind, "/v1/events")
        url = self.url + path
        if self._plain is not None:
            try:
                status, answer_headers, data = self._plain.post(path, batch.body, headers)
            except (OSError, http.client.HTTPException) as exc:
                raise SinkError(f"{type(exc).__name__}: {exc}", retry=True) from exc
            retry_after = answer_headers.get("Retry-After")
            text = data[:200].decode("utf-8", "replace")
        else:
            import httpx

            assert self._client is not None
            try:
                response = self._client.post(url, content=batch.body, headers=headers)
            except httpx.HTTPError as exc:
                raise SinkError(f"{type(exc).__name__}: {exc}", retry=True) from exc
            status = response.status_code
            retry_after = response.headers.get("Retry-After")
            text = response.text[:200] if not 200 <= status < 300 else ""
        if 200 <= status < 300:
            self._refused, self._refused_why = _rejected(
                data if self._plain is not None else response.content
            )
            return
        if status in (408, 429) or status >= 500:
            after = parse_retry_after(retry_after, self.clock.time())
            raise SinkError(f"HTTP {status} from {url}", retry=True, retry_after=after)
        if batch.arrow and status in (400, 415):
            # a collector from before Arrow batches: JSON from now on, this batch included
            self.arrow = False
            self._log.warning(
                "arrow", "driftline: the collector at %s does not take Arrow batches (HTTP %d); "
                "sending JSON", self.url, status,
            )  # fmt: skip
            from driftline.sdk.arrow_batch import decode_records

            body = encode_json(decode_records(batch.body))
            gz = len(body) >= self.gzip_min_bytes and self.gzip_level > 0
            return self.send(
                Batch(batch.kind, gzip_bytes(body, self.gzip_level) if gz else body,
                      batch.count, gz)
            )  # fmt: skip
        raise SinkError(f"HTTP {status} from {url}: {text!r}", retry=False)


def _rejected(answer: bytes) -> tuple[int, str]:
    """(records listed as rejected, the first reason) in a collector's 200 answer."""
    if b'"rejected":[]' in answer or b'"rejected"' not in answer:
        return 0, ""
    try:
        rejected = json.loads(answer).get("rejected") or []
    except (ValueError, AttributeError):
        return 0, ""
    if not isinstance(rejected, list) or not rejected:
        return 0, ""
    first = rejected[0] if isinstance(rejected[0], dict) else {}
    return len(rejected), f"{first.get('field', '')}: {first.get('error', '')}"[:200]


def _drain(spool: Spool) -> list[Batch]:
    out = []
    while len(spool):
        batch = spool.peek()
        spool.pop()
        if batch is not None:
            out.append(batch)
    return out
