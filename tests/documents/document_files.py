"""Small real files made on the spot: PNG and JPEG by Pillow, PDF by fpdf2."""

from __future__ import annotations

import io


def png_bytes(size: tuple[int, int] = (8, 8), color: str = "red") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buf, format="JPEG")
    return buf.getvalue()


def pdf_bytes(text: str = "Payslip March") -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(0, 10, text)
    return bytes(pdf.output())


def active_pdf_bytes(text: str = "Payslip April") -> bytes:
    """A real one-page PDF that also acts on its own: JavaScript run on opening (/OpenAction) and from the
    document-level name tree, a page action (/AA), a link that launches a program, an embedded executable and a
    file-attachment annotation — what a hostile "payslip" carries."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, DictionaryObject, FloatObject, NameObject, TextStringObject

    def name(n: str) -> NameObject:
        return NameObject(n)

    w = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(text))))

    def js(code: str) -> object:
        return w._add_object(DictionaryObject({name("/Type"): name("/Action"), name("/S"): name("/JavaScript"),
                                               name("/JS"): TextStringObject(code)}))

    w.root_object[name("/OpenAction")] = js("app.alert('opened');")
    w.root_object[name("/Names")] = DictionaryObject({name("/JavaScript"): DictionaryObject(
        {name("/Names"): ArrayObject([TextStringObject("init"), js("app.alert('name tree');")])})})
    page = w.pages[0]
    page[name("/AA")] = DictionaryObject({name("/O"): js("app.alert('page');")})
    rect = ArrayObject([FloatObject(10), FloatObject(10), FloatObject(60), FloatObject(60)])
    launch = DictionaryObject({name("/Type"): name("/Annot"), name("/Subtype"): name("/Link"), name("/Rect"): rect,
                               name("/A"): DictionaryObject({name("/S"): name("/Launch"),
                                                             name("/F"): TextStringObject("cmd.exe")})})
    attachment = DictionaryObject({name("/Type"): name("/Annot"), name("/Subtype"): name("/FileAttachment"),
                                   name("/Rect"): rect})
    page[name("/Annots")] = ArrayObject([w._add_object(launch), w._add_object(attachment)])
    w.add_attachment("payload.exe", b"MZ\x90\x00 not really a program")
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()
