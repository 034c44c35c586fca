"""Reading user text files safely: size limit, strict decoding, CSV rows with their line numbers.

Every file a user gives cartrial (a protocol, a CSV to import or to grade) is read here, so that
one set of rules applies everywhere:

* a file larger than the caller's limit is refused before it is read;
* the text is decoded as UTF-8 (a UTF-8 byte-order mark is accepted and dropped) unless the user
  names another encoding (``--encoding latin-1``); anything else is refused with the byte offset
  of the first undecodable byte, and a NUL byte marks the file as binary;
* CSV rows keep the line number they start on in the file (the header is line 1), the one row
  numbering every message uses;
* a large CSV is decoded line by line (:func:`iter_lines`): memory holds a line, not the file.

Problems raise :class:`~cartrial.errors.InputFileError` naming the file and the place.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from pathlib import Path

from cartrial.errors import InputFileError

__all__ = ["CsvRows", "decode_text", "iter_lines", "read_text"]

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


def decode_text(
    data: bytes, source: str, *, encoding: str | None = None, utf8_only: bool = False
) -> str:
    """Decode ``data`` (the bytes of file ``source``) strictly.

    Parameters
    ----------
    data
        The file's bytes.
    source
        The file's name, for messages.
    encoding
        A Python codec name given explicitly by the user; ``None`` means UTF-8 with an optional
        byte-order mark.
    utf8_only
        The file must be UTF-8 (a protocol): messages do not suggest ``--encoding``.

    Raises
    ------
    InputFileError
        Unknown codec, undecodable byte (with its offset) or a NUL byte (a binary file).
    """
    if encoding is None:
        if data.startswith(_UTF16_BOMS):
            other = "" if utf8_only else ", or give its encoding (--encoding utf-16)"
            raise InputFileError(
                source, f"starts with a UTF-16/UTF-32 byte-order mark: save it as UTF-8{other}"
            )
        codec = "utf-8-sig"
    else:
        codec = _codec(source, encoding)
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        _refuse_byte(source, encoding, data[exc.start], exc.start, utf8_only=utf8_only)
    nul = text.find("\x00")
    if nul >= 0:
        offset = len(text[:nul].encode(codec if codec != "utf-8-sig" else "utf-8"))
        raise InputFileError(source, f"byte offset {offset}: NUL byte: a binary file, not text")
    return text


def _codec(source: str, encoding: str | None) -> str:
    if encoding is None:
        return "utf-8"
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InputFileError(source, f"unknown encoding {encoding!r}") from None


def _checked_size(file: Path, max_bytes: int) -> None:
    source = str(file)
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise InputFileError(source, f"cannot read the file: {exc.strerror or exc}") from None
    if file.is_dir():
        raise InputFileError(source, "is a directory, not a file")
    if size > max_bytes:
        raise InputFileError(
            source, f"is {size:,} bytes, larger than the limit of {max_bytes:,} bytes"
        )


def iter_lines(path: str | Path, *, max_bytes: int, encoding: str | None = None) -> Iterator[str]:
    """The decoded lines of the file ``path``, read and decoded one line at a time.

    Same rules as :func:`read_text` (size, strict decoding with the byte offset, NUL bytes); an
    encoding that is not ASCII-compatible (UTF-16, UTF-32) is decoded as a whole.

    Raises
    ------
    InputFileError
        As :func:`read_text`, when the bad byte is reached.
    """
    file = Path(path)
    source = str(file)
    codec = _codec(source, encoding)
    if codec.startswith(("utf-16", "utf-32")):
        yield from read_text(file, max_bytes=max_bytes, encoding=encoding).splitlines(True)
        return
    _checked_size(file, max_bytes)
    offset = 0
    try:
        with file.open("rb") as handle:
            for raw in handle:
                chunk = raw
                if offset == 0:
                    if encoding is None and raw.startswith(_UTF16_BOMS):
                        decode_text(raw, source)  # raises: a UTF-16/32 file
                    if codec == "utf-8" and raw.startswith(codecs.BOM_UTF8):
                        chunk, offset = raw[len(codecs.BOM_UTF8) :], len(codecs.BOM_UTF8)
                try:
                    line = chunk.decode(codec)
                except UnicodeDecodeError as exc:
                    _refuse_byte(source, encoding, chunk[exc.start], offset + exc.start)
                nul = chunk.find(b"\x00")
                if nul >= 0:
                    raise InputFileError(
                        source, f"byte offset {offset + nul}: NUL byte: a binary file, not text"
                    )
                offset += len(chunk)
                if offset > max_bytes:
                    raise InputFileError(source, f"is larger than the limit of {max_bytes:,} bytes")
                yield line
    except OSError as exc:
        raise InputFileError(source, f"cannot read the file: {exc.strerror or exc}") from None


def _refuse_byte(
    source: str, encoding: str | None, byte: int, offset: int, *, utf8_only: bool = False
) -> None:
    hint = "" if encoding or utf8_only else " (or give its encoding, e.g. --encoding latin-1)"
    raise InputFileError(
        source,
        f"byte offset {offset}: byte 0x{byte:02x} is not valid {encoding or 'UTF-8'}: "
        f"save the file as UTF-8{hint}",
    )


def read_text(
    path: str | Path, *, max_bytes: int, encoding: str | None = None, utf8_only: bool = False
) -> str:
    """The decoded text of the file ``path`` (at most ``max_bytes`` bytes, checked first).

    Raises
    ------
    InputFileError
        The file cannot be read (missing, a directory, no permission), is larger than
        ``max_bytes``, or is not text in the expected encoding (:func:`decode_text`).
    """
    file = Path(path)
    source = str(file)
    _checked_size(file, max_bytes)
    try:
        with file.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputFileError(source, f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > max_bytes:  # grew while being read
        raise InputFileError(source, f"is larger than the limit of {max_bytes:,} bytes")
    return decode_text(data, source, encoding=encoding, utf8_only=utf8_only)


class CsvRows:
    """The rows of a CSV text, each with the file line it starts on (header = line 1).

    Parameters
    ----------
    lines
        The decoded CSV text, or its lines (e.g. :func:`iter_lines`, read lazily).
    source
        The file's name, for messages.
    comments
        Skip rows whose first cell starts with ``#`` (their lines still count).

    Attributes
    ----------
    header : list of str
        Column names, stripped of surrounding blanks (filled when iteration starts).
    """

    def __init__(self, lines: str | Iterable[str], source: str, *, comments: bool = False) -> None:
        self.source = source
        self._lines = lines.splitlines(keepends=True) if isinstance(lines, str) else lines
        self._comments = comments
        self.header: list[str] = []

    def __iter__(self) -> Iterator[tuple[int, dict[str, str] | None]]:
        """Yield ``(line, cells)``; ``cells`` is ``None`` when the row has more cells than header.

        Blank rows are skipped. A row with fewer cells than the header lacks the last columns.

        Raises
        ------
        InputFileError
            The text has no header line, or is not CSV (e.g. an unterminated quote: the file is
            truncated), naming the line where the bad row starts.
        """
        reader = csv.reader(self._lines, strict=True)
        start = 1
        try:
            for cells in reader:
                line, start = start, reader.line_num + 1
                if not any(c.strip() for c in cells):
                    continue
                if self._comments and cells[0].lstrip().startswith("#"):
                    continue
                if not self.header:
                    self.header = [c.strip() for c in cells]
                    continue
                if len(cells) > len(self.header):
                    yield line, None
                    continue
                yield line, dict(zip(self.header, cells, strict=False))
        except csv.Error as exc:
            raise InputFileError(
                self.source, f"line {start}: not valid CSV ({exc}); is the file truncated?"
            ) from None
        if not self.header:
            raise InputFileError(self.source, "is empty: no header line")
