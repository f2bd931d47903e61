"""Makes the image fixtures of Blip.Engine.Tests/Processing and what PIL + transformers make of them.

Run from the repository root:  tools/reference/py tools/reference/make_image_fixtures.py
Regenerating gives byte-identical files (fixed numpy seeds, PIL encoders are deterministic).

Scheme (compact but exact; everything lands in Blip.Engine.Tests/Fixtures/images/):
  src/NAME.EXT        the input images, drawn here: smooth gradients + shapes (+ a little numpy
                      noise) so that PNGs stay small. PNG (RGB, L, P+tRNS, P with indices past its PLTE, LA, RGBA; 1/2/4-bit gray; 16-bit RGB,
                      RGBA, LA and gray; Adam7-interlaced; the hand-written ones use all five row
                      filters), JPEG (baseline 4:2:0, 4:2:2, 4:4:4, progressive, gray, Adobe CMYK,
                      EXIF orientation 6, sRGB ICC profile), PNG with gAMA 1.0 (PIL ignores colour
                      metadata), WebP (lossy, lossless, both with alpha), GIF with a transparent index, GIF whose first frame
                      is smaller than the screen (written by hand, one with a local palette), BMP (also RLE8
                      and RLE4 ones that leave pixels unwritten), and edge sizes (1x1, 5x3).
  expected.json       for each image: PIL's mode after Image.open, its size, and the SHA-256 of
                      `np.asarray(img.convert("RGB"))` (HWC uint8) = check (a), decode == PIL exactly;
                      for each resize target: the SHA-256 of PIL's BICUBIC result (uint8 HWC), which
                      is the image that transformers rescales and normalizes = check (b), exact.
                      For two images also the SHA-256 of the float32 pixel_values at 384x384.
  full/NAME_HxW.f32   transformers' BlipImageProcessorPil pixel_values (float32 little endian,
                      [1,3,H,W]) for a few images at small configured sizes, and for a 256x3 ramp
                      holding every byte value in every channel (identity size, so it pins the
                      rescale + normalize arithmetic for all 768 inputs) = check (c), within 1e-6.
                      For the EXIF-orientation JPEG also exif_transposed_sha256, the SHA-256 of
                      ImageOps.exif_transpose(img).convert("RGB").
Storing SHA-256 instead of 384x384 arrays keeps the folder at about half a MB; a mismatch is
diagnosed by running the tests with BLIP_IMAGE_DUMP=DIR (they write the C# bytes as DIR/NAME.WxH.rgb)
and comparing those with PIL here.
"""
import hashlib
import json
import os
import struct
import zlib

import numpy as np
import PIL
from PIL import Image, ImageCms, ImageDraw, ImageOps, features
import transformers
from transformers import BlipImageProcessorPil

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "Blip.Engine.Tests", "Fixtures", "images")
SRC = os.path.join(OUT, "src")
FULL = os.path.join(OUT, "full")


def scene(w, h, seed, noise=0):
    """Smooth RGB gradients, a few drawn shapes and low-amplitude noise: realistic edges, small files."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / max(w, 1) * 6.1 + seed)
    g = 255 * y / max(h - 1, 1)
    b = 128 + 90 * np.cos((x + y) / max(w + h, 1) * 9.3)
    a = np.stack([r, g, b], -1)
    a += rng.integers(-noise, noise + 1, a.shape)
    img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(1, w // 2 + 2)), y0 + int(rng.integers(1, h // 2 + 2))
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.integers(0, 2):
            d.ellipse([x0, y0, x1, y1], fill=col)
        else:
            d.rectangle([x0, y0, x1, y1], outline=col, width=max(1, w // 100))
    d.line([0, 0, w - 1, h - 1], fill=(255, 255, 255), width=1)
    return img


def noise(w, h, seed, channels=3):
    a = np.random.default_rng(seed).integers(0, 256, (h, w, channels) if channels > 1 else (h, w))
    return a.astype(np.uint8)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png_filter(rows, bpp):
    """Filters each row with type (row index % 5): None, Sub, Up, Average, Paeth (PNG spec 9.2)."""
    out, prior = [], np.zeros(rows.shape[1], np.int32)
    for i, raw in enumerate(rows.astype(np.int32)):
        a = np.concatenate([np.zeros(bpp, np.int32), raw[:-bpp]])
        c = np.concatenate([np.zeros(bpp, np.int32), prior[:-bpp]])
        b, t = prior, i % 5
        if t == 4:
            p = a + b - c
            pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
            pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        else:
            pred = [0 * a, a, b, (a + b) // 2][t]
        out.append(bytes([t]) + ((raw - pred) % 256).astype(np.uint8).tobytes())
        prior = raw
    return b"".join(out)


def png_raw(path, pixels, bit_depth, color_type, interlace=False, extra=()):
    """Writes a PNG by hand (PIL cannot write 16-bit RGB/RGBA/LA nor interlace): pixels is HxWxC uint8/uint16."""
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    h, w = pixels.shape[:2]
    pix = pixels.reshape(h, w, -1).astype(">u2" if bit_depth == 16 else np.uint8)
    bpp = max(1, pix.shape[2] * bit_depth // 8)
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = pix[y0::dy, x0::dx]
        if sub.size:
            rows = np.ascontiguousarray(sub).reshape(sub.shape[0], -1)
            if bit_depth < 8:  # pack gray samples MSB first, each row padded to a whole byte
                bits = np.unpackbits(rows[:, :, None], axis=2)[:, :, 8 - bit_depth:].reshape(rows.shape[0], -1)
                rows = np.packbits(bits, axis=1)
            raw += png_filter(rows.view(np.uint8), bpp)
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, int(interlace))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + b"".join(chunk(t, d) for t, d in extra) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def gif_raw(path, width, height, frame, global_palette=None, background=0, local_palette=None):
    """Writes a one-frame GIF89a by hand (PIL always writes a frame that covers the whole screen):
    frame = (x, y, indices HxW uint8). LZW with a clear code before the code width would grow."""
    x, y, idx = frame
    def table_flags(palette):
        return (len(palette) // 3).bit_length() - 2  # 2 ** (n + 1) entries
    out = b"GIF89a" + struct.pack("<HH", width, height)
    out += bytes([0xF0 | table_flags(global_palette), background, 0]) + global_palette if global_palette else bytes([0x70, background, 0])
    out += b"\x21\xf9\x04\x04\x0a\x00\x00\x00"  # graphic control: no transparency, 100 ms
    flags = 0x80 | table_flags(local_palette) if local_palette else 0
    out += b"\x2c" + struct.pack("<HHHHB", x, y, idx.shape[1], idx.shape[0], flags) + (local_palette or b"")
    clear, codes = 256, [256]
    for i, v in enumerate(idx.flatten()):
        codes += [int(v)] + ([clear] if i % 250 == 249 else [])
    acc = nbits = 0
    lzw = bytearray()
    for c in codes + [257]:  # 9-bit codes, then end of information
        acc, nbits = acc | (c << nbits), nbits + 9
        while nbits >= 8:
            lzw.append(acc & 255)
            acc, nbits = acc >> 8, nbits - 8
    lzw += bytes([acc]) if nbits else b""
    out += b"\x08" + b"".join(bytes([len(lzw[i:i + 255])]) + lzw[i:i + 255] for i in range(0, len(lzw), 255)) + b"\x00\x3b"
    with open(path, "wb") as f:
        f.write(out)


def bmp_rle(path, width, height, rle, palette, rle4=False):
    """Writes an RLE8 (or RLE4) BMP by hand (PIL cannot write one): rle is the compressed pixel data, palette
    a list of (r, g, b). BITMAPINFOHEADER, bottom-up rows."""
    pal = b"".join(bytes([b, g, r, 0]) for r, g, b in palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 4 if rle4 else 8, 2 if rle4 else 1, len(rle), 2835, 2835, len(palette), 0)
    offset = 14 + len(info) + len(pal)
    with open(path, "wb") as f:
        f.write(b"BM" + struct.pack("<IHHI", offset + len(rle), 0, 0, offset) + info + pal + rle)


def make_sources():
    os.makedirs(SRC, exist_ok=True)
    s = lambda n: os.path.join(SRC, n)
    scene(1000, 700, 1).save(s("rgb_1000x700.png"), optimize=False)
    scene(200, 150, 2, noise=3).save(s("rgb_200x150.png"))
    scene(384, 384, 3).save(s("rgb_384x384.png"))
    Image.fromarray(noise(1, 1, 4)).save(s("rgb_1x1.png"))
    Image.fromarray(noise(5, 3, 5)).save(s("rgb_5x3.png"))
    Image.fromarray(noise(37, 53, 6)).save(s("rgb_37x53.png"))
    scene(120, 90, 7).convert("L").save(s("gray_120x90.png"))
    pal = scene(100, 80, 8).quantize(colors=50, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    pal.info["transparency"] = 3
    pal.save(s("palette_100x80.png"), transparency=3)
    la = Image.merge("LA", [scene(90, 70, 9).convert("L"), Image.fromarray(noise(90, 70, 10, 1))])
    la.save(s("gray_alpha_90x70.png"))
    rgba = scene(110, 70, 11)
    alpha = noise(110, 70, 12, 1)
    alpha[:, :20] = 0  # fully transparent pixels keep their colour in PIL
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(s("rgba_110x70.png"))
    rng = np.random.default_rng(13)
    png_raw(s("rgb16_64x48.png"), rng.integers(0, 65536, (48, 64, 3), dtype=np.uint16), 16, 2)
    png_raw(s("rgba16_40x30.png"), rng.integers(0, 65536, (30, 40, 4), dtype=np.uint16), 16, 6)
    png_raw(s("gray_alpha16_40x30.png"), rng.integers(0, 65536, (30, 40, 2), dtype=np.uint16), 16, 4)
    gray16 = np.concatenate([np.arange(0, 64 * 24, dtype=np.uint16).reshape(24, 64) % 300,
                             rng.integers(0, 65536, (24, 64), dtype=np.uint16)])
    png_raw(s("gray16_64x48.png"), gray16, 16, 0)
    png_raw(s("gray16_interlaced_29x19.png"), rng.integers(0, 400, (19, 29), dtype=np.uint16), 16, 0, interlace=True)
    png_raw(s("rgb_interlaced_29x19.png"), noise(29, 19, 22), 8, 2, interlace=True)
    png_raw(s("gray1_35x21.png"), noise(35, 21, 25, 1) % 2, 1, 0)   # PIL mode "1"
    png_raw(s("gray2_35x21.png"), noise(35, 21, 26, 1) % 4, 2, 0)   # PIL "L" from "L;2" (x85)
    png_raw(s("gray4_35x21.png"), noise(35, 21, 27, 1) % 16, 4, 0)  # PIL "L" from "L;4" (x17)
    # palette indices past the end of PLTE (libpng accepts them): PIL shows black, Skia the last entry
    prng = np.random.default_rng(33)
    png_raw(s("palette_short_24x16.png"), prng.integers(0, 16, (16, 24)).astype(np.uint8), 8, 3,
            extra=[(b"PLTE", bytes(prng.integers(0, 256, 8 * 3).astype(np.uint8))), (b"tRNS", bytes([0, 100]))])
    png_raw(s("palette_short2_24x16.png"), prng.integers(0, 4, (16, 24)).astype(np.uint8), 2, 3,
            extra=[(b"PLTE", bytes(prng.integers(0, 256, 3 * 3).astype(np.uint8)))])
    # colour metadata that PIL ignores and a colour-managed decoder would apply
    png_raw(s("rgb_gamma1_40x30.png"), np.asarray(scene(40, 30, 23)), 8, 2, extra=[(b"gAMA", struct.pack(">I", 100000))])
    srgb = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    srgb[24:36] = struct.pack(">6H", 2000, 1, 1, 0, 0, 0)  # lcms stamps the creation time: fix it
    srgb = bytes(srgb)
    scene(64, 48, 24).save(s("jpeg_icc_64x48.jpg"), quality=90, icc_profile=srgb)
    base = scene(320, 240, 14, noise=3)
    base.save(s("jpeg_q90_420_320x240.jpg"), quality=90, subsampling=2)
    base.save(s("jpeg_q90_422_320x240.jpg"), quality=90, subsampling=1)
    base.save(s("jpeg_q75_444_320x240.jpg"), quality=75, subsampling=0)
    scene(333, 201, 15).save(s("jpeg_progressive_333x201.jpg"), quality=85, progressive=True)
    scene(160, 120, 16).convert("L").save(s("jpeg_gray_160x120.jpg"), quality=90)
    scene(160, 120, 17).convert("CMYK").save(s("jpeg_cmyk_160x120.jpg"), quality=90)
    exif = Image.Exif()
    exif[0x0112] = 6
    scene(120, 80, 18).save(s("jpeg_orient6_120x80.jpg"), quality=90, exif=exif.tobytes())
    scene(1000, 700, 19).save(s("jpeg_q90_1000x700.jpg"), quality=90)
    gif = scene(60, 40, 28).quantize(colors=32, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    gif.save(s("gif_transparent_60x40.gif"), transparency=5)
    scene(50, 30, 29).save(s("bmp_50x30.bmp"))
    # RLE BMPs leave pixels unwritten (early end of line, delta): PIL shows palette index 0 (an end of bitmap
    # before the last pixel is refused by PIL: "not enough image data")
    brng = np.random.default_rng(34)
    bpal = [tuple(int(v) for v in c) for c in brng.integers(0, 256, (256, 3))]
    rle8 = (bytes([5, 9]) + bytes([0, 3, 1, 2, 3, 0]) + b"\x00\x00"   # row 0: run of 5, 3 literals (padded), end of line
            + bytes([12, 40]) + b"\x00\x00" + bytes([0, 2, 4, 1])      # row 1 full; a delta (4 right, 1 up) skips row 2
            + bytes([3, 41]) + b"\x00\x00" + bytes([12, 42]) + b"\x00\x00"  # row 3 from x=4, row 4 full
            + bytes([6, 43]) + b"\x00\x00\x00\x01")                       # half of row 5, end of line, end of bitmap
    bmp_rle(s("bmp_rle8_12x6.bmp"), 12, 6, rle8, bpal)
    rle4 = b"".join(bytes([7, 0x5A]) + bytes([0, 3, 0x12, 0x30]) + b"\x00\x00" for _ in range(5)) + b"\x00\x01"
    bmp_rle(s("bmp_rle4_13x5.bmp"), 13, 5, rle4, bpal[:16], rle4=True)
    # a first frame smaller than the screen: PIL fills the rest with palette index 0 of the frame's palette
    grng = np.random.default_rng(32)
    gpal, lpal = (bytes(grng.integers(0, 256, 768).astype(np.uint8)) for _ in range(2))
    gif_raw(s("gif_subframe_40x30.gif"), 40, 30, (5, 4, grng.integers(1, 200, (15, 20)).astype(np.uint8)), gpal, background=7)
    gif_raw(s("gif_subframe_local_20x10.gif"), 20, 10, (2, 3, grng.integers(1, 200, (5, 12)).astype(np.uint8)), gpal,
            background=3, local_palette=lpal)
    scene(200, 150, 20).save(s("webp_lossy_200x150.webp"), quality=80, method=4)
    scene(96, 64, 21).save(s("webp_lossless_96x64.webp"), lossless=True)
    walpha = scene(80, 60, 30)
    walpha.putalpha(Image.fromarray(noise(80, 60, 31, 1) // 64 * 85))  # 0, 85, 170, 255
    walpha.save(s("webp_lossy_alpha_80x60.webp"), quality=80, exact=True)
    walpha.save(s("webp_lossless_alpha_80x60.webp"), lossless=True, exact=True)


def sha(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def processor(h, w):
    return BlipImageProcessorPil(size={"height": h, "width": w})


def main():
    make_sources()
    os.makedirs(FULL, exist_ok=True)
    targets = [(384, 384), (53, 37)]
    images = {}
    for name in sorted(os.listdir(SRC)):
        with Image.open(os.path.join(SRC, name)) as img:
            img.load()
            rgb = img.convert("RGB")
            entry = {"mode": img.mode, "width": img.width, "height": img.height,
                     "decoded_sha256": sha(np.asarray(rgb)), "resized": []}
            for h, w in targets:
                # what transformers' PIL backend does: uint8 CHW -> PIL -> resize BICUBIC -> uint8
                r = rgb.resize((w, h), Image.Resampling.BICUBIC)
                entry["resized"].append({"height": h, "width": w, "sha256": sha(np.asarray(r))})
            if name.startswith("jpeg_orient6"):
                entry["exif_transposed_sha256"] = sha(np.asarray(ImageOps.exif_transpose(img).convert("RGB")))
            images[name] = entry
    full = {}
    for name, (h, w) in [("rgb_1000x700.png", (64, 96)), ("jpeg_q90_420_320x240.jpg", (40, 48)),
                         ("rgba_110x70.png", (30, 20)), ("rgb_5x3.png", (7, 9))]:
        with Image.open(os.path.join(SRC, name)) as img:
            pv = processor(h, w)(img, return_tensors="np")["pixel_values"].astype("<f4")
        fname = f"{os.path.splitext(name)[0]}_{h}x{w}.f32"
        pv.tofile(os.path.join(FULL, fname))
        full[fname] = {"source": name, "height": h, "width": w}
    ramp = np.zeros((3, 256, 3), np.uint8)
    ramp[0, :, :] = np.arange(256)[:, None]
    ramp[1, :, 0], ramp[1, :, 1], ramp[1, :, 2] = 255 - np.arange(256), np.arange(256), (np.arange(256) * 7) % 256
    ramp[2] = ramp[1, ::-1]
    pv = processor(3, 256)(Image.fromarray(ramp), return_tensors="np")["pixel_values"].astype("<f4")
    pv.tofile(os.path.join(FULL, "ramp_3x256.f32"))
    full["ramp_3x256.f32"] = {"source": "ramp (in the script)", "height": 3, "width": 256}
    for name in ["rgb_1000x700.png", "jpeg_q90_1000x700.jpg"]:
        with Image.open(os.path.join(SRC, name)) as img:
            pv = BlipImageProcessorPil()(img, return_tensors="np")["pixel_values"].astype("<f4")
        images[name]["pixel_values_384_sha256"] = sha(pv)
    meta = {"pillow": PIL.__version__, "transformers": transformers.__version__,
            "libjpeg": features.version("jpg"), "libwebp": features.version("webp"), "numpy": np.__version__}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"generated_by": meta, "images": images, "full": full}, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
