"""People through the Exports API (``customers_method: export``).

The export runs as a job: ``POST /v1/exports/customers`` with a filter creates it,
``GET /v1/exports/{id}`` reports its ``status`` until it is ``done``, and
``GET /v1/exports/{id}/download`` returns ``url``, a signed, short-lived link to the
file. A run costs a few App API requests instead of ceil(N/1000) + ceil(N/100).

Unverified: the reference documents neither the file format nor the download
response. The tap follows the best evidence: the response key ``url`` comes from
the Node client's ``downloadExport``, and the file is read as CSV with a header
row holding ``cio_id``, ``id``, ``email`` and one column per attribute, gzipped or
not. Any other format (JSON, a header without ``cio_id``, bytes that are not
UTF-8) stops the run with a one-line error rather than emitting wrong records.
The file carries no devices, ``unsubscribed`` or ``timestamps``, and an empty cell
cannot be distinguished from a missing attribute, so empty cells are left out.
"""

from __future__ import annotations

import codecs
import csv
import time
import typing as t
import zlib
from urllib.parse import urlsplit

import requests
from singer_sdk.exceptions import FatalAPIError

if t.TYPE_CHECKING:
    from tap_customerio.streams.customers import CustomersStream

EXPORT_KEY = "export"
#: Seconds before the first status check, doubled after each check up to the maximum.
POLL_FIRST_SECONDS = 2.0
POLL_MAX_SECONDS = 60.0
#: Seconds an export may take before the run stops. NOTE: an estimate; Customer.io
#: documents no duration for exports.
EXPORT_MAX_WAIT_SECONDS = 3600.0
#: Columns that identify a person; the others are attributes.
IDENTIFIER_COLUMNS = ("cio_id", "id", "email")
GZIP_MAGIC = b"\x1f\x8b"
DOWNLOAD_CHUNK_BYTES = 1 << 16


class ExportFormatError(FatalAPIError):
    """The export file is not in the format the tap reads."""


def read_export(stream: CustomersStream, send: t.Callable, everyone: dict) -> t.Iterator[dict]:
    """Run a people export and yield one record per row of its file."""
    created = stream.call_api(
        send, "POST", "/exports/customers", EXPORT_KEY, json={"filters": everyone}
    )
    export = created.get(EXPORT_KEY) or {}
    export_id = export.get("id")
    if not isinstance(export_id, int) or isinstance(export_id, bool):
        msg = (
            f"Stream '{stream.name}': POST /v1/exports/customers returned export id "
            f"{export_id!r}, not an integer. Set customers_method to 'api' and report it."
        )
        raise FatalAPIError(msg)
    wait_until_done(stream, send, export_id, export)
    link = stream.call_api(send, "GET", f"/exports/{export_id}/download", "")
    url = link.get("url")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        msg = (
            f"Stream '{stream.name}': GET /v1/exports/{export_id}/download returned no "
            "http(s) 'url'. Set customers_method to 'api' and report it."
        )
        raise FatalAPIError(msg)
    yield from download_rows(stream, export_id, url)


def wait_until_done(
    stream: CustomersStream, send: t.Callable, export_id: int, export: dict
) -> None:
    """Check the export's status, waiting longer each time, until it is done."""
    started = time.monotonic()
    wait = POLL_FIRST_SECONDS
    while True:
        status = export.get("status")
        if export.get("failed") or status == "failed":
            msg = (
                f"Stream '{stream.name}': export {export_id} failed on Customer.io's "
                "side. Rerun later, or set customers_method to 'api'."
            )
            raise FatalAPIError(msg)
        if status == "done":
            return
        elapsed = time.monotonic() - started
        if elapsed + wait > EXPORT_MAX_WAIT_SECONDS:
            msg = (
                f"Stream '{stream.name}': export {export_id} is still {status!r} after "
                f"{elapsed:.0f} s, longer than the {EXPORT_MAX_WAIT_SECONDS:.0f} s the tap "
                "waits. Rerun later, or set customers_method to 'api'."
            )
            raise FatalAPIError(msg)
        stream.logger.info(
            "Stream '%s': export %s is %r after %.0f s; next check in %.0f s.",
            stream.name,
            export_id,
            status,
            elapsed,
            wait,
        )
        time.sleep(wait)
        wait = min(wait * 2, POLL_MAX_SECONDS)
        export = (
            stream.call_api(send, "GET", f"/exports/{export_id}", EXPORT_KEY).get(EXPORT_KEY) or {}
        )


def download_rows(stream: CustomersStream, export_id: int, url: str) -> t.Iterator[dict]:
    """Stream the export file and yield one record per row, never holding the whole file.

    The signed URL is fetched without the API key, because it may point at a storage
    host outside Customer.io. Its query (the signature) is never logged.
    """
    where = f"the file of export {export_id} ({urlsplit(url).netloc})"
    with requests.Session() as session:
        try:
            response = session.get(url, stream=True, timeout=stream.timeout)
        except requests.exceptions.RequestException as exc:
            msg = (
                f"Stream '{stream.name}': downloading {where} failed "
                f"({type(exc).__name__}). Rerun later; the link expires, so a rerun starts a "
                "new export."
            )
            raise FatalAPIError(msg) from None
        with response:
            if response.status_code != 200:
                msg = (
                    f"Stream '{stream.name}': downloading {where} returned HTTP "
                    f"{response.status_code}. Rerun later; the link expires, so a rerun "
                    "starts a new export."
                )
                raise FatalAPIError(msg)
            yield from parse_rows(stream.name, where, response.iter_content(DOWNLOAD_CHUNK_BYTES))


def parse_rows(stream_name: str, where: str, chunks: t.Iterable[bytes]) -> t.Iterator[dict]:
    """Yield a record per CSV row of a gzipped or plain UTF-8 file given as byte chunks."""
    lines = _text_lines(stream_name, where, chunks)
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        if not header or "cio_id" not in header:
            shown = ",".join(header or [])[:80]
            msg = (
                f"Stream '{stream_name}': {where} is not a CSV whose header has a cio_id "
                f"column (header: {shown!r}). Set customers_method to 'api'; the export "
                "format may have changed."
            )
            raise ExportFormatError(msg)
        for row in reader:
            if not any(row):
                continue
            if len(row) != len(header):
                msg = (
                    f"Stream '{stream_name}': {where} has a row of {len(row)} fields "
                    f"where the header has {len(header)} (line {reader.line_num}). Set "
                    "customers_method to 'api'; the export format may have changed."
                )
                raise ExportFormatError(msg)
            yield _record(dict(zip(header, row, strict=True)))
    except csv.Error as exc:
        msg = (
            f"Stream '{stream_name}': {where} is not valid CSV at line {reader.line_num} "
            f"({exc}). Set customers_method to 'api'."
        )
        raise ExportFormatError(msg) from None


def _record(cells: dict[str, str]) -> dict:
    attributes = {name: value for name, value in cells.items() if value != ""}
    identifiers = {name: cells.get(name) or None for name in IDENTIFIER_COLUMNS}
    return {"cio_id": identifiers["cio_id"], "identifiers": identifiers, "attributes": attributes}


def _text_lines(stream_name: str, where: str, chunks: t.Iterable[bytes]) -> t.Iterator[str]:
    """Decode byte chunks (gunzipped if they start with the gzip magic) into lines."""
    chunks = iter(chunks)
    first = b""
    for chunk in chunks:
        first += chunk
        if len(first) >= len(GZIP_MAGIC):
            break
    gzipped = first.startswith(GZIP_MAGIC)
    gunzip = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS) if gzipped else None
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    pending = ""
    try:
        for chunk in _chain(first, chunks):
            data = gunzip.decompress(chunk) if gunzip is not None else chunk
            pending += decoder.decode(data)
            # Only "\n" ends a line here: csv joins quoted multi-line cells itself, and
            # other separators (U+2028, form feed) may occur inside cells.
            lines = pending.split("\n")
            pending = lines.pop()
            for line in lines:
                yield line + "\n"
        if gunzip is not None:
            tail = gunzip.flush()
            if not gunzip.eof:
                msg = f"Stream '{stream_name}': {where} ends in the middle of its gzip data."
                raise ExportFormatError(msg)
            pending += decoder.decode(tail)
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        msg = (
            f"Stream '{stream_name}': {where} is not UTF-8 text, so it is not the CSV the "
            "tap reads. Set customers_method to 'api'."
        )
        raise ExportFormatError(msg) from None
    except zlib.error as exc:
        msg = f"Stream '{stream_name}': {where} has broken gzip data ({exc})."
        raise ExportFormatError(msg) from None
    if pending:
        yield pending


def _chain(first: bytes, rest: t.Iterator[bytes]) -> t.Iterator[bytes]:
    if first:
        yield first
    yield from rest
