"""Differential fuzz of the image decoder against Pillow, for GIF, BMP, WebP, ICO, JPEG and PNG: writes seed files (made with
Pillow and with make_decode_cases.py's BMP writers), damaged copies of them, and what Pillow's
Image.open(...).convert("RGB") makes of each (make_decode_cases.outcome: the SHA-256 of the RGB bytes, or the
exception), into OUT/files/ and OUT/manifest.jsonl. A C# runner decodes each file with ImageDecoder.Decode and
compares (see tools/reference/README.md).

Run from the repository root:  tools/reference/py tools/reference/fuzz_decode.py OUT [--per-seed N] [--seed S] [--formats gif,bmp,webp,ico,jpeg,png]

Mutations: truncation at sampled points of every region (all lengths for small files), single-byte changes (xor 0xFF,
a bit, a random value), inserted bytes (named by their hex, so that a name is one file) and removed bytes, and format-aware length fields set to edge values (GIF sub-block
lengths and descriptor fields, BMP header fields, RIFF chunk sizes, ICO directory entries; JPEG segment lengths and the
SOF, SOS, DHT, DQT and DRI fields, big-endian; PNG chunk lengths and the IHDR, acTL and fcTL fields). Files whose claimed size is
over 4 megapixels are left out (Pillow would allocate them; the engine's size limit is another matter).
"""
import argparse
import io
import json
import os
import struct
import sys
import warnings
import zlib

import numpy as np
from PIL import Image, PngImagePlugin

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_decode_cases import bmp, filtered_rows, os2_bmp, outcome, packed, pixels, png_chunk, png_file  # noqa: E402
from make_bmp_cases import rle_bmp  # noqa: E402

MAX_PIXELS = 1 << 22


def save(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def rgb(w, h, seed):
    return Image.fromarray(pixels(w, h, 3, seed))


def gif_seeds():
    for w, h in ((1, 1), (5, 3), (17, 9), (33, 20)):
        yield f"gif_rgb_{w}x{h}", save(rgb(w, h, w * 7 + h), "GIF")
        yield f"gif_l_{w}x{h}", save(rgb(w, h, w + 1).convert("L"), "GIF")
    p = rgb(12, 8, 3).quantize(16)
    yield "gif_p16_transparency", save(p, "GIF", transparency=3)
    yield "gif_p16_interlace0", save(p, "GIF", interlace=0)
    yield "gif_p2", save(rgb(10, 6, 4).convert("1"), "GIF")
    frames = [rgb(9, 7, 10 + i).quantize(8) for i in range(3)]
    yield "gif_anim3", save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=40, loop=0)
    yield "gif_anim_disposal", save(frames[0], "GIF", save_all=True, append_images=frames[1:], disposal=2, transparency=0)
    yield "gif_comment", save(p, "GIF", comment=b"hello fuzz")


def bmp_seeds():
    for w, h in ((1, 1), (5, 3), (13, 4)):
        for mode in ("1", "L", "P", "RGB", "RGBA"):
            img = rgb(w, h, w * 3 + h)
            img = img.quantize(16) if mode == "P" else img.convert(mode)
            yield f"bmp_pil_{mode}_{w}x{h}", save(img, "BMP")
    pal16 = [tuple(int(v) for v in pixels(1, 1, 3, 70 + i)[0, 0]) for i in range(16)]
    yield "bmp4", bmp(7, 3, 4, [packed(list(range(y, y + 7)), 4) for y in range(3)], pal16)
    yield "bmp8_top_down", bmp(6, 3, 8, [bytes(range(y, y + 6)) for y in range(3)], pal16, top_down=True)
    yield "bmp16_565", bmp(5, 3, 16, [pixels(10, 1, 1, 80 + y).tobytes() for y in range(3)], compression=3, masks=(0xF800, 0x7E0, 0x1F))
    yield "bmp16_555", bmp(5, 3, 16, [pixels(10, 1, 1, 83 + y).tobytes() for y in range(3)])
    yield "bmp32_bitfields", bmp(4, 3, 32, [pixels(4, 1, 4, 86 + y).tobytes() for y in range(3)], compression=3, masks=(0xFF0000, 0xFF00, 0xFF))
    yield "bmp32_v5", bmp(4, 3, 32, [pixels(4, 1, 4, 89 + y).tobytes() for y in range(3)], compression=3,
                          masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000), header=124)
    yield "bmp24_v5", bmp(5, 3, 24, [pixels(5, 1, 3, 92 + y).tobytes() for y in range(3)], header=124)
    yield "os2_bmp8", os2_bmp(5, 3, 8, [bytes(range(y, y + 5)) for y in range(3)], pal16)
    yield "os2_bmp24", os2_bmp(4, 3, 24, [pixels(4, 1, 3, 95 + y).tobytes() for y in range(3)])
    rle8 = bytes([3, 1, 0, 3, 2, 3, 4, 0, 0, 0, 2, 5, 2, 6, 0, 1])  # a run, an absolute run of 3 (padded), EOL, EOB
    yield "bmp_rle8", rle_bmp(5, 2, rle8[:7] + b"\0" + rle8[7:], pal16)
    yield "bmp_rle8_delta", rle_bmp(6, 3, bytes([2, 1, 0, 2, 1, 1, 3, 4, 0, 0, 6, 9, 0, 1]), pal16)
    yield "bmp_rle4", rle_bmp(6, 2, bytes([6, 0x12, 0, 0, 0, 6, 0x34, 0x56, 0x78, 0, 0, 1]), pal16, rle4=True)


def webp_seeds():
    for w, h in ((1, 1), (5, 3), (24, 17)):
        img = rgb(w, h, 100 + w)
        yield f"webp_lossy_{w}x{h}", save(img, "WEBP", quality=70)
        yield f"webp_lossless_{w}x{h}", save(img, "WEBP", lossless=True)
        rgba = Image.fromarray(pixels(w, h, 4, 110 + w), "RGBA")
        yield f"webp_lossy_alpha_{w}x{h}", save(rgba, "WEBP", quality=60)
        yield f"webp_lossless_alpha_{w}x{h}", save(rgba, "WEBP", lossless=True)
    frames = [rgb(8, 6, 120 + i) for i in range(3)]
    yield "webp_anim", save(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=50, lossless=True)
    yield "webp_anim_lossy", save(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=50, quality=50)
    yield "webp_exif", save(rgb(6, 4, 125), "WEBP", exif=b"Exif\0\0II*\0\x08\0\0\0\0\0\0\0\0\0")


def ico_seeds():
    rgba = Image.fromarray(pixels(32, 32, 4, 130), "RGBA")
    yield "ico_png_2", save(rgba, "ICO", sizes=[(16, 16), (32, 32)])
    yield "ico_png_1", save(rgba.resize((16, 16)), "ICO", sizes=[(16, 16)])
    yield "ico_bmp_2", save(rgba, "ICO", sizes=[(8, 8), (16, 16)], bitmap_format="bmp")
    yield "ico_bmp_rgb", save(rgba.convert("RGB").resize((8, 8)), "ICO", sizes=[(8, 8)], bitmap_format="bmp")
    yield "ico_bmp_p", save(rgba.convert("RGB").resize((8, 8)).quantize(16), "ICO", sizes=[(8, 8)], bitmap_format="bmp")


def jpeg_seeds():
    exif = b"Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x01\0\0\0\0\0\0\0"  # one IFD entry: orientation 1
    for w, h in ((1, 1), (7, 5), (19, 13)):
        img = rgb(w, h, 140 + w)
        yield f"jpeg_444_{w}x{h}", save(img, "JPEG", quality=80, subsampling=0)
        yield f"jpeg_420_{w}x{h}", save(img, "JPEG", quality=60, subsampling=2)
        yield f"jpeg_progressive_{w}x{h}", save(img, "JPEG", quality=70, progressive=True)
        yield f"jpeg_gray_{w}x{h}", save(img.convert("L"), "JPEG", quality=75)
    img = rgb(24, 18, 150)
    yield "jpeg_restart", save(img, "JPEG", quality=70, restart_marker_blocks=2)
    yield "jpeg_restart_rows_progressive", save(img, "JPEG", quality=70, progressive=True, restart_marker_rows=1)
    yield "jpeg_gray_progressive", save(img.convert("L"), "JPEG", quality=70, progressive=True)
    yield "jpeg_exif", save(rgb(9, 6, 151), "JPEG", quality=80, exif=exif)
    yield "jpeg_optimize_422", save(rgb(17, 9, 152), "JPEG", quality=85, optimize=True, subsampling=1)


def png_seeds():
    a = pixels(11, 9, 4, 160)
    yield "png_rgb", save(Image.fromarray(a[..., :3]), "PNG")
    yield "png_rgba", save(Image.fromarray(a), "PNG")
    yield "png_l", save(Image.fromarray(a[..., 0]), "PNG")
    yield "png_la", save(Image.fromarray(a[..., 0]).convert("LA"), "PNG")
    yield "png_1", save(Image.fromarray(a[..., 0] > 128), "PNG")
    yield "png_p_trns", save(Image.fromarray(a[..., :3]).quantize(16), "PNG", transparency=3)
    yield "png_p_bits4", save(Image.fromarray(a[..., :3]).quantize(16), "PNG", bits=4)
    yield "png_i16", save(Image.fromarray(a[..., 0].astype(np.uint16) * 257).convert("I;16"), "PNG")
    info = PngImagePlugin.PngInfo()
    info.add_text("k", "v" * 40)
    info.add_text("z", "w" * 300, zip=True)
    yield "png_text", save(Image.fromarray(a[..., :3]), "PNG", pnginfo=info)
    raw = filtered_rows(pixels(11, 9, 3, 161), True, 3)
    z = zlib.compress(raw, 9)
    third = len(z) // 3  # three IDAT chunks, a tEXt after them
    yield "png_interlaced_3_idat", png_file(11, 9, [png_chunk(b"IDAT", z[:third]), png_chunk(b"IDAT", z[third:2 * third]),
                                                   png_chunk(b"IDAT", z[2 * third:]), png_chunk(b"tEXt", b"a\0b")], interlace=True)
    frames = [Image.fromarray(pixels(6, 5, 4, 162 + i), "RGBA") for i in range(2)]
    yield "png_apng", save(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=40)


SEEDS = {"gif": gif_seeds, "bmp": bmp_seeds, "webp": webp_seeds, "ico": ico_seeds, "jpeg": jpeg_seeds, "png": png_seeds}


def gif_fields(d):
    """(offset, width) of GIF length-like fields: screen size, packed bytes, descriptor fields, sub-block lengths."""
    out = [(6, 2), (8, 2), (10, 1)]
    pos = 13 + (3 << ((d[10] & 7) + 1) if d[10] & 0x80 else 0)
    while pos < len(d):
        if d[pos] == 0x2C and pos + 10 <= len(d):
            out += [(pos + 1, 2), (pos + 3, 2), (pos + 5, 2), (pos + 7, 2), (pos + 9, 1)]
            pos += 10 + (3 << ((d[pos + 9] & 7) + 1) if d[pos + 9] & 0x80 else 0)
            out.append((pos, 1))  # LZW minimum code size
            pos += 1
        elif d[pos] == 0x21 and pos + 1 < len(d):
            pos += 2
        else:
            break
        while pos < len(d) and d[pos] != 0:
            out.append((pos, 1))
            pos += 1 + d[pos]
        if pos < len(d):
            out.append((pos, 1))  # terminator
        pos += 1
    return out


def bmp_fields(d):
    out = [(2, 4), (10, 4), (14, 4)]
    if len(d) >= 18 and struct.unpack_from("<I", d, 14)[0] == 12:
        return out + [(18, 2), (20, 2), (22, 2), (24, 2)]
    return out + [(18, 4), (22, 4), (26, 2), (28, 2), (30, 4), (34, 4), (46, 4), (54, 4), (58, 4), (62, 4)]


def riff_fields(d):
    out = [(4, 4)]
    pos = 12
    while pos + 8 <= len(d):
        out.append((pos + 4, 4))
        if d[pos:pos + 4] == b"VP8X":
            out += [(pos + 8, 1), (pos + 12, 3), (pos + 15, 3)]
        elif d[pos:pos + 4] == b"VP8 ":
            out += [(pos + 14, 2), (pos + 16, 2)]
        elif d[pos:pos + 4] == b"VP8L":
            out += [(pos + 9, 4)]
        size = struct.unpack_from("<I", d, pos + 4)[0]
        pos += 8 + size + (size & 1)
    return out


def ico_fields(d):
    out = [(2, 2), (4, 2)]
    n = struct.unpack_from("<H", d, 4)[0]
    for i in range(min(n, 8)):
        e = 6 + 16 * i
        out += [(e, 1), (e + 1, 1), (e + 2, 1), (e + 4, 2), (e + 6, 2), (e + 8, 4), (e + 12, 4)]
        off = struct.unpack_from("<I", d, e + 12)[0] if e + 16 <= len(d) else 0
        if off + 16 <= len(d) and d[off:off + 4] == b"\x28\0\0\0":
            out += [(off + 4, 4), (off + 8, 4), (off + 14, 2), (off + 16, 4)]
    return out


def jpeg_fields(d):
    """(offset, width) of each segment's length and of the SOF, SOS, DHT, DQT and DRI fields, up to the first scan's data
    (and the segments between later scans, found by the next marker after the entropy-coded data)."""
    out = []
    pos = 2
    while pos + 4 <= len(d) and d[pos] == 0xFF:
        marker = d[pos + 1]
        if marker == 0xD9 or marker == 0xFF or 0xD0 <= marker <= 0xD7:
            pos += 1 if marker == 0xFF else 2
            continue
        length = int.from_bytes(d[pos + 2:pos + 4], "big")
        out.append((pos + 2, 2))
        body = pos + 4
        if marker in (0xC0, 0xC1, 0xC2):
            out += [(body, 1), (body + 1, 2), (body + 3, 2), (body + 5, 1)]
            out += [(body + 6 + 3 * i + k, 1) for i in range(min(d[body + 5], 4)) for k in (0, 1, 2)]
        elif marker == 0xDA:
            n = d[body]
            out += [(body, 1)] + [(body + 1 + 2 * i + k, 1) for i in range(min(n, 4)) for k in (0, 1)]
            out += [(body + 1 + 2 * n, 1), (body + 2 + 2 * n, 1), (body + 3 + 2 * n, 1)]
        elif marker == 0xC4:
            out += [(body, 1)] + [(body + 1 + i, 1) for i in range(0, 16, 3)]
        elif marker == 0xDB:
            out.append((body, 1))
        elif marker == 0xDD:
            out.append((body, 2))
        pos += 2 + length
        if marker == 0xDA:  # entropy-coded data: on to the next marker that is not stuffing or a restart
            while pos + 1 < len(d) and not (d[pos] == 0xFF and d[pos + 1] != 0 and not 0xD0 <= d[pos + 1] <= 0xD7):
                pos += 1
    return out


def png_fields(d):
    """(offset, width) of PNG fields: each chunk's length, IHDR's width, height and one-byte fields, acTL and fcTL's
    numbers (big-endian)."""
    out, pos = [], 8
    while pos + 8 <= len(d):
        length, tag = struct.unpack_from(">I", d, pos)[0], d[pos + 4:pos + 8]
        out.append((pos, 4))
        body = pos + 8
        if tag == b"IHDR":
            out += [(body, 4), (body + 4, 4)] + [(body + 8 + i, 1) for i in range(5)]
        elif tag == b"acTL":
            out += [(body, 4), (body + 4, 4)]
        elif tag == b"fcTL":
            out += [(body + i, 4) for i in range(0, 20, 4)]
        pos = body + length + 4
    return out


FIELDS = {"gif": gif_fields, "bmp": bmp_fields, "webp": riff_fields, "ico": ico_fields, "jpeg": jpeg_fields, "png": png_fields}
BIG_ENDIAN = {"jpeg", "png"}


def edge_values(old, width):
    top = (1 << (8 * width)) - 1
    return sorted({0, 1, 2, top, top >> 1, (old + 1) & top, (old - 1) & top, (old * 2) & top, old >> 1})


def mutants(fmt, data, rng, n):
    """Yields (mutation, bytes): truncations first, then n random mutations."""
    size = len(data)
    cuts = range(1, size) if size <= 400 else sorted(set(rng.integers(1, size, 200).tolist()) | set(range(1, 80)) | set(range(size - 40, size)))
    for k in cuts:
        yield f"cut{k}", data[:k]
    try:
        fields = [f for f in FIELDS[fmt](data) if f[0] + f[1] <= size]
    except (struct.error, IndexError):
        fields = []
    order = "big" if fmt in BIG_ENDIAN else "little"
    for off, width in fields:
        old = int.from_bytes(data[off:off + width], order)
        for v in edge_values(old, width):
            if v != old:
                yield f"field{off}w{width}={v}", data[:off] + v.to_bytes(width, order) + data[off + width:]
    for i in range(n):
        kind = rng.integers(0, 6)
        at = int(rng.integers(0, size))
        if kind == 0:
            yield f"xor{at}", data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]
        elif kind == 1:
            bit = int(rng.integers(0, 8))
            yield f"bit{at}.{bit}", data[:at] + bytes([data[at] ^ (1 << bit)]) + data[at + 1:]
        elif kind == 2:
            v = int(rng.integers(0, 256))
            yield f"set{at}={v}", data[:at] + bytes([v]) + data[at + 1:]
        elif kind == 3:
            extra = rng.integers(0, 256, int(rng.integers(1, 9))).astype(np.uint8).tobytes()
            yield f"ins{at}+{extra.hex()}", data[:at] + extra + data[at:]
        elif kind == 4:
            k = int(rng.integers(1, 9))
            yield f"del{at}-{k}", data[:at] + data[at + k:]
        else:
            extra = rng.integers(0, 256, int(rng.integers(1, 33))).astype(np.uint8).tobytes()
            yield f"tail+{extra.hex()}", data + extra


def small_enough(data):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:
                return img.size[0] * img.size[1] <= MAX_PIXELS
    except Exception:  # noqa: BLE001 - refused at open: the outcome says so
        return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--per-seed", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--formats", default="gif,bmp,webp,ico")
    args = ap.parse_args()
    os.makedirs(os.path.join(args.out, "files"), exist_ok=True)
    rng = np.random.default_rng(args.seed)
    count = 0
    with open(os.path.join(args.out, "manifest.jsonl"), "w") as manifest:
        for fmt in args.formats.split(","):
            for seed_name, data in SEEDS[fmt]():
                written = set()  # a mutation drawn twice has one name (its inserted bytes are in it) and one file
                for mutation, m in (("seed", data), *mutants(fmt, data, rng, args.per_seed)):
                    name = f"{seed_name}.{mutation}"
                    if not m or name in written or not small_enough(m):
                        continue
                    written.add(name)
                    with open(os.path.join(args.out, "files", name), "wb") as f:
                        f.write(m)
                    manifest.write(json.dumps({"name": name, "format": fmt, "seed": seed_name, "mutation": mutation,
                                               **outcome(m)}) + "\n")
                    count += 1
    print(f"{count} files in {args.out}")


if __name__ == "__main__":
    main()
