#!/usr/bin/env python3
"""Draws the app's icons (public/icons/): the favicon's speech bubble, white on the accent
blue, as PNGs at the sizes a web app manifest wants, and the same as SVG.

Standard library only (the PNG is written by hand), so that anyone can run it again:
    python3 scripts/icons.py
"""

import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "public" / "icons"
BLUE = (0x30, 0x56, 0xD3)
WHITE = (0xFF, 0xFF, 0xFF)
SAMPLES = 4  # per axis, per pixel: the edges are smoothed


def in_bubble(x, y):
    """Whether (x, y), in the favicon's 32-unit box, is inside the bubble: a rectangle from
    (4, 2) to (28, 22) with corners of radius 4, and a tail from (6, 22) down to (6, 28)."""
    if 4 <= x <= 28 and 2 <= y <= 22:
        r = 4.0
        cx = min(max(x, 4 + r), 28 - r)
        cy = min(max(y, 2 + r), 22 - r)
        if (x - cx) ** 2 + (y - cy) ** 2 <= r * r:
            return True
    # The tail: the triangle (6, 22), (13, 22), (6, 28).
    return x >= 6 and y >= 22 and (x - 6) / 7 + (y - 22) / 6 <= 1


def draw(size, bubble_span, rounded):
    """RGBA rows: the bubble, `bubble_span` of the icon wide, centred on a blue square
    (with rounded corners unless it must fill the whole square, as a maskable icon must)."""
    scale = 32 / (size * bubble_span)  # icon pixels to bubble units
    offset_x = 16 - size / 2 * scale  # the bubble's box (4..28, 2..28) centred
    offset_y = 15 - size / 2 * scale
    corner = size * 0.18
    rows = []
    n = SAMPLES * SAMPLES
    for py in range(size):
        row = bytearray()
        for px in range(size):
            inside = background = 0
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x = px + (sx + 0.5) / SAMPLES
                    y = py + (sy + 0.5) / SAMPLES
                    if rounded and not in_square(x, y, size, corner):
                        continue
                    background += 1
                    if in_bubble(offset_x + x * scale, offset_y + y * scale):
                        inside += 1
            alpha = background / n
            if background == 0:
                row += bytes(4)
                continue
            t = inside / background
            colour = [round(b + (w - b) * t) for b, w in zip(BLUE, WHITE)]
            row += bytes(colour + [round(alpha * 255)])
        rows.append(bytes(row))
    return rows


def in_square(x, y, size, r):
    cx = min(max(x, r), size - r)
    cy = min(max(y, r), size - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def png(rows, size):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
<rect width="32" height="32" rx="5.76" fill="#3056d3"/>
<path fill="#fff" transform="translate(16 15) scale(0.62) translate(-16 -15)" d="M4 6a4 4 0 0 1 4-4h16a4 4 0 0 1 4 4v12a4 4 0 0 1-4 4H13l-7 6v-6H8a4 4 0 0 1-4-4z"/>
</svg>
"""


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    # "any": the bubble at 62% of the icon; maskable: within the central safe circle (80%).
    for name, size, span, rounded in [
        ("icon-192.png", 192, 0.62, True),
        ("icon-512.png", 512, 0.62, True),
        ("maskable-512.png", 512, 0.5, False),
        ("apple-touch-icon.png", 180, 0.6, False),
    ]:
        (OUT / name).write_bytes(png(draw(size, span, rounded), size))
    (OUT / "icon.svg").write_text(SVG)


if __name__ == "__main__":
    main()
