"""The landing zone: an immutable copy of every ingested file, named by its content hash."""

from __future__ import annotations

import codecs
import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from insightflow.crawl.crawler import LineCounter
from insightflow.errors import SourceError
from insightflow.lake.storage import LakeStorage


@dataclass(frozen=True)
class Landed:
    """A file copied into the landing zone."""

    path: str  # its copy's location in the lake's storage
    sha256: str
    quoted: bool  # whether it holds the quote character at all
    new: bool  # no earlier file with this content was ever landed (so none was ingested)
    records: int  # lines after the header
    source_stat: tuple[int, int] = (0, 0)  # the file's size and modification time when it was read


def land(storage: LakeStorage, path: Path, quote: str = '"') -> Landed:
    """Copy ``path`` into the landing zone under its content hash, checking on the way that it is
    UTF-8 (the landing zone is in the lake's storage: its folder, or the object store).

    One read of the file does it all: the hash, the copy, the UTF-8 check (so that a bad byte is
    reported with its line, before anything is parsed), the records and whether the quote
    character occurs.
    """
    temporary = f"{storage.landing}/.{uuid.uuid4().hex}.part"
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    quote_byte, quoted, lines = quote.encode("utf-8"), False, 0
    counter = LineCounter()
    try:
        status = path.stat()
        with path.open("rb") as source, storage.open(temporary, "wb") as target:
            while chunk := source.read(1 << 22):
                digest.update(chunk)
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as error:
                    line = lines + chunk.count(b"\n", 0, error.start) + 1
                    raise SourceError(
                        path,
                        f"contains bytes that are not UTF-8 (byte 0x{chunk[error.start]:02x} on line {line}); "
                        "export it as UTF-8",
                    ) from None
                lines += chunk.count(b"\n")
                counter.update(chunk)
                quoted = quoted or quote_byte in chunk
                target.write(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise SourceError(path, "ends in the middle of a UTF-8 character (a truncated file?)") from None
    except OSError as error:
        storage.delete(temporary)
        raise SourceError(path, f"cannot be copied to the landing zone ({error.strerror or error})") from None
    except SourceError:
        storage.delete(temporary)
        raise
    sha256 = digest.hexdigest()
    landed = f"{storage.landing}/{sha256}.csv"
    new = not storage.exists(landed)
    # The copy just written holds the bytes just hashed: it replaces one landed before, which may
    # have been changed since (by hand, or bit rot) and would be ingested under this hash.
    storage.move(temporary, landed)
    if not storage.remote:
        os.chmod(landed, 0o444)
    return Landed(landed, sha256, quoted, new, max(counter.lines, 1) - 1, (status.st_size, status.st_mtime_ns))
