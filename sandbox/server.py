"""HTTP server of the Customer.io App API simulator.

The server is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1. Each API area module in
``sandbox.areas`` contributes routes; this module adds what every endpoint shares:
bearer auth, the per-key rate limit, latency, switchable faults, a request log and
the ``/_sandbox`` admin endpoints used by the demo and the benchmarks.
"""

from __future__ import annotations

import base64
import json
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sandbox.areas import AREAS
from sandbox.server_errors import ApiError
from sandbox.workspace import Workspace

DEFAULT_API_KEY = "sandbox-app-api-key"


@dataclass
class Request:
    """One parsed API request, as handed to a route handler."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    params: dict[str, str] = field(default_factory=dict)
    #: Set by ``cursor_page``: the listing's item count and its largest page size.
    listing: tuple[int, int | None] | None = None

    def int_query(self, name: str, default: int | None = None) -> int | None:
        """Return a query value as an integer, or raise a 400."""
        value = self.query.get(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except ValueError:
            raise ApiError(400, f"{name} must be an integer") from None


@dataclass
class FaultRule:
    """Make matching requests fail with an error, a broken body or a broken cursor.

    ``mode`` is an HTTP status ("500", "429", ...) or one of:

    - ``truncated``, ``html`` (status 200), ``empty``, ``no_envelope``, ``null_list``
      (every list in the body becomes ``null``): broken bodies;
    - ``reset``: announce the full length, send half the body, close the connection;
    - ``slow``: wait ``seconds`` before responding normally;
    - ``echo``: answer 400 with the request's Authorization header in the error
      detail, as some debugging proxies do;
    - ``cursor_cycle``: ``next`` alternates between two cursors, A then B then A;
    - ``next_repeat``: ``next`` is the same cursor on every page;
    - ``endless``: ``next`` is a fresh cursor on every page, each pointing at the
      first page again.

    Options: ``path`` (regex on the path), ``share`` (fraction of matching requests),
    ``count`` (fire at most this often), ``after`` (let this many matching requests
    through first), ``retry_after`` (header of a status fault), ``seconds`` (for
    ``slow``) and, through ``Sandbox.add_fault``, ``duration`` (seconds from now).
    Every rule counts every request on its path, even one another rule answered.
    """

    mode: str
    path: str = ""
    share: float = 1.0
    count: int | None = None
    after: int = 0
    retry_after: int | None = None
    seconds: float = 0.0
    until: float | None = None
    seen: int = 0
    fired: int = 0

    def matches(self, path: str, rng: random.Random, *, available: bool = True) -> bool:
        """Count a request to ``path`` and decide whether this rule fires for it.

        ``available`` is False when an earlier rule already handles the request. The
        request still counts towards ``after``, but this rule does not fire.
        """
        if self.path and not re.search(self.path, path):
            return False
        if self.until is not None and time.monotonic() > self.until:
            return False
        self.seen += 1
        if not available or self.seen <= self.after:
            return False
        if self.count is not None and self.fired >= self.count:
            return False
        if self.share < 1.0 and rng.random() >= self.share:
            return False
        self.fired += 1
        return True


@dataclass
class LoggedRequest:
    """One entry of the request log."""

    at: float
    method: str
    path: str
    query: dict[str, str]
    status: int
    api_key_ok: bool
    body: str = ""
    listing: tuple[int, int | None] | None = None


class Sandbox:
    """A running simulator: a seeded workspace served on 127.0.0.1.

    Use it as a context manager, or call ``start`` and ``stop``. ``url`` is the API
    root including ``/v1``, ready for the tap's ``api_url`` setting.
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        scale: str | dict[str, int] = "small",
        api_key: str = DEFAULT_API_KEY,
        rate_limit: float | None = 10.0,
        latency_ms: float = 0.0,
        port: int = 0,
        now: int | None = None,
        forbidden_paths: tuple[str, ...] = (),
    ) -> None:
        self.api_key = api_key
        self.rate_limit = rate_limit
        self.latency_ms = latency_ms
        self.port = port
        self.forbidden_paths = list(forbidden_paths)
        self.workspace = Workspace.generate(seed=seed, scale=scale, now=now)
        self.faults: list[FaultRule] = []
        self.requests: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._recent: dict[str, deque[float]] = {}
        self._hooks: list[tuple[re.Pattern, Callable[[Workspace], Any]]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes = [
            (method, re.compile(f"^/v1{pattern}$"), handler)
            for area in AREAS
            for method, pattern, handler in area.ROUTES
        ]

    # Lifecycle ------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Start serving in a background thread."""
        handler = type("Handler", (_Handler,), {"sandbox": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.workspace.file_url = f"http://127.0.0.1:{self.port}/_files"
        # A short poll interval keeps ``stop`` (and so each test's teardown) fast.
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.05), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """API root including ``/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # Faults and inspection --------------------------------------------------------

    def add_fault(self, mode: str, **options: Any) -> FaultRule:
        """Switch on a fault; ``duration`` (seconds) limits it in time."""
        duration = options.pop("duration", None)
        rule = FaultRule(mode=str(mode), **options)
        if duration is not None:
            rule.until = time.monotonic() + float(duration)
        with self._lock:
            self.faults.append(rule)
        return rule

    def after_request(self, path_regex: str, action: Callable[[Workspace], Any]) -> None:
        """Run ``action(workspace)`` once, right after the next request matching the path.

        For example, delete a parent after its list was served and before the tap
        reads its children.
        """
        with self._lock:
            self._hooks.append((re.compile(path_regex), action))

    def clear_faults(self) -> None:
        """Switch every fault off."""
        with self._lock:
            self.faults.clear()

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._lock:
            self.requests.clear()

    def request_count(self, path_regex: str = "", status: int | None = None) -> int:
        """Count logged API requests whose path matches ``path_regex``."""
        pattern = re.compile(path_regex)
        with self._lock:
            return sum(
                1
                for r in self.requests
                if pattern.search(r.path) and (status is None or r.status == status)
            )

    def request_economy(self) -> list[dict]:
        """Compare the logged requests per endpoint with the fewest the API allows.

        A cursor-paged listing (one path, query and body, ignoring ``start`` and
        ``limit``) of ``n`` items needs ``ceil(n / largest page size)`` requests, and
        at least one. Any other distinct request counts as needed once. ``repeated`` counts
        answered requests identical to an earlier one (same path, query and body).
        """
        with self._lock:
            logged = [r for r in self.requests if r.api_key_ok and r.status == 200]
        endpoints: dict[str, dict] = {}
        listings: dict[tuple, int] = {}
        seen: set[tuple] = set()
        for entry in logged:
            endpoint = f"{entry.method} {self._endpoint_of(entry.method, entry.path)}"
            figures = endpoints.setdefault(
                endpoint, {"endpoint": endpoint, "requests": 0, "minimum": 0, "repeated": 0}
            )
            figures["requests"] += 1
            exact = (entry.method, entry.path, tuple(sorted(entry.query.items())), entry.body)
            if exact in seen:
                figures["repeated"] += 1
            seen.add(exact)
            if entry.listing is None:
                listings.setdefault((*exact, endpoint), 1)
                continue
            query = tuple(sorted((k, v) for k, v in entry.query.items() if k not in PAGE_KEYS))
            size, largest = entry.listing
            pages = 1 if not largest else max(1, -(-size // largest))
            listings[(entry.method, entry.path, query, entry.body, endpoint)] = pages
        for key, pages in listings.items():
            endpoints[key[-1]]["minimum"] += pages
        return sorted(endpoints.values(), key=lambda e: e["endpoint"])

    def _endpoint_of(self, method: str, path: str) -> str:
        """Return the route of ``path`` with its parameters as ``{name}``."""
        for route_method, pattern, _ in self._routes:
            if route_method == method and pattern.match(path):
                route = pattern.pattern.removeprefix("^").removesuffix("$")
                return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
        return path

    def truth(self, stream: str, config: dict | None = None) -> list[dict]:
        """Return the records a correct tap emits for ``stream`` under ``config``."""
        return self.workspace.truth(stream, config or {})

    # Request handling -------------------------------------------------------------

    def _check_rate(self, key: str) -> None:
        if not self.rate_limit:
            return
        now = time.monotonic()
        with self._lock:
            window = self._recent.setdefault(key, deque())
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= self.rate_limit:
                raise ApiError(
                    429,
                    f"rate limited to {self.rate_limit:g} requests per 1s",
                    {"Retry-After": "1"},
                )
            window.append(now)

    def _fault_for(self, path: str) -> FaultRule | None:
        chosen = None
        with self._lock:
            for rule in self.faults:
                if rule.matches(path, self._rng, available=chosen is None):
                    chosen = rule
        return chosen

    def _run_hooks(self, path: str) -> None:
        with self._lock:
            due = [hook for hook in self._hooks if hook[0].search(path)]
            self._hooks = [hook for hook in self._hooks if hook not in due]
        for _, action in due:
            with self.workspace.lock:
                action(self.workspace)

    def handle(self, method: str, raw_path: str, headers: Any, raw_body: bytes) -> tuple:
        """Handle one request; return (status, headers, body bytes, fault mode)."""
        split = urlsplit(raw_path)
        path = split.path
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        auth = headers.get("Authorization", "")
        key_ok = auth == f"Bearer {self.api_key}"
        arrived = time.time()
        status = 500
        listing = None
        try:
            if self.latency_ms:
                time.sleep(self.latency_ms / 1000.0)
            if not key_ok:
                raise ApiError(401, "unauthorized")
            self._check_rate(self.api_key)
            fault = self._fault_for(path)
            if fault is not None and fault.mode == "slow":
                time.sleep(fault.seconds)
                fault = None
            if fault is not None and fault.mode == "echo":
                raise ApiError(400, f"bad request; you sent Authorization: {auth}")
            if fault is not None and fault.mode.isdigit():
                retry = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
                raise ApiError(int(fault.mode), f"injected fault {fault.mode}", retry)
            if any(re.search(p, path) for p in self.forbidden_paths):
                raise ApiError(403, "forbidden: this key's scope does not include this resource")
            body = json.loads(raw_body) if raw_body else None
            status, payload, listing = self._route(method, path, query, body)
            if fault is not None and fault.mode in CURSOR_MODES:
                payload = _break_cursor(fault, payload, query.get("start", ""))
                fault = None
            status_out, out_headers, data = status, {}, _encode(payload)
            if fault is not None:
                status_out, out_headers, data = _broken_body(fault.mode, payload, data)
            result = (status_out, out_headers, data, fault.mode if fault else None)
        except ApiError as exc:
            status = exc.status
            error = {"detail": f"{exc.detail} (reference sbx)", "status": str(status)}
            body_out = {"errors": [error]}
            result = (status, exc.headers, _encode(body_out), None)
        except json.JSONDecodeError:
            status = 400
            body_out = {"errors": [{"detail": "invalid JSON body", "status": "400"}]}
            result = (400, {}, _encode(body_out), None)
        with self._lock:
            self.requests.append(
                LoggedRequest(
                    arrived, method, path, query, result[0], key_ok, raw_body.decode(), listing
                )
            )
        self._run_hooks(path)
        return result

    def _route(self, method: str, path: str, query: dict, body: Any) -> tuple[int, Any, Any]:
        path_known = False
        for route_method, pattern, handler in self._routes:
            match = pattern.match(path)
            if not match:
                continue
            path_known = True
            if route_method != method:
                continue
            params = {k: unquote(v) for k, v in match.groupdict().items()}
            request = Request(method, path, query, body, params)
            with self.workspace.lock:
                payload = handler(self.workspace, request)
            return 200, payload, request.listing
        if path_known:
            raise ApiError(405, "method not allowed")
        raise ApiError(404, "resource not found")

    def admin(self, method: str, raw_path: str, raw_body: bytes) -> tuple[int, Any]:
        """Serve ``/_sandbox`` admin endpoints: truth, request counts, faults."""
        split = urlsplit(raw_path)
        parts = [p for p in split.path.split("/") if p][1:]
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        if parts == ["requests"]:
            status = int(query["status"]) if query.get("status") else None
            return 200, {"count": self.request_count(query.get("path", ""), status)}
        if parts == ["requests", "economy"]:
            return 200, {"endpoints": self.request_economy()}
        if parts == ["faults"] and method == "POST":
            options = json.loads(raw_body or b"{}")
            self.add_fault(**options)
            return 200, {"faults": len(self.faults)}
        if parts == ["faults"] and method == "DELETE":
            self.clear_faults()
            return 200, {"faults": 0}
        if len(parts) == 2 and parts[0] == "truth":
            config = json.loads(query.get("config", "{}"))
            return 200, {"records": self.truth(parts[1], config)}
        return 404, {"error": "unknown admin path"}


PAGE_KEYS = frozenset({"start", "limit"})


CURSOR_MODES = frozenset({"cursor_cycle", "next_repeat", "endless"})


def _cursor_at_first_page(tag: int) -> str:
    """Return a cursor that ``sandbox.paging.decode_cursor`` reads as position 0.

    ``tag`` makes cursors differ while they all point at the first page.
    """
    return base64.b64encode(f"{tag}:0".encode()).decode()


def _break_cursor(rule: FaultRule, payload: Any, start: str) -> Any:
    """Replace the ``next`` cursor of a list page according to a cursor fault."""
    if not isinstance(payload, dict) or "next" not in payload:
        return payload
    first, second = _cursor_at_first_page(1), _cursor_at_first_page(2)
    if rule.mode == "cursor_cycle":
        cursor = second if start == first else first
    elif rule.mode == "next_repeat":
        cursor = start or first
    else:
        cursor = _cursor_at_first_page(100 + rule.fired)
    return {**payload, "next": cursor}


def _encode(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _broken_body(mode: str, payload: Any, data: bytes) -> tuple[int, dict, bytes]:
    if mode == "truncated":
        return 200, {}, data[: max(1, len(data) // 2)]
    if mode == "html":
        return 200, {"Content-Type": "text/html"}, b"<html><body>Bad gateway</body></html>"
    if mode == "empty":
        return 200, {}, b""
    if mode == "no_envelope":
        return 200, {}, b'{"meta":{}}'
    if mode == "null_list" and isinstance(payload, dict):
        nulled = {k: (None if isinstance(v, list) else v) for k, v in payload.items()}
        return 200, {}, _encode(nulled)
    if mode == "reset":
        return -1, {}, data
    return 200, {}, data


class _Handler(BaseHTTPRequestHandler):
    sandbox: Sandbox
    protocol_version = "HTTP/1.1"
    # Buffer each response so headers and body leave in one send; unbuffered
    # writes stall keep-alive clients for about 40 ms per request.
    wbufsize = -1

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        if self.path.startswith("/_sandbox/"):
            status, payload = self.sandbox.admin(self.command, self.path, raw_body)
            self._send(status, {}, _encode(payload))
            return
        if self.path.startswith("/_files/"):
            # Export downloads: a signed link needs no API key and is not rate limited.
            token = urlsplit(self.path).path.removeprefix("/_files/")
            data = self.sandbox.workspace.data.get("export_files", {}).get(token)
            if data is None:
                self._send(404, {"Content-Type": "text/plain"}, b"no such file")
            else:
                self._send(200, {"Content-Type": "application/gzip"}, data)
            return
        status, headers, data, mode = self.sandbox.handle(
            self.command, self.path, self.headers, raw_body
        )
        if mode == "reset":
            # Announce the full length, send half, then drop the connection.
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self._send(status, headers, data)

    def _send(self, status: int, headers: dict, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve
