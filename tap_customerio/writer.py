"""Singer message output: msgspec encoding, written in blocks, flushed at each STATE."""

from __future__ import annotations

import sys
import threading
import typing as t

import msgspec
from singer_sdk.contrib.msgspec import MsgSpecWriter, enc_hook
from singer_sdk.singerlib.messages import RecordMessage

if t.TYPE_CHECKING:
    from singer_sdk.singerlib.messages import Message

#: Bytes of RECORD lines collected before they are written to stdout.
BLOCK_BYTES = 64 * 1024


class RecordWriter(MsgSpecWriter):
    """Write Singer messages with msgspec, one line each, without a flush per record.

    The SDK's writers flush stdout after every message, which costs a system call per
    record (and with ``PYTHONUNBUFFERED`` one per line anyway). Here RECORD lines are
    collected into blocks of about 64 KiB; any other message (SCHEMA, STATE, ...)
    writes the pending block, then itself, then flushes, so a target always receives
    a STATE after the records it covers. ``TapCustomerIO.sync_all`` writes what is
    still pending when a sync ends, also when it fails. A lock keeps lines whole and
    in order across threads.
    """

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder(enc_hook=enc_hook, decimal_format="number")
        self._lock = threading.Lock()
        self._pending = bytearray()

    def serialize_message(self, message: Message) -> bytes:
        """Return one message as a JSON line (bytes ending in a newline)."""
        return self._encoder.encode(message.to_dict()) + b"\n"

    def write_message(self, message: Message) -> None:
        """Queue a RECORD line; write any other message at once, after the queue."""
        line = self.serialize_message(message)
        with self._lock:
            self._pending += line
            if isinstance(message, RecordMessage) and len(self._pending) < BLOCK_BYTES:
                return
            self._write_pending(flush=not isinstance(message, RecordMessage))

    def flush(self) -> None:
        """Write every pending line and flush stdout."""
        with self._lock:
            self._write_pending(flush=True)

    def _write_pending(self, *, flush: bool) -> None:
        data, self._pending = bytes(self._pending), bytearray()
        stdout = sys.stdout
        target = getattr(stdout, "buffer", None)
        if target is not None:
            target.write(data)
            if flush:
                target.flush()
        else:
            # A text stream without a byte buffer, such as a test's StringIO.
            stdout.write(data.decode("utf-8"))
            if flush:
                stdout.flush()
