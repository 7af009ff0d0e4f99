"""Draw the app's icons into static/: an envelope with an outgoing arrow, in four PNGs.

    python tools/make_icons.py            write static/appIcon.png, appIcon_2x.png, appIconAlt.png, appIconAlt_2x.png
    python tools/make_icons.py --check    exit 1 if the committed icons differ from what this draws

Splunk shows appIcon (36x36, 72x72 for high-density screens) on the Apps page and the
launcher, and appIconAlt on dark backgrounds such as the app bar. Drawn with the standard
library only (zlib and struct write the PNG), so the icons are reproducible from source:
the same script gives the same bytes.
"""

import argparse
import os
import struct
import sys
import zlib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATIC = os.path.join(REPO, "static")

TILE = (22, 62, 107)        # dark blue tile behind the envelope on appIcon
INK = (255, 255, 255)       # the envelope
ARROW = (242, 140, 40)      # the mail leaving: orange
SUPERSAMPLE = 4             # samples per pixel side, for smooth edges

# (file name, size in pixels, drawn on a tile?)
ICONS = (("appIcon.png", 36, True), ("appIcon_2x.png", 72, True),
         ("appIconAlt.png", 36, False), ("appIconAlt_2x.png", 72, False))


def _segment_distance(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return ((px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2) ** 0.5


def _in_rounded_square(x, y, radius=0.18):
    cx, cy = min(max(x, radius), 1 - radius), min(max(y, radius), 1 - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2


def _in_triangle(x, y, a, b, c):
    def side(p, q):
        return (x - q[0]) * (p[1] - q[1]) - (p[0] - q[0]) * (y - q[1])
    d1, d2, d3 = side(a, b), side(b, c), side(c, a)
    return not ((d1 < 0 or d2 < 0 or d3 < 0) and (d1 > 0 or d2 > 0 or d3 > 0))


# The drawing, in unit coordinates (0..1, y down).
ENVELOPE = ((0.16, 0.22), (0.84, 0.22), (0.84, 0.66), (0.16, 0.66))
FLAP = ((0.16, 0.22), (0.50, 0.48), (0.84, 0.22))
STROKE = 0.035               # half the line width
ARROW_SHAFT = ((0.46, 0.81), (0.78, 0.81))
ARROW_HEAD = ((0.74, 0.69), (0.94, 0.81), (0.74, 0.93))


def _shape_at(x, y):
    """The colour of the drawing at one point, or None where it is transparent."""
    if _in_triangle(x, y, *ARROW_HEAD) or _segment_distance(x, y, *ARROW_SHAFT[0], *ARROW_SHAFT[1]) <= 0.05:
        return ARROW
    outline = list(zip(ENVELOPE, ENVELOPE[1:] + ENVELOPE[:1])) + list(zip(FLAP, FLAP[1:]))
    if any(_segment_distance(x, y, *a, *b) <= STROKE for a, b in outline):
        return INK
    return None


def draw(size, tiled):
    """RGBA rows of one icon, `size` pixels square."""
    rows = []
    samples = SUPERSAMPLE * SUPERSAMPLE
    for row in range(size):
        pixels = bytearray()
        for column in range(size):
            red = green = blue = covered = 0
            for sy in range(SUPERSAMPLE):
                for sx in range(SUPERSAMPLE):
                    x = (column + (sx + 0.5) / SUPERSAMPLE) / size
                    y = (row + (sy + 0.5) / SUPERSAMPLE) / size
                    colour = _shape_at(x, y)
                    if colour is None and tiled and _in_rounded_square(x, y):
                        colour = TILE
                    if colour is not None:
                        red, green, blue, covered = red + colour[0], green + colour[1], blue + colour[2], covered + 1
            if covered:
                pixels += bytes((red // covered, green // covered, blue // covered, 255 * covered // samples))
            else:
                pixels += bytes(4)
        rows.append(bytes(pixels))
    return rows


def png_bytes(rows):
    """A PNG file (8-bit RGBA, no filtering) of equally long RGBA rows."""
    width, height = len(rows[0]) // 4, len(rows)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    image = zlib.compress(b"".join(b"\x00" + row for row in rows), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", image) + chunk(b"IEND", b"")


def icons():
    """{file name: PNG bytes} of every icon."""
    return {name: png_bytes(draw(size, tiled)) for name, size, tiled in ICONS}


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a committed icon in static/ differs from what this draws")
    parser.add_argument("--out", default=STATIC, help="folder to write the icons to (default: static/)")
    return parser


def main():
    options = build_parser().parse_args()
    stale = []
    for name, data in icons().items():
        path = os.path.join(options.out, name)
        if options.check:
            if not os.path.exists(path) or open(path, "rb").read() != data:
                stale.append(path)
            continue
        os.makedirs(options.out, exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
        print("wrote %s (%d bytes)" % (path, len(data)))
    if stale:
        print("differ from tools/make_icons.py: %s" % ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
