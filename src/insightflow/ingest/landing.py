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
    #: The encoding its bytes are read in (the copy keeps them as they are; the parser reads a
    #: UTF-8 transcoding of a file in another encoding).
    encoding: str = "utf-8"

    @property
    def utf8(self) -> bool:
        return self.encoding in ("utf-8", "utf-8-sig")


def land(storage: LakeStorage, path: Path, quote: str = '"', encoding: str = "utf-8", *,
         detected: bool = True) -> Landed:
    """Copy ``path`` into the landing zone under its content hash, checking on the way that it
    decodes in ``encoding`` (the landing zone is in the lake's storage: its folder, or the object
    store).

    One read of the file does it all: the hash, the copy of its bytes as they are, the decoding
    check (so that a bad byte is reported with its line, before anything is parsed), the records
    and whether the quote character occurs. A ``detected`` encoding (not given by the user) may
    change on the way: a file that looked like UTF-8 in its first 64 KiB but holds a byte that is
    not, after nothing but ASCII, is Windows-1252; a Windows-1252 file with one of the five bytes
    it leaves undefined is Latin-1.
    """
    temporary = f"{storage.landing}/.{uuid.uuid4().hex}.part"
    digest = hashlib.sha256()
    # (a UTF-8 byte-order mark is checked as the character it is: error offsets stay the file's)
    decoder = codecs.getincrementaldecoder("utf-8" if encoding == "utf-8-sig" else encoding)()
    wide = encoding.startswith(("utf-16", "utf-32"))
    quoted, lines, ascii_so_far = False, 0, True
    counter = LineCounter()
    try:
        status = path.stat()
        with path.open("rb") as source, storage.open(temporary, "wb") as target:
            while chunk := source.read(1 << 22):
                digest.update(chunk)
                while True:
                    try:
                        text = decoder.decode(chunk)
                        break
                    except UnicodeDecodeError as error:
                        line = lines + chunk.count(b"\n", 0, error.start) + 1
                        fallback = _fallback(encoding, detected, ascii_so_far and chunk[:error.start].isascii())
                        if fallback is None:
                            raise SourceError(path, f"cannot be read as {encoding} (byte 0x{chunk[error.start]:02x} "
                                                    f"on line {line}); give its encoding with --encoding") from None
                        # a single-byte encoding decodes a chunk alone (what came before was ASCII)
                        encoding, decoder = fallback, codecs.getincrementaldecoder(fallback)()
                ascii_so_far = ascii_so_far and chunk.isascii()
                lines += chunk.count(b"\n")
                counter.update(text.encode("utf-8") if wide else chunk)
                quoted = quoted or quote in text
                target.write(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise SourceError(path, f"ends in the middle of a {encoding} character (a truncated file?)") from None
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
    return Landed(landed, sha256, quoted, new, max(counter.lines, 1) - 1, (status.st_size, status.st_mtime_ns),
                  encoding)


def _fallback(encoding: str, detected: bool, ascii_before: bool) -> str | None:
    """The encoding a detected one gives way to when a byte does not decode (None: refuse)."""
    if not detected:
        return None
    if encoding == "utf-8" and ascii_before:
        return "cp1252"
    if encoding == "cp1252":
        return "latin-1"
    return None
