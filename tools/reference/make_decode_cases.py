"""Writes Blip.Engine.Tests/Fixtures/images/decode_cases.json: small files on which Skia (under ImageDecoder) once
disagreed with Pillow, found by a differential fuzz of the decoder, each with what Pillow's
Image.open(...).convert("RGB") makes of it: the SHA-256 of the RGB bytes (HWC uint8), or the exception it raised.
The files are stored whole (base64; none is over a few hundred bytes) and ImageDecodeCaseTests decodes them.

Run from the repository root:  tools/reference/py tools/reference/make_decode_cases.py   (byte-identical reruns)

  wbmp_*        a WBMP, which Skia reads and Pillow cannot identify.
  bmp_*         layouts Pillow refuses (2-bit pixels, BI_JPEG/BI_ALPHABITFIELDS compression, a palette of more than
                65536 entries, 32-bit bit fields other than its eight), 32-bit bit fields that are all zero (Pillow: BGRA),
                palettes Pillow takes for gray and then reads with mode "1" or "L"'s raw layout whatever the bit depth
                (an 8- or 4-bit bitmap with a black-and-white palette is read as 1-bit rows, a 4-bit one with a gray
                palette as 8-bit rows or refused, an index past an "L" palette is its own gray level), and files that
                stop inside the last row's padding (Pillow's raw decoder does without it).
  webp_*        a WebP cut by one byte, or whose RIFF size says more than the file has: libwebp's demuxer, which Pillow
                uses, refuses both; and one with bytes after its RIFF payload, which it ignores.
  png_*         a bad CRC in an ancillary chunk before the image data (Pillow refuses; libpng only warns) and after it
                (neither cares), a chunk type that is not four word characters, and a 16-bit gray PNG missing its IEND or
                part of its last CRC (Pillow reads the rows it needs).
  ico_*         an ICO whose largest image is cut off: Pillow refuses it, Skia decoded the smaller one.
"""
import base64
import io
import os
import re
import struct
import sys
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_bmp_cases import pillow  # noqa: E402  (Pillow's decode SHA-256 or its exception)
from make_image_fixtures import png_raw  # noqa: E402  (the hand-written PNG writer the image fixtures use)
from make_resample_cases import write_cases  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "Blip.Engine.Tests", "Fixtures", "images", "decode_cases.json")


def pixels(w, h, c, seed):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c)).astype(np.uint8)


def bmp(w, h, bits, rows, palette=(), compression=0, masks=None, header=40, top_down=False, colors=None):
    """A BMP: rows are the stored bytes of each row from the top (padded here to 4 bytes), palette (r, g, b)
    entries; a 40-byte header is followed by three masks, a V5 header holds four."""
    stride = (w * bits + 31) // 32 * 4
    data = b"".join(r.ljust(stride, b"\0") for r in (rows if top_down else rows[::-1]))
    pal = b"".join(bytes([b, g, r, 0]) for r, g, b in palette)
    info = struct.pack("<IiiHHIIiiII", header, w, -h if top_down else h, 1, bits, compression, len(data), 2835, 2835,
                       len(palette) if colors is None else colors, 0)
    if header == 40 and masks:
        info += struct.pack("<III", *masks[:3])
    elif header == 124:
        info += struct.pack("<IIII", *(masks or (0, 0, 0, 0))) + bytes(124 - 56)
    offset = 14 + len(info) + len(pal)
    return b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset) + info + pal + data


def packed(indices, bits):
    """A row of palette indices packed MSB first."""
    return np.packbits(np.unpackbits(np.asarray(indices, np.uint8)[:, None], axis=1)[:, 8 - bits:].reshape(-1)).tobytes()


def bmp_cases():
    rgb32 = [pixels(3, 1, 4, 1 + y).tobytes() for y in range(2)]
    bw = [(0, 0, 0), (255, 255, 255)]
    gray16 = [(i, i, i) for i in range(16)]
    idx8 = [pixels(13, 1, 1, 10 + y).tobytes() for y in range(3)]
    yield "bmp_2bit", bmp(5, 2, 2, [packed([0, 1, 2, 3, 1], 2)] * 2, [(9, 9, 9), (80, 0, 0), (0, 90, 0), (0, 0, 99)])
    yield "bmp_compression_jpeg", bmp(2, 2, 24, [pixels(2, 1, 3, 3).tobytes()] * 2, compression=4)
    yield "bmp_compression_alphabitfields", bmp(2, 2, 32, rgb32, compression=6, masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000), header=124)
    yield "bmp_palette_70000_entries", bmp(2, 1, 8, [bytes([0, 1])], [(1, 2, 3), (4, 5, 6)], colors=70000)
    yield "bmp32_bitfields_rgb_refused", bmp(3, 2, 32, rgb32, compression=3, masks=(0xFF, 0xFF00, 0xFF0000))
    yield "bmp32_bitfields_10bit_refused", bmp(3, 2, 32, rgb32, compression=3, masks=(0x3FF00000, 0xFFC00, 0x3FF))
    yield "bmp32_bitfields_zero_v5", bmp(3, 2, 32, rgb32, compression=3, masks=(0, 0, 0, 0), header=124)
    yield "bmp8_black_white_palette", bmp(13, 3, 8, [bytes(r) for r in idx8], bw)
    yield "bmp4_black_white_palette", bmp(7, 2, 4, [packed([0, 1, 1, 0, 1, 0, 1], 4), packed([1, 0, 9, 15, 3, 0, 0], 4)], bw)
    yield "bmp4_gray_palette_4wide", bmp(4, 2, 4, [packed([0, 5, 10, 15], 4), packed([15, 3, 2, 1], 4)], gray16)
    yield "bmp4_gray_palette_9wide_refused", bmp(9, 2, 4, [packed(list(range(9)), 4)] * 2, gray16)
    yield "bmp8_gray_palette_past_end", bmp(13, 3, 8, [bytes(r) for r in idx8], gray16)
    whole24 = bmp(5, 3, 24, [pixels(5, 1, 3, 20 + y).tobytes() for y in range(3)])  # rows of 15 bytes + 1 padding
    yield "bmp24_no_last_padding", whole24[:-1]
    yield "bmp24_last_row_cut", whole24[:-2]
    whole8 = bmp(6, 2, 8, [bytes(range(y, y + 6)) for y in range(2)], [(i, 255 - i, i // 2) for i in range(8)], top_down=True)
    yield "bmp8_top_down_no_last_padding", whole8[:-2]
    yield "bmp8_top_down_last_row_cut", whole8[:-3]


def webp_cases():
    b = io.BytesIO()
    Image.fromarray(pixels(3, 3, 3, 30)).save(b, "WEBP", quality=80, method=5)
    webp = b.getvalue()
    yield "webp_whole", webp
    yield "webp_cut_by_one_byte", webp[:-1]
    yield "webp_riff_size_too_big", webp[:4] + struct.pack("<I", len(webp)) + webp[8:]
    yield "webp_trailing_bytes", webp + b"\0\0\0\0"


def png_cases():
    def chunk(tag, data, crc=None):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) if crc is None else crc)
    path = os.path.join(os.path.dirname(OUT), "_decode_case.png")
    png_raw(path, pixels(4, 3, 3, 40), 8, 2)
    with open(path, "rb") as f:
        rgb = f.read()
    png_raw(path, np.random.default_rng(41).integers(0, 600, (3, 5)).astype(np.uint16), 16, 0)
    with open(path, "rb") as f:
        gray16 = f.read()
    os.remove(path)
    ihdr_end = 8 + 25
    gama = chunk(b"gAMA", struct.pack(">I", 45455), crc=0)
    yield "png_bad_crc_before_image_data", rgb[:ihdr_end] + gama + rgb[ihdr_end:]
    yield "png_bad_crc_after_image_data", rgb[:-12] + chunk(b"tEXt", b"a\0b", crc=0) + rgb[-12:]
    yield "png_chunk_type_not_letters", rgb[:ihdr_end] + chunk(b"g-MA", b"1234") + rgb[ihdr_end:]
    yield "png_gray16_no_iend", gray16[:-12]
    yield "png_gray16_idat_crc_cut", gray16[:-14]


def ico_cases():
    b = io.BytesIO()
    Image.fromarray(pixels(32, 32, 4, 50), "RGBA").save(b, "ICO", sizes=[(16, 16), (32, 32)])
    ico = b.getvalue()
    offset = struct.unpack("<I", ico[6 + 16 + 12:6 + 16 + 16])[0]  # the 32x32 entry, written second
    yield "ico_whole", ico
    yield "ico_largest_image_cut", ico[:offset + 60]


def wbmp_cases():
    yield "wbmp_8x2", b"\0\0\x08\x02\xa5\x5a"


def outcome(data):
    result = pillow(data)
    if "error" in result:  # no object address in the message: reruns are byte-identical
        result["error"] = re.sub(r" at 0x[0-9a-f]+", "", result["error"])
    return result


def main():
    cases = []
    for make in (wbmp_cases, bmp_cases, webp_cases, png_cases, ico_cases):
        for name, data in make():
            cases.append({"name": name, "base64": base64.b64encode(data).decode(), **outcome(data)})
    write_cases(OUT, cases)


if __name__ == "__main__":
    main()
