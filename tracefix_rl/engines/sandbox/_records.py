"""The record channel's framing, read as untrusted input (layer 1 of 2; no dependencies).

A job's program shares its process with the trusted driver, so it can write on the driver's
record descriptor too. Everything that comes back is therefore parsed as hostile input, in
two layers, neither of which ever raises:

* :func:`parse_records` (here, used by every executor) splits the newline-delimited stream,
  drops a partial last line (a job killed mid-write), and stops at the first line that is not
  a JSON object of bounded size, uses ``NaN``/``Infinity``, nests too deeply, or exceeds the
  record count. Lone surrogates in strings are replaced (``?``) so nothing downstream fails to
  encode them.
* :mod:`._protocol` checks the records against the exact schema and order each driver emits.

This module runs in every executor, including interpreters without the package's
dependencies, so it uses the standard library only.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_RECORD_LINE_BYTES", "parse_records"]

#: Largest single record line accepted (the driver's emitter replaces bigger records with an
#: ``oversize`` marker, so only a forged record can be larger).
MAX_RECORD_LINE_BYTES = 1 << 20

_BAD_CONSTANT = "NaN or Infinity"


def _reject_constant(name: str) -> Any:
    raise ValueError(_BAD_CONSTANT)


_decode = json.JSONDecoder(parse_constant=_reject_constant).decode


def _clean(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings replaced by ``?``."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    return value


def parse_records(blob: bytes | memoryview, *, max_records: int,
                  max_line_bytes: int = MAX_RECORD_LINE_BYTES) -> tuple[list[dict[str, Any]], str]:
    """Decode a record stream; return ``(records, protocol_error)``.

    ``records`` are the JSON objects before the first violation; ``protocol_error`` says what
    the violation was (empty when there was none). A last line without its newline is a
    write cut short by a kill and is dropped silently.
    """
    data = bytes(blob)
    lines = data.split(b"\n")
    lines.pop()  # the text after the last newline: empty, or a partial line
    records: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if number > max_records:
            return records, f"more than {max_records} records"
        if len(line) > max_line_bytes:
            return records, f"record {number} is {len(line)} bytes (at most {max_line_bytes})"
        try:
            record = _decode(line.decode("utf-8"))
        except RecursionError:
            return records, f"record {number} nests too deeply"
        except (ValueError, MemoryError) as exc:  # UnicodeDecodeError and JSONDecodeError included
            what = _BAD_CONSTANT if str(exc) == _BAD_CONSTANT else "not valid JSON"
            return records, f"record {number} is {what}"
        if not isinstance(record, dict):
            return records, f"record {number} is not a JSON object"
        if b"\\ud" in line or b"\\uD" in line:
            record = _clean(record)
        records.append(record)
    return records, ""
