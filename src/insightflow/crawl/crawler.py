"""The crawler (the Glue Crawler's part): sniff each CSV of a folder and match it to its contract.

For every file it checks what can be checked cheaply before anything is loaded: that it is a text
file in UTF-8, its dialect and header (DuckDB's CSV sniffer), its number of records, and how its
header and inferred types compare with the source contract. It never changes the lake.
"""

from __future__ import annotations

import codecs
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from insightflow.contracts import SourceContract, load_contracts, match_contract
from insightflow.errors import SourceError, UsageError

_SAMPLE_BYTES = 1 << 16
_BOMS = {
    codecs.BOM_UTF8: "utf-8-sig",
    codecs.BOM_UTF16_LE: "utf-16",
    codecs.BOM_UTF16_BE: "utf-16",
    codecs.BOM_UTF32_LE: "utf-32",
    codecs.BOM_UTF32_BE: "utf-32",
}
# How DuckDB's sniffer names a type -> the contract type it is compatible with.
_SNIFFED_AS = {
    "BIGINT": "BIGINT",
    "INTEGER": "BIGINT",
    "DOUBLE": "DOUBLE",
    "DATE": "DATE",
    "VARCHAR": "VARCHAR",
    "BOOLEAN": "VARCHAR",
    "TIMESTAMP": "DATE",
}


@dataclass
class SniffedFile:
    """What the crawler learned about one CSV file."""

    path: Path
    size: int
    encoding: str  # Python's codec name: utf-8, utf-8-sig, utf-16, cp1252, latin-1 …
    delimiter: str
    quote: str
    line_ending: str
    header: list[str]
    inferred_types: dict[str, str]
    #: Data records (lines after the header); None when not counted (a run counts them as it
    #: lands the file, in the same read as its hash and copy).
    records: int | None
    #: Whether ``encoding`` was given (--encoding, a setting) rather than detected from the sample.
    encoding_given: bool = False


@dataclass
class FileReport:
    """The crawler's verdict on one file: ``ok``, ``rejected`` or ``unknown`` (skipped)."""

    path: Path
    status: str
    contract: SourceContract | None = None
    sniffed: SniffedFile | None = None
    problem: str | None = None
    extra_columns: list[str] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)
    type_drift: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def source(self) -> str | None:
        return self.contract.source if self.contract else None

    @property
    def drift(self) -> str:
        """A short description of how the file departs from its contract."""
        parts = []
        if self.extra_columns:
            rule = self.contract.drift.extra_columns if self.contract else "keep"
            done = {"keep": "kept", "drop": "dropped", "reject": "refused"}[rule]
            parts.append(f"extra columns {done}: " + ", ".join(self.extra_columns))
        if self.missing_optional:
            parts.append("missing optional columns: " + ", ".join(self.missing_optional))
        return "; ".join(parts) or "none"


@dataclass
class CrawlReport:
    """The crawl of one source folder."""

    folder: Path
    files: list[FileReport]

    @property
    def accepted(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "ok"]

    @property
    def rejected(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "rejected"]

    def raise_for_rejected(self) -> None:
        """Stop with the first rejected file's problem (nothing is loaded from a bad batch)."""
        if self.rejected:
            first = self.rejected[0]
            more = f" (and {len(self.rejected) - 1} more rejected files)" if len(self.rejected) > 1 else ""
            raise SourceError(first.path, f"{first.problem}{more}")


def crawl(folder: str | Path, *, count_records: bool = True, encodings: dict[str, str] | None = None) -> CrawlReport:
    """Crawl every ``*.csv`` file of ``folder`` (not recursive), sorted by name.

    ``count_records=False`` reads no more of a file than its first 64 KiB (a run does: it reads
    every byte once when it lands the file). ``encodings`` gives the encoding to read files in, per
    source (``customers`` …) or for all (``*``); a file without one has it detected."""
    root = source_folder(folder)
    paths = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
    if not paths:
        raise SourceError(root, "holds no .csv files")
    with duckdb.connect() as sniffer:  # one connection for every file (~15 ms each)
        files = [crawl_file(p, count_records=count_records, encodings=encodings, sniffer=sniffer) for p in paths]
    return CrawlReport(root, files)


def source_folder(folder: str | Path) -> Path:
    """``folder`` if it is a folder, else a ``SourceError`` saying what it is."""
    root = Path(folder)
    if not root.exists():
        raise SourceError(root, "no such folder")
    if not root.is_dir():
        raise SourceError(root, "is not a folder (give the folder holding the CSV exports)")
    return root


def crawl_file(path: Path, *, count_records: bool = True, encodings: dict[str, str] | None = None,
               sniffer: duckdb.DuckDBPyConnection | None = None) -> FileReport:
    """Sniff one file (on the DuckDB connection ``sniffer``, else a new one) and compare it with its
    contract; problems become a ``rejected`` report."""
    named = match_contract(path.name, [])
    given = (encodings or {}).get(named.source if named else "", (encodings or {}).get("*"))
    try:
        sniffed = sniff(path, count_records=count_records, encoding=given, sniffer=sniffer)
    except SourceError as error:
        return FileReport(path, "rejected", contract=match_contract(path.name, []), problem=error.problem)
    contract = match_contract(path.name, sniffed.header)
    if contract is None:
        return FileReport(path, "unknown", sniffed=sniffed, problem="matches no source contract; skipped")
    report = FileReport(path, "ok", contract=contract, sniffed=sniffed)
    report.extra_columns = [h for h in sniffed.header if contract.column(h) is None]
    present = {h.strip().upper() for h in sniffed.header}
    report.missing_optional = [
        c.source for c in contract.columns if not c.required and c.source.upper() not in present
    ]
    problem = _drift_problem(contract, sniffed, report)
    if problem is None and sniffed.records == 0:
        problem = "has a header but no data rows"
    if problem is not None:
        report.status, report.problem = "rejected", problem
    for header, inferred in sniffed.inferred_types.items():
        column = contract.column(header)
        compatible = _SNIFFED_AS.get(inferred, "VARCHAR")
        if column and compatible != column.type and column.type != "VARCHAR":
            report.type_drift[header] = (column.type, inferred)
    return report


def _drift_problem(contract: SourceContract, sniffed: SniffedFile, report: FileReport) -> str | None:
    """Why the file's header is refused under its contract's drift policy (None: it is not)."""
    policy = contract.drift
    folded = [h.strip().upper() for h in sniffed.header]
    duplicated = sorted({f for f in folded if folded.count(f) > 1})
    present = set(folded)
    # missing_required is always "reject" (the only value the contracts accept)
    missing_required = [h for h in contract.required_headers if h.upper() not in present]
    missing_figures = [c for c in contract.columns if c.feeds and c.source.upper() not in present]
    if duplicated:
        spellings = [h for h, f in zip(sniffed.header, folded, strict=True) if f == duplicated[0]]
        both = " and ".join(dict.fromkeys(spellings)) if len(set(spellings)) > 1 else spellings[0]
        return f"duplicated column {both} in the header"
    if missing_required:
        return f"required column {missing_required[0]} is missing from the header{_delimiter_hint(sniffed)}"
    if missing_figures:
        column = missing_figures[0]
        return (f"column {column.source} is missing from the header: {', '.join(column.feeds)} "
                "cannot be computed without it (and would read 0); export it too")
    if report.extra_columns and policy.extra_columns == "reject":
        return (f"column {report.extra_columns[0]} is not in the {contract.source} contract "
                "(its drift policy rejects extra columns)")
    if report.missing_optional and policy.missing_optional == "reject":
        return (f"optional column {report.missing_optional[0]} is missing from the header "
                f"(the {contract.source} drift policy rejects missing columns)")
    return None


def sniff(path: Path, *, count_records: bool = True, encoding: str | None = None,
          sniffer: duckdb.DuckDBPyConnection | None = None) -> SniffedFile:
    """Encoding (``encoding``: the one to read it in), dialect, header, inferred types and record
    count of a CSV file (its dialect and types told by DuckDB on ``sniffer``, else a new connection)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            sample = handle.read(_SAMPLE_BYTES)
    except OSError as error:
        raise SourceError(path, f"cannot be read ({error.strerror})") from None
    if size == 0:
        raise SourceError(path, "is empty (0 bytes)")
    given = encoding
    encoding = _encoding(path, sample, given)
    try:
        text = sample.decode(encoding) if len(sample) == size else _decode_prefix(sample, encoding)
    except UnicodeDecodeError as error:
        line = sample.count(b"\n", 0, error.start) + 1
        raise SourceError(
            path, f"cannot be read as {encoding} (byte 0x{sample[error.start]:02x} on line {line}); "
            "give its encoding with --encoding"
        ) from None
    if not text.strip():
        raise SourceError(path, "holds only blank lines")
    delimiter = _delimiter(text)
    header = _header(text, delimiter)
    quote, newline, inferred = '"', "\\n", {}
    utf8 = encoding in ("utf-8", "utf-8-sig")
    temporary = None if utf8 else _utf8_sample(text)
    sniffed_path = temporary or path
    try:
        with nullcontext(sniffer) if sniffer is not None else duckdb.connect() as con:
            row = con.execute(
                "SELECT Quote, NewLineDelimiter, Columns FROM sniff_csv(?, delim = ?, sample_size = 4096)",
                [str(sniffed_path), delimiter],
            ).fetchall()[0]
        quote, newline, inferred = row[0], row[1], {c["name"]: c["type"] for c in row[2]}
    except duckdb.Error:
        # Ragged or odd rows defeat type inference; ingest still parses the file and refuses
        # the records it cannot place, so the crawl reports no inferred types rather than failing.
        pass
    finally:
        if temporary:
            temporary.unlink(missing_ok=True)
    records: int | None = None
    if count_records or len(sample) == size:  # a file within the sample is counted from it
        wide = encoding.startswith(("utf-16", "utf-32"))  # a line end is not one 0x0A byte there
        if wide:
            records = max(_count_decoded(path, encoding), 1) - 1
        else:
            records = max(_count_lines(sample) if len(sample) == size else _count_records(path), 1) - 1
    return SniffedFile(
        path=path,
        size=size,
        encoding=encoding,
        delimiter=delimiter,
        quote='"' if quote in ("(empty)", "") else quote,
        line_ending={"\\r\\n": "CRLF", "\\n": "LF", "\\r": "CR"}.get(newline, "LF"),
        header=header,
        inferred_types=inferred,
        records=records,
        encoding_given=bool(given),
    )


def _utf8_sample(text: str) -> Path:
    """The sample's whole lines as a UTF-8 file, for DuckDB's sniffer (which reads UTF-8)."""
    import tempfile

    handle, name = tempfile.mkstemp(prefix="insightflow-sniff-", suffix=".csv")
    with open(handle, "w", encoding="utf-8", newline="") as out:
        cut = max(text.rfind("\n"), 0)
        out.write(text[: cut + 1] if cut else text)
    return Path(name)


def _count_decoded(path: Path, encoding: str) -> int:
    counter = LineCounter()
    with path.open("r", encoding=encoding, errors="replace", newline="") as handle:
        while chunk := handle.read(1 << 20):
            counter.update(chunk.encode("utf-8"))
    return counter.lines


#: Single-byte encodings a file that is not UTF-8 is read in, in turn: Windows-1252 (Excel's and
#: most ERPs' "ANSI"), then Latin-1, which decodes any byte.
FALLBACK_ENCODINGS = ("cp1252", "latin-1")


def _encoding(path: Path, sample: bytes, given: str | None = None) -> str:
    """The file's encoding: ``given``; else its byte-order mark; else UTF-16 told by its NUL bytes;
    else UTF-8 if the sample is valid UTF-8; else Windows-1252 or Latin-1. The landing copy's
    check of the whole file may still move a UTF-8 guess to a single-byte one."""
    if given:
        return normalized_encoding(given, sample)
    for bom, encoding in _BOMS.items():
        if sample.startswith(bom):
            return encoding
    if b"\x00" in sample:
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > len(sample) // 8 and even == 0:
            return "utf-16-le"
        if even > len(sample) // 8 and odd == 0:
            return "utf-16-be"
        controls = sum(sample.count(bytes([c])) for c in range(32) if c not in (9, 10, 13))
        if controls > len(sample) // 100:
            raise SourceError(path, "is a binary file, not a CSV text file")
    try:
        _decode_prefix(sample, "utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        if not sample[: error.start].isascii():  # UTF-8 text, then a byte that is not: two encodings
            line = sample.count(b"\n", 0, error.start) + 1
            raise SourceError(path, f"cannot be read as utf-8 (byte 0x{sample[error.start]:02x} on line {line}, "
                                    "after UTF-8 text); give its encoding with --encoding") from None
    for encoding in FALLBACK_ENCODINGS:
        try:
            _decode_prefix(sample, encoding)
            return encoding
        except UnicodeDecodeError:
            continue
    return "latin-1"


def normalized_encoding(name: str, sample: bytes = b"") -> str:
    """Python's name for an encoding given by a user (``--encoding``, a setting), BOM-aware."""
    try:
        encoding = codecs.lookup(name).name
    except LookupError:
        raise UsageError(f"unknown encoding {name!r} (e.g. utf-8, utf-16, cp1252, latin-1)") from None
    if encoding == "utf-8" and sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    return encoding


def _decode_prefix(sample: bytes, encoding: str) -> str:
    """Decode a sample cut at an arbitrary byte, ignoring only a cut multi-byte character."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    return decoder.decode(sample, final=False)


def _delimiter(text: str) -> str:
    """The delimiter that splits the header into the most known contract columns (else the most fields)."""
    first = text.lstrip("\ufeff").splitlines()[0]
    known = {c.source.upper() for contract in load_contracts().values() for c in contract.columns}

    def score(candidate: str) -> tuple[int, int]:
        fields = [f.strip().strip('"').upper() for f in first.split(candidate)]
        return sum(f in known for f in fields), len(fields)

    return max((",", ";", "\t", "|"), key=score)


def _header(text: str, delimiter: str) -> list[str]:
    first = text.lstrip("\ufeff").splitlines()[0]
    return [h.strip().strip('"') for h in first.split(delimiter)]


def _count_records(path: Path) -> int:
    """Lines in the file (a last line without a line end counts)."""
    counter = LineCounter()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            counter.update(chunk)
    return counter.lines


def _count_lines(data: bytes) -> int:
    counter = LineCounter()
    counter.update(data)
    return counter.lines


class LineCounter:
    """Counts the lines of a file fed chunk by chunk: LF or CRLF ends, or bare CR (old Mac files);
    a last line without a line end counts."""

    def __init__(self) -> None:
        self._newlines = self._returns = 0
        self._last = b""

    def update(self, chunk: bytes) -> None:
        self._newlines += chunk.count(b"\n")
        if not self._newlines:
            self._returns += chunk.count(b"\r")
        if chunk:
            self._last = chunk[-1:]

    @property
    def lines(self) -> int:
        if self._newlines:
            return self._newlines + (self._last != b"\n")
        if self._returns:
            return self._returns + (self._last != b"\r")
        return 1 if self._last else 0


def _delimiter_hint(sniffed: SniffedFile) -> str:
    for other in (";", "\t", "|", ","):
        if other != sniffed.delimiter and len(sniffed.header) == 1 and other in sniffed.header[0]:
            return f" (the header looks {other!r}-delimited)"
    return ""
