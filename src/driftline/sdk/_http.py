"""A lean keep-alive HTTP/1.1 client for plain ``http://`` collectors (standard library).

One POST through httpx costs the shipper thread about a millisecond of Python
(request and header objects, auth and redirect handling, h11's validation); on
``http.client`` it is a fraction of that, which matters at 100k events a second.
:class:`~driftline.sdk.http_sink.HTTPSink` uses this only where it behaves the
same as httpx: ``http://`` URLs with no proxy configured in the environment
and no ``client=`` given; HTTPS and proxies go through httpx.
"""

from __future__ import annotations

import http.client
import urllib.parse
import urllib.request
from collections.abc import Mapping

#: Errors of a connection that the server closed while it was idle: the request
#: is sent again once on a new connection (event ids make a duplicate harmless).
STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


def plain_http_target(url: str) -> tuple[str, int, str] | None:
    """``(host, port, path prefix)`` if ``url`` can use :class:`PlainHTTP`, else None."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.username or parts.password:
        return None
    proxies = urllib.request.getproxies()
    if (proxies.get("http") or proxies.get("all")) and not urllib.request.proxy_bypass(
        parts.hostname
    ):
        return None
    return parts.hostname, parts.port or 80, parts.path.rstrip("/")


class PlainHTTP:
    """POSTs to one host over a kept-alive connection; raises OSError or HTTPException."""

    def __init__(self, host: str, port: int, prefix: str, timeout: float) -> None:
        self.host = host
        self.port = port
        self.prefix = prefix
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def post(
        self, path: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """Status, headers and body of the answer to one POST."""
        reused = self._conn is not None
        try:
            return self._post(path, body, headers)
        except STALE:
            self.close()
            if not reused:
                raise
        except BaseException:
            self.close()
            raise
        try:
            return self._post(path, body, headers)
        except BaseException:
            self.close()
            raise

    def _post(
        self, path: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn = self._conn
        if conn is None:
            conn = self._conn = http.client.HTTPConnection(self.host, self.port, self.timeout)
        conn.request("POST", self.prefix + path, body=body, headers=dict(headers))
        response = conn.getresponse()
        data = response.read()
        if response.will_close:
            self.close()
        return response.status, response.headers, data

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
