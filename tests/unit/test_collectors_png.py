"""The pure-Python PNG chart: a valid image whose pixels show the data."""

from __future__ import annotations

import math
import struct
import zlib

from bot.collectors.png import PALETTE, WHITE, Canvas, label, line_chart


def png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Decode our own PNG (8-bit RGB, filter 0 rows) back to raw pixels, checking every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    kinds = []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        kinds.append(kind)
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert (depth, color) == (8, 2)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    raw = zlib.decompress(idat)
    stride = width * 3 + 1
    assert len(raw) == stride * height and all(raw[y * stride] == 0 for y in range(height))
    return width, height, b"".join(raw[y * stride + 1:(y + 1) * stride] for y in range(height))


def pixel(pixels: bytes, width: int, x: int, y: int) -> tuple[int, int, int]:
    i = (y * width + x) * 3
    return pixels[i], pixels[i + 1], pixels[i + 2]


def test_canvas_round_trips_through_png() -> None:
    c = Canvas(5, 3)
    c.set(1, 2, (1, 2, 3))
    c.line(0, 0, 4, 0, (9, 9, 9))
    width, height, pixels = png_pixels(c.png())
    assert (width, height) == (5, 3)
    assert pixel(pixels, 5, 1, 2) == (1, 2, 3) and pixel(pixels, 4, 0, 0) == (9, 9, 9)
    assert pixel(pixels, 5, 3, 1) == WHITE


def test_a_rising_series_is_drawn_from_bottom_left_to_top_right() -> None:
    width, height, pixels = png_pixels(line_chart([[(t, float(t)) for t in range(100)]], x_labels=("00:00", "01:40")))
    blue = PALETTE[0]
    drawn = [(x, y) for y in range(height) for x in range(width) if pixel(pixels, width, x, y) == blue]
    assert drawn
    left, right = min(drawn), max(drawn)
    assert left[1] > right[1]  # y grows downwards: the left end is lower on the picture


def test_gaps_break_the_line_and_two_series_get_two_colours() -> None:
    flat = [(t, 1.0) for t in range(10)]
    gap = [(t, math.nan if 3 <= t <= 6 else 2.0) for t in range(10)]
    width, height, pixels = png_pixels(line_chart([flat, gap], x_labels=("a", "b")))
    colours = {pixel(pixels, width, x, y) for y in range(height) for x in range(width)}
    assert PALETTE[0] in colours and PALETTE[1] in colours
    red_columns = sorted({x for y in range(height) for x in range(width) if pixel(pixels, width, x, y) == PALETTE[1]})
    assert any(b - a > 100 for a, b in zip(red_columns, red_columns[1:], strict=False))


def test_axis_labels_are_short() -> None:
    assert [label(v) for v in (0, 0.125, 1500, 2_300_000, 0.00001, -42.0)] == [
        "0", "0.125", "1.5k", "2.3M", "1.0e-5", "-42"]
