"""report.pdf from the pack's sections: each page of the pack is rendered as a PDF of its own (on two cores, see
workers.py), without page footers; `Joined` puts them together in order, keeps each section's bookmark, and
draws over every page its footer (the pack's title, "page n of N") from one more PDF holding the footers alone.

The pages look as they did when WeasyPrint rendered the whole pack as one document: each section starts a new
page there too, and the footers sit in the page margin, which no section draws into.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pypdf import PdfReader, PdfWriter

from report.queries import ReportError


class Joined:
    """The parts' pages in order, each section's bookmark kept (pointing into its pages); the document's title
    and producer are the first part's."""

    def __init__(self, parts: Sequence[Path]) -> None:
        self.writer = PdfWriter()
        self.metadata = {}
        for i, part in enumerate(parts):
            reader = PdfReader(part)
            if i == 0 and reader.metadata:
                self.metadata = dict(reader.metadata)
            self.writer.append(reader)

    def number(self, footers: Path) -> None:
        """Draw the footers' page i over page i."""
        over = PdfReader(footers)
        if len(over.pages) != len(self.writer.pages):
            raise ReportError(f"{footers.name}: {len(over.pages)} footers for {len(self.writer.pages)} pages")
        for page, footer in zip(self.writer.pages, over.pages, strict=True):
            page.merge_page(footer)
            page.compress_content_streams()  # merging decompressed them

    def write(self, path: Path) -> None:
        self.writer.add_metadata(self.metadata)
        with open(path, "wb") as fh:
            self.writer.write(fh)
