"""The lean HTTP client of plain http:// collectors: when it is used, kept-alive connections."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from driftline.sdk import HTTPSink, Monitor
from driftline.sdk._http import plain_http_target

MakeMonitor = Callable[..., Monitor]


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        ("http://127.0.0.1:8080", {}, ("127.0.0.1", 8080, "")),
        ("http://collector/base/", {}, ("collector", 80, "/base")),
        ("https://collector", {}, None),
        ("http://user:pw@collector", {}, None),
        ("http://collector", {"HTTP_PROXY": "http://proxy:3128"}, None),
        ("http://collector", {"ALL_PROXY": "http://proxy:3128"}, None),
        (
            "http://collector",
            {"HTTP_PROXY": "http://proxy:3128", "NO_PROXY": "collector"},
            ("collector", 80, ""),
        ),
    ],
    ids=["loopback", "path-prefix", "https", "credentials", "proxy", "all-proxy", "no-proxy"],
)
def test_plain_http_only_where_it_behaves_like_httpx(
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    env: dict[str, str],
    expected: tuple[str, int, str] | None,
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert plain_http_target(url) == expected


class KeepAliveThenHangUp:
    """An HTTP/1.1 server that answers one request per connection, keep-alive style,
    then closes the connection a moment later, as a server's idle timeout does."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.bodies: list[bytes] = []
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(body) < length:
                    body += conn.recv(65536)
                self.bodies.append(body)
                conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> None:
        # close() alone leaves the thread blocked in accept() and the port listening (Linux):
        # a stray connection to it later failed another test with this thread's exception
        self.sock.shutdown(socket.SHUT_RDWR)  # accept() returns (EINVAL): the thread ends
        self.sock.close()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive()


@pytest.fixture
def hang_up_server() -> Iterator[KeepAliveThenHangUp]:
    server = KeepAliveThenHangUp()
    yield server
    server.close()


def test_a_connection_the_server_closed_is_replaced_without_a_failed_delivery(
    hang_up_server: KeepAliveThenHangUp, make_monitor: MakeMonitor
) -> None:
    sink = HTTPSink(hang_up_server.url, gzip_min_bytes=10**9)
    mon = make_monitor(sink=sink, send_runtime=False)
    for round_ in range(3):
        with mon.observe({"round": round_}):
            pass
        assert mon.flush(5)
    assert sink._plain is not None  # the standard-library client was used
    rounds = [json.loads(body)[0]["features"]["round"] for body in hang_up_server.bodies]
    assert rounds == [0, 1, 2]
    assert hang_up_server.connections == 3
    assert mon.stats()["failures"] == 0 and mon.stats()["sent"] == 3
