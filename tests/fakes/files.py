"""Files for tests: PDFs with real text in them (quick, slow, locked) and a PNG, built here from scratch."""

from __future__ import annotations

import io
import struct
import zlib


def pdf_with_text(text: str) -> bytes:
    """A one-page PDF whose page shows `text` in Helvetica (offsets in the xref table computed)."""
    return pdf_pages([f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()])


def slow_pdf(pages: int = 15, moves: int = 20_000, text: str = "page") -> bytes:
    """A small PDF that is slow to read: each page after the first shows "<text> N" and then moves its text
    matrix `moves` times, compressed to a few hundred bytes (~1 s of pypdf per page at 20,000 moves).
    The first page is quick, so something is always read."""
    streams = []
    for number in range(1, pages + 1):
        body = f"BT /F1 12 Tf 72 720 Td ({text} {number}) Tj ET\n".encode()
        if number > 1:
            body += b"BT " + b"1 0 0 1 0 0 Tm " * moves + b"ET\n"
        streams.append(body)
    return pdf_pages(streams, compress=True)


def pdf_pages(streams: list[bytes], *, compress: bool = False) -> bytes:
    """A PDF with one page per content stream (Helvetica as /F1), Flate-compressed when `compress`."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for stream in streams:
        data = zlib.compress(stream, 9) if compress else stream
        flate = b" /Filter /FlateDecode" if compress else b""
        objects.append(b"<< /Length %d%s >>\nstream\n" % (len(data), flate) + data + b"\nendstream")
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 3 0 R >> >> >>" % len(objects))
        kids.append(len(objects))
    objects[1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
                  + b"] /Count %d >>" % len(kids))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def locked_pdf(text: str, *, user_password: str = "", owner_password: str = "owner-secret") -> bytes:
    """`pdf_with_text(text)` encrypted (RC4-128): with an empty user password it opens in any viewer."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_with_text(text))))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def tiny_png() -> bytes:
    """A 1×1 red PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
