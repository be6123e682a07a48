"""Progress lines for long streams, at most one per stream per interval."""

from __future__ import annotations

import threading
import typing as t
from time import monotonic

if t.TYPE_CHECKING:
    import logging

#: Minimum seconds between two progress lines of one stream. The first line of a
#: stream comes at least this long after the run's first progress report, so runs
#: shorter than this log no progress at all.
PROGRESS_INTERVAL_SECONDS = 60.0


class ProgressLog:
    """Log progress at INFO, dropping reports that come too soon after the last line.

    Every stream has its own timer, which starts when this log is created (at the
    first report of the run). ``clock`` returns seconds; it defaults to
    ``time.monotonic``, and tests pass a fake one.
    """

    def __init__(
        self,
        logger: logging.Logger,
        interval: float | None = None,
        clock: t.Callable[[], float] | None = None,
    ) -> None:
        self.logger = logger
        self.interval = PROGRESS_INTERVAL_SECONDS if interval is None else interval
        self.clock = clock or monotonic
        self._lock = threading.Lock()
        self._created = self.clock()
        self._last: dict[str, float] = {}
        self.dropped: dict[str, int] = {}

    def report(self, stream_name: str, message: str, *args: t.Any) -> bool:
        """Log ``message % args`` for a stream unless its last line is too recent.

        Return whether the line was logged. ``message`` is a %-style format, applied
        only to lines that are logged.
        """
        now = self.clock()
        with self._lock:
            last = self._last.get(stream_name, self._created)
            if now - last < self.interval:
                self.dropped[stream_name] = self.dropped.get(stream_name, 0) + 1
                return False
            self._last[stream_name] = now
        self.logger.info("Stream '%s' progress: %s", stream_name, message % args)
        return True
