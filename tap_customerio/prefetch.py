"""Keep several requests in flight under the shared rate limiter.

At 10 requests per second and a round trip of about 200 ms, one request at a time
reaches only 5 requests per second. This module runs requests on a bounded pool of
worker threads while the SDK still emits records and STATE from one thread, in its
own order:

- ``prefetch_children`` looks a few records ahead in a parent stream and sends the
  first request of every selected child for them. The child then takes the response
  (or the exception) from the cache instead of sending the request again.
- ``ordered_map`` runs independent requests (attribute batches, object lookups) ahead
  of the consumer and hands the results back in input order.
- ``run_chains`` runs several cursor chains at once (deliveries windows) and hands
  their pages over through one bounded queue.

Every request still passes the stream's usual decorator (limiter, retries,
validation), so the workspace budget is kept whatever the number of workers.
"""

from __future__ import annotations

import copy
import functools
import queue
import threading
import typing as t
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    import requests

DEFAULT_MAX_CONCURRENT_REQUESTS = 8
#: Records or requests a consumer may run ahead, per worker.
LOOKAHEAD_PER_WORKER = 3
#: Pages buffered per cursor chain between the workers and the consumer.
PAGES_PER_CHAIN = 2

T = t.TypeVar("T")
R = t.TypeVar("R")
RequestKey = tuple[str, str, str, t.Any]


class WorkerPool:
    """A fixed number of daemon threads running submitted calls in order.

    Daemon threads (unlike ``ThreadPoolExecutor``'s) let the process exit while a
    cancelled request still waits for a retry.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, call: Callable[..., T], *args: t.Any) -> Future[T]:
        """Queue ``call(*args)``; return its future."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                msg = "the request pool is closed"
                raise RuntimeError(msg)
            if len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._work, name=f"cio-request-{len(self._threads) + 1}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        self._tasks.put((future, call, args))
        return future

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            future, call, args = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = call(*args)
            except BaseException as exc:  # handed to the waiting thread
                future.set_exception(exc)
            else:
                future.set_result(result)

    def close(self) -> None:
        """Cancel queued calls and stop the threads once their current call ends."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                break
            if task is not None:
                task[0].cancel()
        for _ in threads:
            self._tasks.put(None)


class Prefetcher:
    """The request pool of one run and the cache of requests sent ahead of their stream."""

    def __init__(self, max_concurrent_requests: int) -> None:
        self.size = max(1, int(max_concurrent_requests))
        self.pool = WorkerPool(self.size) if self.size > 1 else None
        self.lookahead = LOOKAHEAD_PER_WORKER * self.size
        self._cache: dict[RequestKey, Future] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Tell whether requests may run on worker threads."""
        return self.pool is not None

    def submit(self, call: Callable[..., T], *args: t.Any) -> Future[T]:
        """Run ``call(*args)`` on the pool."""
        if self.pool is None:
            msg = "concurrent requests are off (max_concurrent_requests is 1)"
            raise RuntimeError(msg)
        return self.pool.submit(call, *args)

    def wait(self, future: Future[T], call: Callable[..., T], *args: t.Any) -> T:
        """Return the future's result; if no worker has started it, run it here instead.

        Running a queued call on the waiting thread keeps the consumer from waiting
        behind requests it needs only later.
        """
        if future.cancel():
            return call(*args)
        return future.result()

    # Requests sent ahead ---------------------------------------------------------

    def send_ahead(self, key: RequestKey, send: Callable, prepared: t.Any, context: t.Any) -> bool:
        """Send a request on the pool and cache its future; False if already cached."""
        with self._lock:
            if key in self._cache:
                return False
            self._cache[key] = self.submit(send, prepared, context)
        return True

    def take(self, key: RequestKey) -> Future | None:
        """Remove and return the cached future of a request, if there is one."""
        with self._lock:
            return self._cache.pop(key, None)

    def drop(self, keys: Iterable[RequestKey]) -> None:
        """Forget requests that no stream took, cancelling those not started yet."""
        with self._lock:
            futures = [self._cache.pop(key, None) for key in keys]
        for future in futures:
            if future is not None:
                future.cancel()

    def serving(self, stream_name: str, send: Callable) -> Callable:
        """Wrap a stream's decorated request so that it takes a cached response first.

        The wrapper keeps the undecorated ``send`` as ``.direct``, which the pool
        calls, so a request never waits for its own cache entry.
        """

        def serve(prepared: requests.PreparedRequest, context: t.Any) -> t.Any:
            future = self.take(request_key(stream_name, prepared)) if self._cache else None
            if future is None:
                return send(prepared, context)
            return self.wait(future, send, prepared, context)

        serve.direct = send  # type: ignore[attr-defined]
        return serve

    def close(self) -> None:
        """Cancel what is queued and let the workers end."""
        with self._lock:
            futures = list(self._cache.values())
            self._cache.clear()
        for future in futures:
            future.cancel()
        if self.pool is not None:
            self.pool.close()


def request_key(stream_name: str, prepared: requests.PreparedRequest) -> RequestKey:
    """Identify a request by stream, method, URL (with query) and body."""
    return (stream_name, prepared.method or "", prepared.url or "", prepared.body)


def prefetch_children(stream: t.Any, records: Iterable[dict], context: t.Any) -> Iterator[dict]:
    """Yield a parent's records while the first requests of their children run ahead.

    Before a record is handed to the SDK (which syncs its children in order), the
    next records are read and each selected child's first request for them is sent
    on the pool, up to ``lookahead`` requests. Requests that no child took (the
    record was filtered out, or the child built a different request) are dropped
    once the SDK requests the next record.
    """
    prefetcher: Prefetcher = stream._tap.prefetcher
    children = [c for c in stream.child_streams if c.selected or c.has_selected_descendents]
    if not prefetcher.enabled or not children:
        yield from records
        return
    pending: deque[tuple[dict, list[RequestKey]]] = deque()
    upstream = iter(records)
    exhausted = False
    outstanding = 0
    try:
        while True:
            while not exhausted and outstanding < prefetcher.lookahead:
                try:
                    raw = next(upstream)
                except StopIteration:
                    exhausted = True
                    break
                keys = _send_children_ahead(stream, children, raw, context)
                pending.append((raw, keys))
                outstanding += max(1, len(keys))
            if not pending:
                return
            raw, keys = pending.popleft()
            outstanding -= max(1, len(keys))
            yield raw
            prefetcher.drop(keys)
    finally:
        prefetcher.drop(key for _, keys in pending for key in keys)


def _send_children_ahead(
    stream: t.Any, children: list, raw: dict, context: t.Any
) -> list[RequestKey]:
    """Send the first request of each child for one raw parent record."""
    try:
        # The SDK post-processes the record itself later; this copy only gives
        # the contexts that its children will get.
        record = stream.post_process(copy.deepcopy(raw), context)
        if record is None:
            return []
        for key, value in (stream._get_state_partition_context(context) or {}).items():
            record.setdefault(key, value)
        child_contexts = [
            c for c in stream.generate_child_contexts(record=record, context=context) if c
        ]
    except Exception:  # the SDK raises it again when it gets there
        return []
    prefetcher: Prefetcher = stream._tap.prefetcher
    keys: list[RequestKey] = []
    for child in children:
        send = child.direct_send
        grandchildren = [g for g in child.child_streams if g.selected or g.has_selected_descendents]
        if grandchildren:
            # The worker that receives the child's first page sends the first requests
            # of the grandchildren for its records too, so that they are ready when
            # the SDK reaches them. Their keys join this record's keys, so they are
            # dropped with them.
            send = functools.partial(_send_and_look_ahead, child, grandchildren, keys, send)
        for child_context in child_contexts:
            for prepared in child.prefetch_requests(dict(child_context)):
                key = request_key(child.name, prepared)
                if prefetcher.send_ahead(key, send, prepared, child_context):
                    keys.append(key)
    return keys


def _send_and_look_ahead(
    child: t.Any,
    grandchildren: list,
    owner_keys: list[RequestKey],
    send: Callable,
    prepared: requests.PreparedRequest,
    context: t.Any,
) -> requests.Response:
    """Send a child's request, then send ahead for the records of its response."""
    response = send(prepared, context)
    try:
        records = list(child.parse_response(response))
    except Exception:  # the SDK parses the response again and raises it there
        return response
    budget = child._tap.prefetcher.lookahead
    for raw in records:
        if budget <= 0:
            break
        keys = _send_children_ahead(child, grandchildren, raw, context)
        owner_keys.extend(keys)
        budget -= max(1, len(keys))
    return response


def ordered_map(prefetcher: Prefetcher, items: Iterable[T], call: Callable[[T], R]) -> Iterator[R]:
    """Yield ``call(item)`` for each item in order, running up to ``lookahead`` ahead.

    Without a pool, each call runs when its result is asked for.
    """
    if not prefetcher.enabled:
        for item in items:
            yield call(item)
        return
    pending: deque[tuple[T, Future[R]]] = deque()
    upstream = iter(items)
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < prefetcher.lookahead:
                try:
                    item = next(upstream)
                except StopIteration:
                    exhausted = True
                    break
                pending.append((item, prefetcher.submit(call, item)))
            if not pending:
                return
            item, future = pending.popleft()
            yield prefetcher.wait(future, call, item)
    finally:
        for _, future in pending:
            future.cancel()


@dataclass(frozen=True)
class ChainDone:
    """Marks the end of one chain in ``run_chains`` output."""

    index: int


def run_chains(
    prefetcher: Prefetcher, chains: list[Callable[[], Iterable[T]]], in_flight: int
) -> Iterator[tuple[int, T] | ChainDone]:
    """Run up to ``in_flight`` chains at once; yield ``(index, item)`` as items arrive.

    Each chain runs on one worker and ``ChainDone(index)`` follows its last item.
    Chains start in index order. At most ``PAGES_PER_CHAIN`` items per running chain
    wait for the consumer, so memory stays bounded when the consumer is slower than
    the API. When chain ``k`` raises, no further chain starts and chains after ``k``
    stop at their next item. Chains before ``k`` run to their end, and then the
    exception is raised here, so a consumer that saves progress per finished prefix
    saves all it can.
    """
    handover: queue.SimpleQueue = queue.SimpleQueue()
    slots = threading.Semaphore(PAGES_PER_CHAIN * max(1, in_flight))
    stop = threading.Event()
    failed_at = [len(chains)]

    def cancelled(index: int) -> bool:
        return stop.is_set() or index > failed_at[0]

    def run(index: int) -> None:
        try:
            for item in chains[index]():
                acquired = False
                while not acquired and not cancelled(index):
                    acquired = slots.acquire(timeout=0.1)
                if not acquired:
                    handover.put((index, ChainDone(index), None))
                    return
                handover.put((index, item, None))
            handover.put((index, ChainDone(index), None))
        except BaseException as exc:  # raised again by the consumer
            handover.put((index, None, exc))

    started = 0
    running: set[int] = set()
    failure: BaseException | None = None

    def start_more() -> None:
        nonlocal started
        while failure is None and started < len(chains) and len(running) < in_flight:
            running.add(started)
            prefetcher.submit(run, started)
            started += 1

    try:
        start_more()
        while any(index < failed_at[0] for index in running):
            index, item, error = handover.get()
            if error is not None:
                running.discard(index)
                if index < failed_at[0]:
                    failed_at[0], failure = index, error
                continue
            if isinstance(item, ChainDone):
                running.discard(index)
                start_more()
                if index < failed_at[0]:
                    yield item
                continue
            slots.release()
            if index < failed_at[0]:
                yield (index, item)
        if failure is not None:
            raise failure
    finally:
        stop.set()
