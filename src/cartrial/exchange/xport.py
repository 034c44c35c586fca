"""A streaming SAS transport v5 (XPORT) writer: the file is written chunk by chunk of records.

pyreadstat (ReadStat) writes a whole DataFrame at once, converting value by value in Python (about
1 µs per value, most of the export's time at 100,000 subjects), and needs the whole dataset in
memory. This writer encodes each chunk of records with numpy (fixed-width ASCII text, IBM
floating point) and appends it to the file, so that an export holds one chunk at a time. Its bytes
are those pyreadstat writes for the same frame (the timestamps aside, a test compares them).

Layout (SAS Technical Support document TS-140, "The record layout of a data set in SAS transport
(XPORT) format"): 80-byte header records (library, member, descriptor, one 140-byte ``NAMESTR``
per variable padded to 80 bytes, observations), then the observations as fixed-width records
padded with blanks to a multiple of 80 bytes. Numbers are IBM System/360 double precision (a
sign bit, a base-16 exponent biased by 64 and a 56-bit fraction); a missing number is ``.``
(0x2E) followed by seven zero bytes. The descriptor fields match ReadStat's (``SASLIB 6.06``,
``bsd4.2``) so that both writers give the same bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Literal

import numpy as np
import pandas as pd

from cartrial.errors import ExchangeError
from cartrial.exchange.text import distinct

__all__ = ["XportVariable", "XportWriter", "ibm_double"]

_RECORD = 80
_HEADER = "HEADER RECORD*******{kind:<8}HEADER RECORD!!!!!!!{digits:<30}  "
_MEMBER = "000000000000000001600000000140"
_ZEROS = "0" * 30
_SAS = "SAS     "


@dataclass(frozen=True)
class XportVariable:
    """One variable of an XPORT member: name (≤ 8), label (≤ 40), type, width in bytes, format.

    ``width`` is 8 for numbers; for text, the longest value's length in bytes (at least 1).
    ``format`` is a SAS format such as ``DATE9`` (name and width), or empty.
    """

    name: str
    label: str
    type: Literal["Char", "Num"]
    width: int
    format: str = ""


def ibm_double(values: np.ndarray) -> np.ndarray:
    """IEEE 754 doubles as IBM System/360 doubles: an ``(n, 8)`` array of bytes.

    A double is ``1.m x 2**(e - 1023)`` with a 53-bit significand; an IBM double is
    ``0.f x 16**(E - 64)`` with a 56-bit fraction. Shifting the significand left by
    ``(e - 763) mod 4`` bits gives the fraction exactly (no rounding: 53 + 3 <= 56 bits) and
    ``E = (e - 763 - shift) / 4``. Zero is all zero bytes, NaN the missing value ``.``.

    Raises
    ------
    ExchangeError
        A value outside the IBM range (about 5.4e-79 to 7.2e75 in magnitude), or infinite.
    """
    numbers = np.ascontiguousarray(values, dtype=np.float64)
    bits = numbers.view(np.uint64)
    sign = (bits >> np.uint64(63)).astype(np.uint64)
    exponent = ((bits >> np.uint64(52)) & np.uint64(0x7FF)).astype(np.int64)
    significand = (bits & np.uint64((1 << 52) - 1)) | np.uint64(1 << 52)
    missing = np.isnan(numbers)
    zero = numbers == 0
    regular = ~missing & ~zero
    shift = (exponent - 763) % 4
    ibm_exponent = (exponent - 763 - shift) // 4
    if (regular & ((ibm_exponent < 0) | (ibm_exponent > 127))).any():
        raise ExchangeError("a number is outside the range SAS transport v5 can hold")
    fraction = significand << shift.astype(np.uint64)
    word = (sign << np.uint64(63)) | (
        np.clip(ibm_exponent, 0, 127).astype(np.uint64) << np.uint64(56)
    )
    word = word | (fraction & np.uint64((1 << 56) - 1))
    word = np.where(regular, word, np.uint64(0))
    out = word.astype(">u8").view(np.uint8).reshape(-1, 8).copy()
    out[missing, 0] = 0x2E
    return out


def _text(value: str, width: int) -> bytes:
    return value.ljust(width)[:width].encode("ascii")


def _stamp(created: dt.datetime) -> str:
    return created.strftime("%d%b%y:%H:%M:%S").upper()


def _namestr(number: int, variable: XportVariable, position: int) -> bytes:
    """The 140-byte ``NAMESTR`` of one variable (TS-140), numbered from 1 at byte ``position``."""
    numeric = variable.type == "Num"
    name = variable.format.rstrip(".").rstrip("0123456789")
    width = variable.format.rstrip(".")[len(name) :]
    return b"".join(
        (
            (1 if numeric else 2).to_bytes(2, "big"),
            (0).to_bytes(2, "big"),
            variable.width.to_bytes(2, "big"),
            number.to_bytes(2, "big"),
            _text(variable.name, 8),
            _text(variable.label, 40),
            _text(name, 8),
            int(width or 0).to_bytes(2, "big"),
            (0).to_bytes(2, "big"),
            (1 if numeric else 0).to_bytes(2, "big"),
            (0).to_bytes(2, "big"),
            _text("", 8),
            (0).to_bytes(4, "big"),
            position.to_bytes(4, "big"),
            bytes(52),
        )
    )


class XportWriter:
    """Write one dataset (an XPORT member) to ``path``, a chunk of records at a time.

    The header is written when the writer is opened (``with XportWriter(...) as writer``); each
    :meth:`write` appends records; closing pads the last record with blanks.

    Parameters
    ----------
    name, label
        Dataset name (at most 8 characters) and label (at most 40).
    variables
        The variables in their order, with their widths (the longest value of the whole dataset).
    created
        The creation and modification time written in the headers.
    """

    def __init__(
        self,
        path: Path,
        name: str,
        label: str,
        variables: tuple[XportVariable, ...],
        created: dt.datetime,
    ) -> None:
        self.path = path
        self.name = name
        self.label = label
        self.variables = variables
        self.created = created
        self._file: BinaryIO | None = None
        self._written = 0

    def __enter__(self) -> XportWriter:
        self._file = self.path.open("wb")
        self._file.write(self._header())
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        assert self._file is not None
        if kind is None:
            self._file.write(b" " * (-self._written % _RECORD))
        self._file.close()
        self._file = None

    def _header(self) -> bytes:
        stamp = _stamp(self.created)
        records = [
            _HEADER.format(kind="LIBRARY", digits=_ZEROS),
            f"{_SAS}{_SAS}SASLIB  6.06    bsd4.2  {'':24}{stamp}",
            f"{stamp:<80}",
            _HEADER.format(kind="MEMBER", digits=_MEMBER),
            _HEADER.format(kind="DSCRPTR", digits=_ZEROS),
            f"{_SAS}{self.name:<8}SASDATA 6.06    bsd4.2  {'':24}{stamp}",
            f"{stamp}{'':16}{self.label:<40}{'':8}",
            _HEADER.format(kind="NAMESTR", digits=f"000000{len(self.variables):04d}" + "0" * 20),
        ]
        head = "".join(records).encode("ascii")
        position = 0
        names = b""
        for number, variable in enumerate(self.variables, start=1):
            names += _namestr(number, variable, position)
            position += variable.width
        names += b" " * (-len(names) % _RECORD)
        return head + names + _HEADER.format(kind="OBS", digits=_ZEROS).encode("ascii")

    def write(self, frame: pd.DataFrame) -> None:
        """Append the records of ``frame`` (columns named as the variables, in any order).

        Text must be ASCII (checked before, by :func:`~cartrial.exchange.transport.
        transport_problems`); a missing text value is written as blanks.
        """
        assert self._file is not None, "use XportWriter as a context manager"
        # one record a structured item: each variable a field of its width in bytes
        layout = np.dtype(
            {
                "names": [v.name for v in self.variables],
                "formats": [f"V{v.width}" for v in self.variables],
            }
        )
        records = np.empty(len(frame), dtype=layout)
        for variable in self.variables:
            values = frame[variable.name]
            if variable.type == "Num":
                numbers = pd.to_numeric(values).to_numpy(dtype=float, na_value=np.nan)
                records[variable.name] = ibm_double(numbers).view("V8").ravel()
            else:
                codes, texts = distinct(values)
                # each distinct value encoded once (ASCII, checked before), padded with blanks;
                # the last row, all blanks, is the code -1 of a missing value
                table = np.array([*texts, ""], dtype=f"S{variable.width}")
                encoded = table.view(np.uint8).reshape(-1, variable.width).copy()
                encoded[encoded == 0] = ord(" ")
                records[variable.name] = encoded.view(f"V{variable.width}").ravel()[codes]
        data = records.view(np.uint8)  # the records' own bytes, not a copy
        self._file.write(data.data)
        self._written += data.size
