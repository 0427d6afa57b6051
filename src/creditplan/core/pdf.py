"""PDF documents with fpdf2: Latin text in Helvetica (so it stays searchable as plain text), anything else in a
CJK font — or, without one, with the characters Helvetica cannot show replaced by '?'. The statement of account
(loans.statement) and the loan contract (documents.contract_pdf) are built on `PdfDocument`.
"""

from __future__ import annotations

import functools
import glob
import os

_FONT_GLOBS = ("/usr/share/fonts/**/NotoSansCJK-Regular.ttc", "/usr/share/fonts/**/NotoSansCJK*.ttc",
               "/usr/share/fonts/**/NotoSansSC-Regular.*", "/usr/share/fonts/**/NotoSerifCJK-Regular.ttc",
               "/usr/share/fonts/**/wqy-microhei.ttc", "/usr/share/fonts/**/wqy-zenhei.ttc",
               "/usr/share/fonts/**/DroidSansFallback*.ttf")


@functools.lru_cache(maxsize=1)
def cjk_font() -> tuple[str, int] | None:
    """(path, index in the collection) of a font with simplified Chinese, or None: fonts-noto-cjk where
    installed (scripts/install-system-deps.sh); CREDITPLAN_PDF_FONT names another file."""
    configured = os.environ.get("CREDITPLAN_PDF_FONT", "")
    candidates = [configured] if configured and os.path.isfile(configured) else []
    for pattern in _FONT_GLOBS:
        candidates += sorted(glob.glob(pattern, recursive=True))
    for path in candidates:
        try:
            return path, _simplified_chinese_index(path)
        except Exception:  # noqa: BLE001 - an unreadable font is skipped, the next one tried
            continue
    return None


def _simplified_chinese_index(path: str) -> int:
    """In a TrueType/OpenType collection, the face for simplified Chinese ("SC"); 0 for a single font."""
    if not path.lower().endswith(".ttc"):
        return 0
    from fontTools.ttLib import TTCollection

    faces = TTCollection(path, lazy=True).fonts
    for i, face in enumerate(faces):
        name = str(face["name"].getDebugName(4) or "")
        if " SC" in name and "Mono" not in name:
            return i
    return 0


def latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


class PdfDocument:
    """An A4 fpdf2 document with the fonts set up. `font` is `cjk_font()`'s answer, passed in by the caller so
    that a caller (or a test) can choose to go without."""

    def __init__(self, title: str, *, orientation: str, margin: float, font: tuple[str, int] | None) -> None:
        from fpdf import FPDF

        self.pdf = FPDF(orientation=orientation, unit="mm", format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=margin)
        self.pdf.set_margins(margin, margin, margin)
        self.pdf.set_title(title)
        self.pdf.set_creator("creditplan")
        self.cjk = False
        if font is not None:
            try:
                self.pdf.add_font("cjk", fname=font[0], collection_font_number=font[1])
                self.cjk = True
            except Exception:  # noqa: BLE001 - a font fpdf2 cannot read: fall back to Latin only
                self.cjk = False
        self.pdf.add_page()

    def font(self, text: str, size: float, bold: bool) -> str:
        """Select the font for `text` and return the text as it can be printed."""
        if latin1(text):
            self.pdf.set_font("helvetica", "B" if bold else "", size)
            return text
        if self.cjk:
            self.pdf.set_font("cjk", "", size)
            return text
        self.pdf.set_font("helvetica", "B" if bold else "", size)
        return text.encode("latin-1", "replace").decode("latin-1")
