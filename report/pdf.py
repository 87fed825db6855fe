"""report.pdf from the pack's sections: each page of the pack is rendered as a PDF of its own (on two cores, see
workers.py), without page footers; `join` puts them together in order, keeps each section's bookmark, and draws
over every page its footer (the pack's title, "page n of N") from one more PDF holding the footers alone.

The pages look as they did when WeasyPrint rendered the whole pack as one document: each section starts a new
page there too, and the footers sit in the page margin, which no section draws into.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pypdf import PdfReader, PdfWriter

from report.queries import ReportError


def count_pages(parts: Sequence[Path]) -> int:
    return sum(len(PdfReader(p).pages) for p in parts)


def join(parts: Sequence[Path], footers: Path, path: Path) -> None:
    """The parts' pages in order into `path`, the footers' page i drawn over page i; the document's title and
    producer are the first part's."""
    readers = [PdfReader(p) for p in parts]
    over = PdfReader(footers)
    writer = PdfWriter()
    for reader in readers:
        writer.append(reader)  # pages and outline (each section's bookmark, pointing into its pages)
    if len(over.pages) != len(writer.pages):
        raise ReportError(f"{path.name}: {len(over.pages)} footers for {len(writer.pages)} pages")
    for page, footer in zip(writer.pages, over.pages, strict=True):
        page.merge_page(footer)
        page.compress_content_streams()  # merging decompressed them
    if readers and readers[0].metadata:
        writer.add_metadata(dict(readers[0].metadata))
    with open(path, "wb") as fh:
        writer.write(fh)
