"""Small documents for the demo desk and the tests, made here with Pillow and the standard library (nothing is
downloaded): a screenshot (PNG), a photo (JPEG carrying EXIF metadata), a one-page PDF, a plain-text note and an
email with a plain and an HTML part."""

from __future__ import annotations

import io
from email.message import EmailMessage


def screenshot_png(text: str = "Error 503: service unavailable", size: tuple[int, int] = (640, 360)) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, (245, 246, 250))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, size[0], 36], fill=(52, 73, 94))
    draw.text((12, 12), "Customer portal", fill=(255, 255, 255))
    draw.rectangle([40, 90, size[0] - 40, 200], outline=(200, 40, 40), width=3)
    draw.text((60, 130), text, fill=(200, 40, 40))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def photo_jpeg(size: tuple[int, int] = (320, 240)) -> bytes:
    """A JPEG with EXIF (camera and GPS-like text): what re-encoding must strip."""
    from PIL import Image

    img = Image.new("RGB", size, (90, 140, 200))
    exif = Image.Exif()
    exif[0x010F] = "DemoCam"  # Make
    exif[0x0131] = "secret-location 51.5N 0.1W"  # Software (stands in for metadata that must not leak)
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif, quality=85)
    return out.getvalue()


def invoice_pdf(title: str = "Invoice INV-1042") -> bytes:
    from PIL import Image, ImageDraw

    page = Image.new("RGB", (595, 842), "white")
    draw = ImageDraw.Draw(page)
    draw.text((60, 60), title, fill="black")
    draw.text((60, 100), "Online service, monthly plan", fill="black")
    draw.line([60, 130, 535, 130], fill="black")
    out = io.BytesIO()
    page.save(out, format="PDF", resolution=72)
    return out.getvalue()


def note_text() -> bytes:
    return b"Call log 12 Nov: customer reported the outage at 09:40; ticket #5521.\n"


def complaint_email(name: str = "Ada Customer", address: str = "ada@example.com") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{name} <{address}>"
    msg["To"] = "support@example.com"
    msg["Subject"] = "Refund request: the service never worked"
    msg["Date"] = "Tue, 10 Nov 2026 09:12:00 +0000"
    msg["Message-ID"] = "<demo-1@example.com>"
    msg.set_content("Hello,\n\nThe service stopped working on day two. Please refund me.\n\nAda\n")
    msg.add_alternative(
        '<p>Hello,</p><p>The service <img src="https://tracker.example/pixel.gif">stopped working.</p>',
        subtype="html",
    )
    return msg.as_bytes()


def demo_set() -> list[tuple[str, bytes]]:
    """The files the demo desk attaches: (file name, bytes)."""
    return [
        ("portal-error.png", screenshot_png()),
        ("complaint.eml", complaint_email()),
        ("invoice.pdf", invoice_pdf()),
        ("call-log.txt", note_text()),
    ]
