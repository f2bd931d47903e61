"""Writes Blip.Engine.Tests/Fixtures/images/bmp_cases.json: what Pillow's Image.open(...).convert("RGB") makes of
16-bit BMPs and of cut or odd RLE BMPs, as the SHA-256 of the RGB bytes (HWC uint8) or the exception it raised.

Run from the repository root:  tools/reference/py tools/reference/make_bmp_cases.py   (byte-identical reruns)

  bmp16      every 16-bit value once: a 256x256 image whose pixel (x, y) holds y * 256 + x, rows bottom-up (or
             top-down), in each layout Pillow reads (BI_RGB = 5-5-5; BI_BITFIELDS 5-6-5 and 5-5-5, with the masks
             after a 40-byte header or inside a V4/V5 one) and two it refuses. ImageBmp16Tests builds the same files
             (file_sha256 checks that) and compares the decode. Pillow expands a 5- or 6-bit channel v to
             v * 255 / 31 (or 63), truncating (Unpack.c, rawmodes BGR;15 and BGR;16), which is 1 below bit
             replication, (v << 3) | (v >> 2), for some v.
  bmp16_cut  a 3x2 16-bit BMP (row stride 8 = 6 pixel bytes + 2 padding) cut to each length from its pixel offset
             on: Pillow's raw decoder needs every row but the last one's padding ("image file is truncated").
  rle        RLE8/RLE4 BMPs: the two fixtures in src/ cut to each length from their pixel offset on, and a few
             written here (base64). Pillow's BmpRleDecoder stops at the end of the data or at an end-of-bitmap
             marker and then refuses the image when fewer than width * height pixels were written ("not enough
             image data"); a missing end-of-bitmap marker is fine once every row is written. The refusal is a
             ValueError from set_as_raw, so ImageFile.LOAD_TRUNCATED_IMAGES does not change it (checked here).
"""
import base64
import hashlib
import io
import json
import os
import struct

import numpy as np
import PIL
from PIL import Image, ImageFile

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = os.path.join(HERE, "..", "..", "Blip.Engine.Tests", "Fixtures", "images")
OUT = os.path.join(IMAGES, "bmp_cases.json")

# name -> (header size, compression, (r, g, b, a) masks or None, top-down)
BMP16 = {
    "rgb555": (40, 0, None, False),
    "rgb555_topdown": (40, 0, None, True),
    "bitfields565": (40, 3, (0xF800, 0x7E0, 0x1F, 0), False),
    "bitfields555": (40, 3, (0x7C00, 0x3E0, 0x1F, 0), False),
    "bitfields565_v5": (124, 3, (0xF800, 0x7E0, 0x1F, 0), False),
    "bitfields555_alpha_v4": (108, 3, (0x7C00, 0x3E0, 0x1F, 0x8000), False),  # Pillow ignores the alpha mask here
    "bitfields565_v5_topdown": (124, 3, (0xF800, 0x7E0, 0x1F, 0), True),
    "bitfields444_refused": (40, 3, (0xF00, 0xF0, 0xF, 0), False),
    "bitfields565_bgr_refused": (124, 3, (0x1F, 0x7E0, 0xF800, 0), False),
}


def bmp16(width, height, values, header_size, compression, masks, top_down):
    """A 16-bit BMP of values (row-major, top row first), rows padded to 4 bytes. With a 40-byte header the three
    masks follow it (BI_BITFIELDS); a V4/V5 header holds all four, then zeros."""
    stride = (width * 2 + 3) & ~3
    rows = [values[y * width:(y + 1) * width].astype("<u2").tobytes().ljust(stride, b"\0") for y in range(height)]
    pixels = b"".join(rows if top_down else rows[::-1])
    info = struct.pack("<IiiHHIIiiII", header_size, width, -height if top_down else height, 1, 16, compression,
                       len(pixels), 2835, 2835, 0, 0)
    if header_size == 40:
        info += struct.pack("<III", *masks[:3]) if masks else b""
    else:
        info += struct.pack("<IIII", *(masks or (0, 0, 0, 0))) + bytes(header_size - 56)
    offset = 14 + len(info)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + pixels


def rle_bmp(width, height, rle, palette, rle4=False):
    pal = b"".join(bytes([b, g, r, 0]) for r, g, b in palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 4 if rle4 else 8, 2 if rle4 else 1, len(rle), 2835, 2835,
                       len(palette), 0)
    offset = 14 + len(info) + len(pal)
    return b"BM" + struct.pack("<IHHI", offset + len(rle), 0, 0, offset) + info + pal + rle


def pillow(data):
    """Pillow's result with LOAD_TRUNCATED_IMAGES as transformers leaves it (False): ('sha256', hex) or ('error', text)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            rgb = np.asarray(img.convert("RGB"))
        return {"decoded_sha256": hashlib.sha256(rgb.tobytes()).hexdigest()}
    except Exception as e:  # noqa: BLE001 - the exception is the expected result
        return {"error": f"{type(e).__name__}: {e}"}


def pillow_truncated_ok(data):
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        return pillow(data)
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False


def pixel_offset(data):
    return struct.unpack_from("<I", data, 10)[0]


def main():
    values = np.arange(65536, dtype=np.uint16)
    bmp16_cases = []
    for name, (header_size, compression, masks, top_down) in BMP16.items():
        data = bmp16(256, 256, values, header_size, compression, masks, top_down)
        bmp16_cases.append({"name": name, "header_size": header_size, "compression": compression,
                            "masks": list(masks) if masks else None, "top_down": top_down,
                            "file_sha256": hashlib.sha256(data).hexdigest(), **pillow(data)})

    small = bmp16(3, 2, np.arange(6, dtype=np.uint16) * 4111, 40, 0, None, False)
    cut = [{"length": n, **pillow(small[:n])} for n in range(pixel_offset(small), len(small) + 1)]

    palette = [(40 * i % 256, 90 + 7 * i, 255 - 13 * i) for i in range(16)]
    written = {  # name -> (width, height, rle, rle4)
        "rle8_no_end_of_bitmap": (4, 2, bytes([4, 3, 0, 0, 4, 5]), False),  # every pixel, then the data ends
        "rle8_no_end_of_line_or_bitmap": (4, 2, bytes([4, 3, 0, 0, 2, 5, 0, 2, 7, 8]), False),
        "rle8_end_of_bitmap_early": (4, 2, bytes([4, 3, 0, 0, 0, 1]), False),
        "rle8_no_pixel_data": (4, 2, b"", False),
        "rle8_cut_in_a_delta": (4, 2, bytes([4, 3, 0, 2, 1]), False),
        "rle8_cut_in_an_absolute_run": (4, 2, bytes([4, 3, 0, 0, 0, 4, 1, 2]), False),
        "rle8_delta_past_the_end": (4, 2, bytes([2, 3, 0, 2, 1, 5]), False),  # Pillow writes index 0 up to the end
        "rle8_absolute_run_past_the_row": (4, 2, bytes([0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0, 1]), False),  # Pillow wraps
        "rle8_encoded_run_past_the_row": (4, 2, bytes([9, 3, 0, 0, 4, 5, 0, 1]), False),  # Pillow cuts at the row end
        "rle8_index_past_the_palette": (4, 1, bytes([4, 20, 0, 1]), False),
        "rle4_no_end_of_bitmap": (5, 2, bytes([5, 0x12, 0, 0, 0, 5, 0x34, 0x56, 0x70]), True),
        "rle4_cut_in_an_absolute_run": (5, 2, bytes([5, 0x12, 0, 0, 0, 5, 0x34]), True),
    }
    rle = []
    for source in ["bmp_rle8_12x6.bmp", "bmp_rle4_13x5.bmp"]:
        with open(os.path.join(IMAGES, "src", source), "rb") as f:
            data = f.read()
        for n in range(pixel_offset(data), len(data) + 1):
            result = pillow(data[:n])
            assert pillow_truncated_ok(data[:n]) == result, (source, n)
            rle.append({"name": f"{source}[:{n}]", "source": source, "length": n, **result})
    for name, (width, height, stream, rle4) in written.items():
        data = rle_bmp(width, height, stream, palette, rle4)
        result = pillow(data)
        assert pillow_truncated_ok(data) == result, name
        rle.append({"name": name, "base64": base64.b64encode(data).decode(), **result})

    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({"generated_by": {"pillow": PIL.__version__}, "bmp16": bmp16_cases, "bmp16_cut": cut, "rle": rle},
                  f, indent=1)
        f.write("\n")
    print(f"wrote {len(bmp16_cases)} + {len(cut)} + {len(rle)} cases to {os.path.normpath(OUT)} (Pillow {PIL.__version__})")


if __name__ == "__main__":
    main()
