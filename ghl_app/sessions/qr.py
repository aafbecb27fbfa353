"""QR codes as the page shows them: the raw code, a server-rendered SVG, and an expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import qrcode
from qrcode.image.svg import SvgPathImage


@dataclass(frozen=True, slots=True)
class QrCode:
    code: str
    svg: str
    expires_at: datetime

    def to_dict(self) -> dict[str, str]:
        """The contract's `QR` shape."""
        return {"code": self.code, "svg": self.svg, "expires_at": self.expires_at.isoformat()}


def render_svg(code: str) -> str:
    """One `<svg>` element with a single path: small, scalable, no external resources.

    Error correction M and a 4-module border are what phone scanners expect of WhatsApp codes.
    """
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=4,
        image_factory=SvgPathImage,
    )
    qr.add_data(code)
    qr.make(fit=True)
    image = qr.make_image()
    svg = image.to_string(encoding="unicode")
    assert isinstance(svg, str)
    # Drop the XML declaration so the SVG can go straight into the page's DOM.
    if svg.startswith("<?xml"):
        svg = svg[svg.index("?>") + 2 :].lstrip()
    return svg


def qr_code(code: str, expires_at: datetime) -> QrCode:
    return QrCode(code=code, svg=render_svg(code), expires_at=expires_at)
