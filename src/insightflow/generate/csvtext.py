"""CSV text in the export's exact format, built column-wise with Arrow (no per-row Python).

The export is UTF-8 with a byte-order mark, CRLF line ends and no newline after its last record;
its numbers are single-precision floats printed with about nine significant digits (299.98 is
written ``299.980011``). Values are quoted only when they hold a comma, a quote or a line break
(RFC 4180).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BOM = "\ufeff".encode()
EOL = "\r\n"
_NEEDS_QUOTES = '[",\r\n]'


def float32_text(values: np.ndarray) -> pa.Array:
    """Numbers as the export prints them: the float32 value to 9 decimals below 1, else 9 digits."""
    v = np.asarray(values, dtype=np.float32).astype(np.float64)
    magnitude = np.abs(v)
    with np.errstate(divide="ignore"):
        integer_digits = np.where(
            magnitude >= 1, np.floor(np.log10(np.maximum(magnitude, 1))) + 1, 0
        )
    decimals = np.clip(9 - integer_digits, 0, 12)
    scale = np.power(10.0, decimals)
    # A correctly rounded division gives the double nearest to the decimal, whose shortest
    # representation is that decimal.
    rounded = np.round(v * scale) / scale
    return pc.cast(pa.array(rounded, pa.float64()), pa.string())


def int_text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def labels_text(labels: list[str] | tuple[str, ...], codes: np.ndarray) -> pa.Array:
    """``labels[codes]`` as an Arrow string array."""
    return pc.take(pa.array(list(labels), pa.string()), pa.array(np.asarray(codes, dtype=np.int64)))


def quoted(values: pa.Array) -> pa.Array:
    """RFC-4180 quoting of the values that need it; the others are left bare, as in the export."""
    needs = pc.match_substring_regex(values, _NEEDS_QUOTES)
    if not pc.any(needs).as_py():
        return values
    escaped = pc.replace_substring(values, '"', '""')
    wrapped = pc.binary_join_element_wise('"', escaped, '"', "")
    return pc.if_else(needs, wrapped, values)


def quote_field(value: str) -> str:
    """One value, quoted if it needs it."""
    if any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def join_records(columns: list[pa.Array]) -> pa.Array:
    """One CSV record per row (without line end) from string columns of equal length."""
    return pc.binary_join_element_wise(*columns, ",")


class CsvFileWriter:
    """Writes one export file atomically: BOM, header, CRLF records, no final line end.

    Records go to a temporary file beside the target, renamed over it on ``close``; ``line`` is
    the physical line number the next record gets (header = line 1).
    """

    def __init__(self, path: Path, header: tuple[str, ...]) -> None:
        self.path, self.header = path, header
        self._temporary = path.with_name(f".{path.name}.partial")
        self._file = open(self._temporary, "wb")  # noqa: SIM115 - closed in close()
        self._file.write(BOM + ",".join(header).encode() + EOL.encode())
        self.line = 2

    @property
    def records(self) -> int:
        return self.line - 2

    def write(self, records: pa.Array) -> None:
        """Append records (an Arrow string array without line ends)."""
        if len(records) == 0:
            return
        with_eol = pc.binary_join_element_wise(records, "", EOL)
        with_eol = pc.cast(with_eol, pa.large_string())
        offsets = np.frombuffer(with_eol.buffers()[1], dtype=np.int64)
        start, end = offsets[with_eol.offset], offsets[with_eol.offset + len(with_eol)]
        self._file.write(memoryview(with_eol.buffers()[2])[start:end])
        self.line += len(records)

    def close(self) -> None:
        """Drop the last line end (the export has none) and move the file into place."""
        self._file.truncate(self._file.tell() - len(EOL))
        self._file.close()
        os.replace(self._temporary, self.path)

    def abort(self) -> None:
        self._file.close()
        self._temporary.unlink(missing_ok=True)
