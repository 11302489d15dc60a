"""A fault-injecting HTTP/1.1 proxy on loopback, in front of a test object store.

Clients use the proxy's address as their endpoint (S3 path-style addressing); each request
is relayed byte for byte — request line, headers (`Host` unchanged, so SigV4 signatures
stay valid), body (`Content-Length` or chunked), and the answer likewise, streamed, with
`Range` requests and multipart uploads untouched — except the requests a `FaultPlan`
picks, which fail in one of these ways (`FAULTS`):

- `status500`, `status503`: an S3 `InternalError` / `ServiceUnavailable` answer;
- `slowdown`: 503 with S3's `SlowDown` XML error body;
- `reset`: a GET is forwarded and its answer cut with a TCP reset after the headers and
  half of the body (`reset-mid-body`); any other request is reset before it is
  forwarded (`reset-before-answer`, so the store never applies a write that the client
  then sees fail);
- `slow`: the request waits `delay` seconds, then is forwarded normally;
- `hang`: no answer at all for up to `delay` seconds (or until the client gives up),
  then the connection closes; the request is not forwarded.

`FaultPlan.deny_writes_after` turns the store read-only after that many objects named
`*{deny_suffix}` were written (403 `AccessDenied` for every later PUT, POST and DELETE).
`outage(seconds, …)` stops the whole service for a while: the listening socket closes (new
connections are refused), open connections are cut, and caller-supplied hooks stop and
restart the server behind.
"""

from __future__ import annotations

import contextlib
import random
import select
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

FAULTS = ("status500", "status503", "slowdown", "reset", "slow", "hang")
WRITE_METHODS = frozenset({"PUT", "POST", "DELETE"})

_ERROR_BODIES = {
    "status500": (
        "500 Internal Server Error",
        "InternalError",
        "We encountered an internal error. Please try again.",
    ),
    "status503": (
        "503 Service Unavailable",
        "ServiceUnavailable",
        "Service is unable to handle request.",
    ),
    "slowdown": ("503 Slow Down", "SlowDown", "Please reduce your request rate."),
    "deny": ("403 Forbidden", "AccessDenied", "Access Denied"),
}
_MAX_LINE = 65536
_COPY_CHUNK = 64 * 1024
_UPSTREAM_TIMEOUT = 30.0
_BEFORE_RESET = 0.05


@dataclass
class FaultPlan:
    """Which requests fail, and how.

    A request is eligible when `methods` is None or holds its method; the `every`-th,
    2·`every`-th… eligible request fails (deterministic), or with `rate` > 0 each eligible
    request fails with that probability drawn from `random.Random(seed)`.
    """

    fault: str | None = None
    every: int = 0
    rate: float = 0.0
    seed: int = 0
    methods: frozenset[str] | None = None
    delay: float = 0.0
    """`slow`: seconds before forwarding; `hang`: the longest time without an answer."""
    deny_writes_after: int | None = None
    deny_suffix: str = ".parquet"
    outage_at: int | None = None
    """The request (counting all) at which `FaultProxy.outage` starts, with the proxy's
    `outage_seconds` and hooks; that request's connection is cut."""

    def __post_init__(self) -> None:
        if self.fault is not None and self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; expected one of {FAULTS}")


@dataclass
class _Request:
    method: str
    target: str
    head: bytes
    """Request line and headers, as received (CRLF-terminated, blank line included)."""
    body: bytes
    """The body exactly as received (still chunk-encoded when it was chunked)."""
    headers: dict[str, str] = field(default_factory=dict)


class FaultProxy:
    """An HTTP/1.1 relay from `127.0.0.1:port` to `upstream` (`host`, `port`)."""

    def __init__(
        self,
        upstream: tuple[str, int],
        plan: FaultPlan | None = None,
        *,
        outage_seconds: float = 1.0,
        stop_upstream: Callable[[], None] | None = None,
        start_upstream: Callable[[], None] | None = None,
    ) -> None:
        self.upstream = upstream
        self.plan = plan or FaultPlan()
        self._outage = (outage_seconds, stop_upstream, start_upstream)
        self.restored: threading.Thread | None = None
        """The thread that ends a planned outage (join it to wait for the end)."""
        self.injected: Counter[str] = Counter()
        """Faults applied so far, by kind (`reset` is split into its two forms)."""
        self.requests = 0
        self.written_objects = 0
        self._rng = random.Random(self.plan.seed)
        self._eligible = 0
        self._lock = threading.Lock()
        self._clients: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._stopped = threading.Event()
        self.port = 0
        self._listen()
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stopped.set()
        self._close_listener()
        self._cut_clients()
        self._acceptor.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def outage(
        self,
        seconds: float,
        stop_upstream: Callable[[], None] | None = None,
        start_upstream: Callable[[], None] | None = None,
    ) -> threading.Thread:
        """Take the service down now and bring it back after `seconds`, in the background:
        connections are refused and open ones cut meanwhile. Returns the thread that
        restores it."""
        with self._lock:
            self.injected["outage"] += 1
        self._close_listener()
        self._cut_clients()
        if stop_upstream is not None:
            stop_upstream()

        def restore() -> None:
            time.sleep(seconds)
            if start_upstream is not None:
                start_upstream()
            if not self._stopped.is_set():
                self._listen(self.port)

        thread = threading.Thread(target=restore, daemon=True)
        thread.start()
        return thread

    # --- listening ---------------------------------------------------------------------

    def _listen(self, port: int = 0) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        listener.settimeout(0.1)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener

    def _close_listener(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()

    def _cut_clients(self) -> None:
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            # shutdown wakes the handler blocked on this socket; it then closes it.
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            with self._lock:
                listener = self._listener
            if listener is None:
                time.sleep(0.02)
                continue
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                continue  # closed by an outage
            client.settimeout(None)
            with self._lock:
                self._clients.add(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    # --- one client connection -----------------------------------------------------------

    def _serve(self, client: socket.socket) -> None:
        reader = client.makefile("rb")
        try:
            while not self._stopped.is_set():
                request = _read_request(reader, client)
                if request is None:
                    return
                if not self._handle(client, request):
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._clients.discard(client)
            reader.close()
            client.close()

    def _choose(self, request: _Request) -> str | None:
        plan = self.plan
        with self._lock:
            self.requests += 1
            if self.requests == plan.outage_at:
                return "outage"
            if (
                plan.deny_writes_after is not None
                and request.method in WRITE_METHODS
                and self.written_objects >= plan.deny_writes_after
            ):
                self.injected["deny"] += 1
                return "deny"
            if plan.fault is None or (
                plan.methods is not None and request.method not in plan.methods
            ):
                return None
            self._eligible += 1
            hit = self._eligible % plan.every == 0 if plan.every else self._rng.random() < plan.rate
            return plan.fault if hit else None

    def _count(self, kind: str) -> None:
        with self._lock:
            self.injected[kind] += 1

    def _handle(self, client: socket.socket, request: _Request) -> bool:
        """Answer one request; False when the connection must close."""
        fault = self._choose(request)
        if fault == "outage":
            self.restored = self.outage(*self._outage)
            return False
        if fault in _ERROR_BODIES:
            if fault != "deny":
                self._count(fault)
            _send_error(client, fault)
            return False
        if fault == "reset" and request.method != "GET":
            self._count("reset-before-answer")
            _reset(client)
            return False
        if fault == "hang":
            self._count("hang")
            # Wait for the client to give up (readable: EOF) or for the delay to pass.
            select.select([client], [], [], self.plan.delay)
            return False
        if fault == "slow":
            self._count("slow")
            time.sleep(self.plan.delay)
        keep_alive = self._forward(client, request, cut=fault == "reset")
        return keep_alive

    def _forward(self, client: socket.socket, request: _Request, *, cut: bool) -> bool:
        upstream = socket.create_connection(self.upstream, timeout=_UPSTREAM_TIMEOUT)
        try:
            upstream.sendall(request.head + request.body)
            reader = upstream.makefile("rb")
            try:
                status, head, headers = _read_response_head(reader)
                body_kind, length = _body_framing(request.method, status, headers)
                if cut:
                    body = _read_body(reader, body_kind, length)
                    if len(body) < 2:
                        self._count("reset-before-answer")
                        _reset(client)
                        return False
                    self._count("reset-mid-body")
                    client.sendall(head + body[: len(body) // 2])
                    time.sleep(_BEFORE_RESET)  # let the client read the part sent
                    _reset(client)
                    return False
                client.sendall(head)
                _relay_body(reader, client, body_kind, length)
            finally:
                reader.close()
        except OSError:
            # The server behind is down: the client sees its connection dropped.
            _reset(client)
            return False
        finally:
            upstream.close()
        if (
            request.method == "PUT"
            and 200 <= status < 300
            and request.target.split("?", 1)[0].endswith(self.plan.deny_suffix)
        ):
            with self._lock:
                self.written_objects += 1
        closing = headers.get("connection", "").lower() == "close" or body_kind == "close"
        return not closing and request.headers.get("connection", "").lower() != "close"


# --- HTTP/1.1 framing ------------------------------------------------------------------------


def _read_line(reader: BinaryIO) -> bytes:
    line = reader.readline(_MAX_LINE)
    if len(line) >= _MAX_LINE:
        raise OSError("header line too long")
    return line


def _read_headers(reader: BinaryIO) -> tuple[bytes, dict[str, str]]:
    raw = b""
    headers: dict[str, str] = {}
    while True:
        line = _read_line(reader)
        if not line:
            raise OSError("connection closed inside the headers")
        raw += line
        if line in (b"\r\n", b"\n"):
            return raw, headers
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()


def _read_request(reader: BinaryIO, client: socket.socket) -> _Request | None:
    line = _read_line(reader)
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    raw_headers, headers = _read_headers(reader)
    if headers.get("expect", "").lower() == "100-continue":
        client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _read_chunked(reader)
    else:
        body = _read_exact(reader, int(headers.get("content-length", "0")))
    return _Request(method, target, line + raw_headers, body, headers)


def _read_exact(reader: BinaryIO, length: int) -> bytes:
    data = reader.read(length) if length else b""
    if len(data) != length:
        raise OSError("connection closed inside a body")
    return data


def _read_chunked(reader: BinaryIO) -> bytes:
    """A chunked body, kept encoded (size lines, chunks and trailers as they came)."""
    raw = b""
    while True:
        size_line = _read_line(reader)
        raw += size_line
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while True:
                trailer = _read_line(reader)
                raw += trailer
                if trailer in (b"\r\n", b"\n", b""):
                    return raw
        raw += _read_exact(reader, size + 2)


def _read_response_head(reader: BinaryIO) -> tuple[int, bytes, dict[str, str]]:
    while True:
        line = _read_line(reader)
        if not line:
            raise OSError("upstream closed before answering")
        status = int(line.split(b" ", 2)[1])
        raw_headers, headers = _read_headers(reader)
        if 100 <= status < 200:
            continue  # interim answers (100 Continue): the client already got one
        return status, line + raw_headers, headers


def _body_framing(method: str, status: int, headers: dict[str, str]) -> tuple[str, int]:
    if method == "HEAD" or status in (204, 304):
        return "none", 0
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return "chunked", 0
    if "content-length" in headers:
        return "length", int(headers["content-length"])
    return "close", 0


def _read_body(reader: BinaryIO, kind: str, length: int) -> bytes:
    if kind == "none":
        return b""
    if kind == "length":
        return _read_exact(reader, length)
    if kind == "chunked":
        return _read_chunked(reader)
    return reader.read()


def _relay_body(reader: BinaryIO, client: socket.socket, kind: str, length: int) -> None:
    """Stream the answer's body to the client as it arrives."""
    if kind == "none":
        return
    if kind == "chunked":
        client.sendall(_read_chunked(reader))
        return
    remaining = length if kind == "length" else -1
    while remaining != 0:
        piece = reader.read1(_COPY_CHUNK if remaining < 0 else min(_COPY_CHUNK, remaining))  # type: ignore[attr-defined]
        if not piece:
            if remaining > 0:
                raise OSError("upstream closed inside a body")
            return
        client.sendall(piece)
        if remaining > 0:
            remaining -= len(piece)


def _send_error(client: socket.socket, kind: str) -> None:
    status, code, message = _ERROR_BODIES[kind]
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        "<RequestId>faultproxy</RequestId></Error>"
    ).encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/xml\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    client.sendall(head + body)


def _reset(sock: socket.socket) -> None:
    """Make the coming close send a TCP RST (SO_LINGER 0) rather than an orderly FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
