"""Quarto post-render step (``_quarto.yml`` -> ``project: post-render``), standard library only.

1. ICH E3 output numbers in the HTML. Every output's caption begins with its own number
   ("Table 14.2.5 Progression-free ..."); Quarto's HTML still prefixes its sequential book number
   ("Table 3.1: ") and prints that number in cross-references. This step removes the prefix and
   makes every cross-reference print the output's own number, taken from the target's caption,
   in the pages and in the search index. (The Typst PDF gets the same from _extensions/sar.)
2. No network at reading time. Quarto adds require.js and jQuery from a CDN to every page whose
   embedded notebook has an HTML output, for JavaScript widgets; the SAR's HTML outputs are
   plain tables with no scripts, so those three tags are removed and the pages open offline with
   no failed request.
3. An e-mailable copy: ``<book output file>-html.zip`` beside the PDF, holding the HTML site
   (pages, figures, styles, scripts) so it opens offline; entries in a fixed order with a fixed
   timestamp, so the same site gives the same bytes.
"""

from __future__ import annotations

import os
import re
import sys
import zipfile
from pathlib import Path

NUMBER = r"(?:Table|Figure|Listing)(?:&nbsp;|\s)[0-9A-Z]+(?:\.[0-9]+)*"
CAPTION = re.compile(r'(<figcaption[^>]*\bid="((?:tbl|fig)-[\w-]+?)-caption-[0-9a-f-]+"[^>]*>\s*)'
                     r"((?:Table|Figure)&nbsp;[0-9A-Z]+\.[0-9]+):\s*(" + NUMBER + r")")
CDN_WIDGET_SCRIPTS = re.compile(
    r'<script src="https://cdn\.jsdelivr\.net/npm/(?:requirejs|jquery)@[^"]*"[^>]*></script>\n?'
    r"|<script type=\"application/javascript\">define\('jquery', \[\],function\(\) \{return window\.jQuery;\}\)</script>\n?")
XREF = re.compile(r'(<a href="[^"]*#((?:tbl|fig)-[\w-]+)" class="quarto-xref"[^>]*>)(.*?)(</a>)', re.S)


def output_numbers(pages: list[Path]) -> tuple[dict[str, str], dict[str, str]]:
    """From the captions of every page: label -> "Table 14.2.5", and Quarto's book number
    ("Table 3.1") -> "Table 14.2.5"."""
    by_label, by_book = {}, {}
    for p in pages:
        for m in CAPTION.finditer(p.read_text(encoding="utf-8")):
            own = m.group(4).replace("&nbsp;", " ")
            by_label[m.group(2)] = own
            by_book[m.group(3).replace("&nbsp;", " ")] = own
    return by_label, by_book


def rewrite_search(text: str, by_book: dict[str, str]) -> str:
    """The search index holds plain text: drop caption prefixes, then swap book numbers."""
    for book, own in by_book.items():
        text = text.replace(f"{book}: {own}", own)
        text = re.sub(re.escape(book) + r"(?![0-9]|\.[0-9])", own, text)
    return text


def rewrite(text: str, numbers: dict[str, str]) -> str:
    text = CDN_WIDGET_SCRIPTS.sub("", text)
    text = CAPTION.sub(lambda m: m.group(1) + m.group(4), text)

    def ref(m):
        num = numbers.get(m.group(2))
        return m.group(1) + num.replace(" ", "&nbsp;") + m.group(4) if num else m.group(0)
    return XREF.sub(ref, text)


def zip_site(out: Path) -> Path | None:
    pdfs = sorted(out.glob("*.pdf"))
    stem = pdfs[0].stem if pdfs else _book_output_file()
    if not stem:
        return None
    target = out / f"{stem}-html.zip"
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.suffix not in (".pdf", ".zip"))
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for p in files:
            info = zipfile.ZipInfo(f"{stem}/{p.relative_to(out).as_posix()}", date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, p.read_bytes())
    return target


def _book_output_file() -> str | None:
    m = re.search(r'^\s*output-file:\s*"?([^"\n]+)"?', Path("_quarto.yml").read_text(encoding="utf-8"), re.M)
    return m.group(1).strip() if m else None


def main() -> int:
    out = Path(os.environ.get("QUARTO_PROJECT_OUTPUT_DIR", "_output/sar"))
    pages = sorted(out.rglob("*.html"))
    if not pages:           # a PDF-only render: nothing to rewrite, nothing to zip
        return 0
    by_label, by_book = output_numbers(pages)
    for p in pages:
        text = p.read_text(encoding="utf-8")
        new = rewrite(text, by_label)
        if new != text:
            p.write_text(new, encoding="utf-8")
    search = out / "search.json"
    if search.is_file():
        search.write_text(rewrite_search(search.read_text(encoding="utf-8"), by_book), encoding="utf-8")
    zip_site(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
