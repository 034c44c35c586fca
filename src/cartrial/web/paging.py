"""Pages of a long listing (a subject's laboratory values, its records): which rows a page holds.

A subject followed for months gathers hundreds of records; its timeline shows one page of each
listing and links to the others, so that a page costs the same however long the trial has run.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Page", "page_of"]


@dataclass(frozen=True)
class Page:
    """Page ``number`` (1-based) of ``pages`` of a listing of ``total`` rows, ``size`` per page.

    ``start`` is the 0-based index of its first row; ``first`` and ``last`` are the 1-based row
    numbers shown to the reader (``0`` and ``0`` on an empty listing). Pages ``from_end`` are
    counted from the last row, so that the last page is a full one (a timeline's latest rows)
    and the first may be short.
    """

    number: int
    pages: int
    total: int
    size: int
    from_end: bool = False

    @property
    def start(self) -> int:
        """Index (0-based) of the page's first row."""
        if self.from_end:
            return max(self.total - (self.pages - self.number + 1) * self.size, 0)
        return (self.number - 1) * self.size

    @property
    def stop(self) -> int:
        """Index (0-based) after the page's last row."""
        if self.from_end:
            return self.total - (self.pages - self.number) * self.size
        return min(self.number * self.size, self.total)

    @property
    def first(self) -> int:
        """Row number (1-based) of the page's first row; 0 on an empty listing."""
        return self.start + 1 if self.total else 0

    @property
    def last(self) -> int:
        """Row number (1-based) of the page's last row; 0 on an empty listing."""
        return self.stop


def page_of(total: int, size: int, number: int | None, *, latest: bool = False) -> Page:
    """The page ``number`` of a listing of ``total`` rows, ``size`` rows per page.

    ``None`` asks for the default page: the first, or for a listing of the ``latest`` rows the
    last (a timeline opens on its most recent rows; its pages are counted from the end). A
    number past either end is the nearest page that exists.
    """
    pages = max(1, -(-total // size))
    wanted = (pages if latest else 1) if number is None else number
    number = min(max(wanted, 1), pages)
    return Page(number=number, pages=pages, total=total, size=size, from_end=latest)
