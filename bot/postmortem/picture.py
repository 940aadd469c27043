"""A tiny vector picture: lines, boxes, dots and text, written as SVG text or painted as PNG with Pillow.

Text is measured with the font the PNG is painted with (Pillow's bundled FreeType font, so no system font is read):
a layout that keeps measured texts apart keeps them apart in the PNG, and in the SVG, where a text given a `fit`
width is drawn to exactly that width whatever font the viewer has. The PNG is the same bytes on every run for the
same picture and Pillow (drawing and zlib are deterministic; no time or metadata is written).
"""

from __future__ import annotations

import io
import math
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from xml.sax.saxutils import escape, quoteattr

FONT = "Helvetica, Arial, sans-serif"


@dataclass(frozen=True)
class Line:
    """A straight line."""

    x1: int
    y1: int
    x2: int
    y2: int
    colour: str
    width: int = 1
    dashed: bool = False


@dataclass(frozen=True)
class Box:
    """A filled rectangle."""

    x: int
    y: int
    w: int
    h: int
    colour: str


@dataclass(frozen=True)
class Dot:
    """A filled circle."""

    x: int
    y: int
    r: int
    colour: str


@dataclass(frozen=True)
class Text:
    """A line of text; y is its baseline, anchor is start, middle or end."""

    x: int
    y: int
    text: str
    size: int = 12
    colour: str = "#1b2631"
    anchor: str = "start"
    bold: bool = False
    fit: int | None = None  # the measured width: the SVG draws the text to exactly this width


Shape = Line | Box | Dot | Text


@dataclass
class Picture:
    """Shapes on a canvas, drawn in order."""

    width: int
    height: int
    shapes: list[Shape] = field(default_factory=list)


def svg(pic: Picture) -> str:
    """The picture as a standalone SVG document."""
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{pic.width}" height="{pic.height}" '
           f'viewBox="0 0 {pic.width} {pic.height}" font-family="{FONT}">',
           f'<rect width="{pic.width}" height="{pic.height}" fill="#ffffff"/>']
    for s in pic.shapes:
        if isinstance(s, Line):
            dash = ' stroke-dasharray="4 3"' if s.dashed else ""
            out.append(f'<line x1="{s.x1}" y1="{s.y1}" x2="{s.x2}" y2="{s.y2}" stroke="{s.colour}" '
                       f'stroke-width="{s.width}"{dash}/>')
        elif isinstance(s, Box):
            out.append(f'<rect x="{s.x}" y="{s.y}" width="{s.w}" height="{s.h}" fill="{s.colour}"/>')
        elif isinstance(s, Dot):
            out.append(f'<circle cx="{s.x}" cy="{s.y}" r="{s.r}" fill="{s.colour}"/>')
        else:
            weight = ' font-weight="bold"' if s.bold else ""
            fit = f' textLength="{s.fit}" lengthAdjust="spacingAndGlyphs"' if s.fit is not None else ""
            out.append(f'<text x="{s.x}" y="{s.y}" font-size="{s.size}" fill="{s.colour}" '
                       f'text-anchor={quoteattr(s.anchor)}{weight}{fit}>{escape(s.text)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


SCALE = 2


@cache
def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


_PAINT = str.maketrans({"→": "->", "—": "-", "–": "-", "★": "*", "↳": ">"})


def painted(text: str) -> str:
    """The text as the PNG paints it: Pillow's bundled font has no arrows or dashes and no accented letters, so
    those become their plain forms (`é` → `e`); the SVG keeps every character."""
    text = text.translate(_PAINT)
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def measure(text: str, size: int, *, bold: bool = False) -> int:
    """The width of a text in picture units, as the PNG paints it at its scale (bold strokes add a unit)."""
    width: float = _font(size * SCALE).getlength(painted(text))
    return math.ceil(width / SCALE) + (1 if bold else 0)


def png(pic: Picture, *, scale: int = SCALE) -> bytes:
    """The same picture as PNG bytes (Pillow; no browser and no system libraries needed)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (pic.width * scale, pic.height * scale), "#ffffff")
    draw = ImageDraw.Draw(image)
    anchors = {"start": "ls", "middle": "ms", "end": "rs"}
    for s in pic.shapes:
        if isinstance(s, Line):
            if s.dashed:
                length = max(abs(s.y2 - s.y1), abs(s.x2 - s.x1))
                for d in range(0, length, 7):
                    f0, f1 = d / length, min(d + 4, length) / length
                    draw.line([((s.x1 + (s.x2 - s.x1) * f0) * scale, (s.y1 + (s.y2 - s.y1) * f0) * scale),
                               ((s.x1 + (s.x2 - s.x1) * f1) * scale, (s.y1 + (s.y2 - s.y1) * f1) * scale)],
                              fill=s.colour, width=s.width * scale)
            else:
                draw.line([(s.x1 * scale, s.y1 * scale), (s.x2 * scale, s.y2 * scale)], fill=s.colour,
                          width=s.width * scale)
        elif isinstance(s, Box):
            draw.rectangle([s.x * scale, s.y * scale, (s.x + s.w) * scale, (s.y + s.h) * scale], fill=s.colour)
        elif isinstance(s, Dot):
            draw.ellipse([(s.x - s.r) * scale, (s.y - s.r) * scale, (s.x + s.r) * scale, (s.y + s.r) * scale],
                         fill=s.colour)
        else:
            font = _font(s.size * scale)
            draw.text((s.x * scale, s.y * scale), painted(s.text), fill=s.colour, font=font,
                      anchor=anchors[s.anchor], stroke_width=1 if s.bold else 0, stroke_fill=s.colour)
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=6)  # zlib at a fixed level: the same bytes every run
    return buf.getvalue()
