"""A tiny PNG line chart in pure Python (zlib + struct): axes, grid, up to eight series, numeric labels."""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence

Color = tuple[int, int, int]
Point = tuple[float, float]
PALETTE: tuple[Color, ...] = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189),
                              (140, 86, 75), (227, 119, 194), (23, 190, 207))
PALETTE_NAMES = ("blue", "red", "green", "orange", "purple", "brown", "pink", "cyan")
WHITE, INK, GRID = (255, 255, 255), (60, 60, 60), (225, 225, 225)
# 3x5 glyphs, one row per 3-bit number (most significant bit is the left pixel).
GLYPHS = {
    "0": (7, 5, 5, 5, 7), "1": (2, 6, 2, 2, 7), "2": (7, 1, 7, 4, 7), "3": (7, 1, 7, 1, 7), "4": (5, 5, 7, 1, 1),
    "5": (7, 4, 7, 1, 7), "6": (7, 4, 7, 5, 7), "7": (7, 1, 1, 1, 1), "8": (7, 5, 7, 5, 7), "9": (7, 5, 7, 1, 7),
    ".": (0, 0, 0, 0, 2), "-": (0, 0, 7, 0, 0), ":": (0, 2, 0, 2, 0), "+": (0, 2, 7, 2, 0), "e": (0, 7, 7, 4, 7),
    " ": (0, 0, 0, 0, 0), "k": (4, 5, 6, 5, 5), "M": (5, 7, 7, 5, 5), "G": (7, 4, 5, 5, 7),
}


class Canvas:
    """An RGB pixel buffer."""

    def __init__(self, width: int, height: int, background: Color = WHITE) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(background) * (width * height))

    def set(self, x: int, y: int, color: Color) -> None:
        """Paint one pixel (outside the canvas is ignored)."""
        if 0 <= x < self.width and 0 <= y < self.height:
            i = (y * self.width + x) * 3
            self.pixels[i:i + 3] = bytes(color)

    def get(self, x: int, y: int) -> Color:
        """The colour of one pixel."""
        i = (y * self.width + x) * 3
        return self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]

    def line(self, x0: int, y0: int, x1: int, y1: int, color: Color, thick: int = 1) -> None:
        """Bresenham's line, `thick` pixels wide."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            for ox in range(thick):
                for oy in range(thick):
                    self.set(x0 + ox, y0 + oy, color)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def text(self, x: int, y: int, text: str, color: Color = INK, scale: int = 2) -> None:
        """Draw text in the 3x5 font (characters without a glyph are skipped)."""
        for n, ch in enumerate(text):
            rows = GLYPHS.get(ch)
            if rows is None:
                continue
            for r, bits in enumerate(rows):
                for c in range(3):
                    if bits & (4 >> c):
                        for sx in range(scale):
                            for sy in range(scale):
                                self.set(x + n * 4 * scale + c * scale + sx, y + r * scale + sy, color)

    def png(self) -> bytes:
        """Encode as an 8-bit RGB PNG."""
        stride = self.width * 3
        raw = b"".join(b"\x00" + bytes(self.pixels[y * stride:(y + 1) * stride]) for y in range(self.height))
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + \
            _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def label(value: float) -> str:
    """A short number for an axis: 0.125, 1.5k, 2.3M, 1e-05."""
    if value == 0:
        return "0"
    mag = abs(value)
    if mag >= 1e9 or mag < 1e-3:
        return f"{value:.1e}".replace("e-0", "e-").replace("e+0", "e+")
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if mag >= div:
            return f"{value / div:.3g}{unit}"
    return f"{value:.4g}"


def line_chart(series: Sequence[Sequence[Point]], *, x_labels: tuple[str, str], width: int = 640,
               height: int = 260) -> bytes:
    """Plot series of (x, y) points (NaN or infinite y breaks the line) and return PNG bytes."""
    canvas = Canvas(width, height)
    left, right, top, bottom = 84, width - 16, 12, height - 28
    finite = [p for s in series for p in s if math.isfinite(p[1])]
    xs = [p[0] for s in series for p in s]
    x_lo, x_hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    y_lo, y_hi = (min(p[1] for p in finite), max(p[1] for p in finite)) if finite else (0.0, 1.0)
    if y_hi == y_lo:
        y_lo, y_hi = y_lo - (abs(y_lo) * 0.1 or 1.0), y_hi + (abs(y_hi) * 0.1 or 1.0)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1

    def px(x: float) -> int:
        return left + round((x - x_lo) / (x_hi - x_lo) * (right - left))

    def py(y: float) -> int:
        return bottom - round((y - y_lo) / (y_hi - y_lo) * (bottom - top))

    for i in range(5):
        gy = top + round(i * (bottom - top) / 4)
        canvas.line(left, gy, right, gy, GRID)
        canvas.text(4, gy - 5, label(y_hi - i * (y_hi - y_lo) / 4)[:10])
    canvas.line(left, top, left, bottom, INK)
    canvas.line(left, bottom, right, bottom, INK)
    canvas.text(left, bottom + 10, x_labels[0])
    canvas.text(right - len(x_labels[1]) * 8, bottom + 10, x_labels[1])
    for n, points in enumerate(series[:len(PALETTE)]):
        color, prev = PALETTE[n], None
        for x, y in points:
            if not math.isfinite(y):
                prev = None
                continue
            here = (px(x), py(y))
            if prev is not None:
                canvas.line(prev[0], prev[1], here[0], here[1], color, thick=2)
            else:
                canvas.line(here[0], here[1], here[0], here[1], color, thick=2)
            prev = here
    return canvas.png()
