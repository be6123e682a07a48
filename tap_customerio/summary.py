"""The end-of-run sync summary: per-stream counters and the lines that report them."""

from __future__ import annotations

import time
import typing as t
from dataclasses import dataclass

from singer_sdk.singerlib.messages import RecordMessage

from tap_customerio.client import RunStats, StreamStats
from tap_customerio.writer import RecordWriter

if t.TYPE_CHECKING:
    from collections.abc import Iterable


class ActivityRunStats(RunStats):
    """Run counters that also stamp each stream's latest counted event in ``finished``."""

    def add(self, stream_name: str, attribute: str, amount: int = 1) -> None:
        """Increase one counter of one stream and stamp the time."""
        super().add(stream_name, attribute, amount)
        self.get(stream_name).finished = time.monotonic()


@dataclass
class RecordTally:
    """RECORD messages written for one stream, with the times of the first and last."""

    count: int = 0
    first: float = 0.0
    last: float = 0.0


class RecordCountingWriter(RecordWriter):
    """The tap's stdout writer, counting RECORD messages per stream name as written.

    The name is the one in the message, so with stream maps it is the alias, and a
    record that a map filters out is not counted.
    """

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, RecordTally] = {}

    def write_message(self, message: t.Any) -> None:
        """Write the message to stdout, then count it if it is a RECORD."""
        super().write_message(message)
        if isinstance(message, RecordMessage):
            now = time.monotonic()
            tally = self.records.get(message.stream)
            if tally is None:
                tally = self.records[message.stream] = RecordTally(first=now)
            tally.count += 1
            tally.last = now

    def written(self, stream_name: str) -> int:
        """Return the number of RECORD messages written so far for ``stream_name``."""
        tally = self.records.get(stream_name)
        return tally.count if tally is not None else 0


@dataclass
class StreamSummary:
    """The counters of one stream at the end of the run."""

    name: str
    records: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    skipped_parents: int = 0
    seconds: float = 0.0


def summarize(
    names: Iterable[str], stats: RunStats, records: dict[str, RecordTally]
) -> list[StreamSummary]:
    """Combine request counters and record counts into one summary per stream.

    A stream's duration runs from its first request or record to its last one, so a
    child stream, whose requests interleave with its parent's, counts the whole span.
    Streams in ``stats`` or ``records`` but not in ``names`` (such as stream map
    aliases) are added after them.
    """
    ordered = list(dict.fromkeys([*names, *stats.streams, *records]))
    summaries = []
    for name in ordered:
        counters = stats.streams.get(name)
        tally = records.get(name)
        summary = StreamSummary(name=name)
        starts: list[float] = []
        ends: list[float] = []
        if counters is not None:
            summary.requests = counters.requests
            summary.retries = counters.retries
            summary.rate_limited = counters.rate_limited
            summary.skipped_parents = counters.skipped_parents
            starts.append(counters.started)
            ends.append(_finished(counters))
        if tally is not None:
            summary.records = tally.count
            starts.append(tally.first)
            ends.append(tally.last)
        if starts:
            summary.seconds = max(0.0, max(ends) - min(starts))
        summaries.append(summary)
    return summaries


def _finished(counters: StreamStats) -> float:
    return counters.finished if counters.finished is not None else counters.started


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular}" if number == 1 else f"{number} {plural or singular + 's'}"


def describe(summary: StreamSummary) -> str:
    """Return the counters of one summary as a phrase."""
    return (
        f"{_count(summary.records, 'record')}, {_count(summary.requests, 'request')}, "
        f"{_count(summary.retries, 'retry', 'retries')} "
        f"({summary.rate_limited} after HTTP 429), "
        f"{_count(summary.skipped_parents, 'skipped parent')}"
    )


def summary_lines(summaries: list[StreamSummary], total_seconds: float, outcome: str) -> list[str]:
    """Return one line per stream, one for idle streams and a total, to log at INFO.

    The lines hold stream names, counts and seconds only, so no setting or secret
    can appear in them.
    """
    active = [s for s in summaries if s.requests or s.records]
    idle = [s.name for s in summaries if not (s.requests or s.records)]
    width = max((len(s.name) for s in active), default=0)
    lines = [
        f"Sync summary: {s.name.ljust(width)}  {describe(s)}, {s.seconds:.1f} s." for s in active
    ]
    if idle:
        # Streams after a failure, or children without parents: one line for all.
        lines.append(
            f"Sync summary: no requests and no records for {_count(len(idle), 'stream')}: "
            f"{', '.join(idle)}."
        )
    total = StreamSummary(
        name="total",
        records=sum(s.records for s in summaries),
        requests=sum(s.requests for s in summaries),
        retries=sum(s.retries for s in summaries),
        rate_limited=sum(s.rate_limited for s in summaries),
        skipped_parents=sum(s.skipped_parents for s in summaries),
    )
    lines.append(
        f"Sync summary: total over {_count(len(summaries), 'stream')}: {describe(total)}, "
        f"{total_seconds:.1f} s; the sync {outcome}."
    )
    return lines
