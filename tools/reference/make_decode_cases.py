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
  os2_*         OS/2 1.x BMPs (12-byte header, 3-byte palette entries) of 1, 4, 8 and 24 bits, also cut; with the
                bmp*_short_palette* and bmp8_palette_past_end_of_file cases, palettes that run into the pixel data or past
                the end of the file (Pillow reads what is there: pixel bytes as entries, entries past the bytes black).
  webp_*        a WebP cut by one byte, or whose RIFF size says more than the file has: libwebp's demuxer, which Pillow
                uses, refuses both; and one with bytes after its RIFF payload, which it ignores.
  png_*         a bad CRC in an ancillary chunk before the image data (Pillow refuses; libpng only warns) and after it
                (neither cares), a chunk type that is not four word characters, and a 16-bit gray PNG missing its IEND or
                part of its last CRC (Pillow reads the rows it needs).
  ico_*         ICOs, where Skia picks another entry than Pillow's IcoFile (the largest, then the lowest colour depth,
                then the first) or reads it otherwise: a largest image cut off (refused), a PNG entry cut in its IEND or
                with a size field past the end (read as the PNG file from its offset on), BMP entries whose AND mask lacks
                its last row's padding (read) or more (refused), or a size field that puts it before the image (read), a top-down one, a 2-bit one
                (refused), one whose size is not the directory's, one the directory calls 32-bit (its alpha bytes read
                from the pixels: refused where they pass the end), RLE8 at an even and an odd offset (word alignment
                counts from the ICO's start), a directory cut short or of no entries (refused).
  cur_*         CUR files (type 2), which Pillow's CurImagePlugin reads: the first entry unless a later one is larger in
                both width and height, its BMP read at its offset (after the directory at 0; a PNG refused) with the top
                half of its rows, or whole and then blackened where the AND mask is set (blended by its gray level) when
                its palette is gray (an odd height refused); Skia read them as ICO files.
  near_*        files whose end is missing, damaged or followed by bytes: PNG without IEND or its CRC, with a wrong or cut
                IDAT CRC (Pillow checks none), trailing bytes, or a chunk after the image data cut by the end (Pillow
                refuses); a zTXt of an unknown compression method (refused before or after the image data); JPEG without
                (half) its EOI or cut inside its scan (refused: libjpeg suspends for the missing bytes), or with bytes or a
                second image after EOI; GIF without its trailer or its last block terminator (read) or cut inside its
                LZW data (refused); WebP whose RIFF size is off by one or two (refused by libwebp's demuxer); BMP with
                extra bytes or a wrong file size field (read) or cut inside its pixels (refused).
  orient_*      EXIF and XMP orientations in every place Pillow 13's ImageOps.exif_transpose looks (PNG eXIf before or
                after the image data, "Raw profile type exif" and "exif" text chunks, XMP in iTXt/tEXt/zTXt; JPEG APP1
                Exif segments, joined, and XMP, the last one; WebP EXIF/XMP chunks, announced by VP8X or not), in the
                places it does not (GIF XMP, an ICO's PNG, APP2), each IFD entry type and the directory damage Pillow
                skips or raises on, and EXIF against XMP. These also carry transposed_sha256 and transposed_size, or
                transposed_error: what ImageOps.exif_transpose(Image.open(f)).convert("RGB") (transformers' load_image) gives.
                Also a zTXt/iTXt XMP cut inside its zlib stream (Pillow keeps what inflates) and an animated PNG's eXIf
                after its second frame's fcTL (unread: load_end stops there).
  apng_*        animated PNGs: convert("RGB") gives the IDAT image (also when it is not a frame); chunks after it are
                read up to the next fcTL in an animated file, to IEND otherwise (one frame, acTL of 0 frames, no acTL),
                where an fcTL/fdAT out of sequence or outside the image raises; a short acTL raises; a first frame smaller
                than the image is decoded into that region (apng_sub_frame_*: the rest black, or palette entry 0;
                an interlaced one at the top left; a zero-sized one refused); fdAT chunks without an IDAT are the image.
                An animated PNG cut in its next frame's fcTL header or body, or in the fdAT after it, or whose next fcTL
                type is not a chunk type or its length or the next fdAT's over 2^31 - 1, is read (load_end stops at that
                header; libpng refused the last two; fuzz_decode.py --formats png).
  png_short_*, png_iccp_*, png_*_over_max_text_chunk
                chunk bodies PngStream's handlers raise on before or after the image data (short pHYs, gAMA, cHRM, sRGB,
                tRNS, fcTL, fdAT; an iCCP without or with an unknown compression method; a zTXt/iTXt inflating past
                MAX_TEXT_CHUNK, 1 MiB), a short tIME (no handler: read) and a second IHDR after the image data (libpng
                refuses it, Pillow reads it).
  png_iend_*, png_*_before_iend, png_unknown_*_after_idat, png_*_at_end
                a damaged chunk header after the image data: an IEND with a wrong length or CRC, a type that is not a
                chunk type, a byte inserted before IEND, a critical type libpng does not know, an IEND type with a
                digit (Pillow's is_cid takes it; libpng wants letters) (all read by Pillow, refused by libpng); a text
                chunk whose length is over 2^31 - 1 (refused by both); the same after a cut zlib stream (refused). orient_png_exif_*: an eXIf before such a
                damaged IEND (read) and after a header that is not a chunk type (not read: load_end stops there).
  zlib_rows_then_*, zlib_ended_then_*, zlib_end_in_second_idat_*
                rows complete in the first IDAT chunk(s), garbage, deflate data or a bad CRC in a later one (all read).
  zlib_*        an IDAT zlib stream damaged after the last row's data: cut before its Adler-32 (or half of it) or its
                final block, or followed by bytes (all read by Pillow, which stops inflating once it has the rows; libpng
                refused the cut ones), a wrong Adler-32 or a bad block header right after the rows (refused: zlib reads
                them while it needs no output), the same in the next IDAT chunk or after a stored block's bytes (not
                read); and cut or damaged before the last row (both refuse). Also interlaced and 16-bit gray.
  zlib_ended_*  a zlib stream that ends whole (final block, Adler-32) before the last row: after a whole row (of an
                Adam7 pass, when interlaced) Pillow leaves the missing rows zero; inside a row, or with the Adler-32
                alone in the next IDAT chunk, it refuses. 8-bit RGB, 1-bit gray, 2-bit palette, 16-bit gray.
"""
import base64
import hashlib
import io
import os
import re
import struct
import sys
import warnings
import zlib

import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_bmp_cases import pillow, rle_bmp  # noqa: E402  (Pillow's decode SHA-256 or its exception; an RLE BMP)
from make_image_fixtures import ADAM7, png_filter, png_raw  # noqa: E402  (the hand-written PNG writer the image fixtures use)
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


def os2_bmp(w, h, bits, rows, palette=()):
    """An OS/2 1.x BMP (BITMAPCOREHEADER: 12 bytes, 16-bit width and height, 3-byte palette entries), bottom-up."""
    stride = (w * bits + 31) // 32 * 4
    data = b"".join(r.ljust(stride, b"\0") for r in rows[::-1])
    info = struct.pack("<IHHHH", 12, w, h, 1, bits)
    pal = b"".join(bytes([b, g, r]) for r, g, b in palette)
    offset = 14 + len(info) + len(pal)
    return b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset) + info + pal + data


def os2_cases():
    pal8 = [tuple(int(v) for v in pixels(1, 1, 3, 30 + i)[0, 0]) for i in range(256)]
    yield "os2_bmp24", os2_bmp(5, 3, 24, [pixels(5, 1, 3, 31 + y).tobytes() for y in range(3)])
    yield "os2_bmp8", os2_bmp(7, 3, 8, [pixels(7, 1, 1, 34 + y).tobytes() for y in range(3)], pal8)
    yield "os2_bmp8_short_palette", os2_bmp(4, 2, 8, [bytes([0, 1, 2, 3]), bytes([3, 2, 1, 0])], pal8[:4])
    yield "os2_bmp4", os2_bmp(5, 2, 4, [packed([0, 5, 10, 15, 3], 4), packed([15, 3, 2, 1, 7], 4)], pal8[:16])
    yield "os2_bmp1", os2_bmp(9, 2, 1, [packed([0, 1, 1, 0, 1, 0, 1, 1, 0], 1), packed([1, 0, 0, 1, 1, 1, 0, 0, 1], 1)],
                              [(200, 10, 30), (5, 250, 90)])
    yield "os2_bmp8_short_palette_high_indices", os2_bmp(4, 2, 8, [bytes([0, 1, 4, 200]), bytes([5, 6, 7, 255])], pal8[:4])
    yield "bmp8_short_palette_colors0", bmp(4, 2, 8, [bytes([0, 1, 2, 3]), bytes([3, 2, 1, 0])], pal8[:4], colors=0)
    # 16 palette bytes, 8 pixel bytes and 3 more: the 7th entry (index 6) has its B, G, R but not its X byte
    yield "bmp8_short_palette_entry_without_x", bmp(4, 2, 8, [bytes([0, 4, 5, 6]), bytes([7, 3, 2, 9])], pal8[:4], colors=0) + b"\x11\x22\x33"
    yield "bmp4_short_palette_colors0", bmp(5, 2, 4, [packed([0, 1, 5, 15, 2], 4), packed([3, 2, 1, 0, 9], 4)], pal8[:3], colors=0)
    yield "bmp8_palette_past_end_of_file", bmp(4, 2, 8, [bytes([0, 1, 2, 3]), bytes([3, 2, 1, 0])], pal8[:200])[:600]
    yield "os2_bmp4_gray_palette_4wide", os2_bmp(4, 2, 4, [packed([0, 5, 10, 15], 4), packed([15, 3, 2, 1], 4)], [(i, i, i) for i in range(16)])
    yield "os2_bmp8_black_white_palette", os2_bmp(13, 3, 8, [pixels(13, 1, 1, 10 + y).tobytes() for y in range(3)], [(0, 0, 0), (255, 255, 255)] + [(9, 9, 9)] * 254)
    yield "os2_bmp1_black_white", os2_bmp(9, 2, 1, [packed([0, 1, 1, 0, 1, 0, 1, 1, 0], 1), packed([1, 0, 0, 1, 1, 1, 0, 0, 1], 1)], [(0, 0, 0), (255, 255, 255)])
    yield "os2_bmp4_gray_palette_9wide_refused", os2_bmp(9, 2, 4, [packed(list(range(9)), 4)] * 2, [(i, i, i) for i in range(16)])
    yield "os2_bmp8_gray_palette", os2_bmp(6, 2, 8, [bytes(range(40, 46)), bytes(range(200, 206))], [(i, i, i) for i in range(256)])
    yield "os2_bmp2", os2_bmp(5, 2, 2, [packed([0, 1, 2, 3, 1], 2)] * 2, [(9, 9, 9), (80, 0, 0), (0, 90, 0), (0, 0, 99)])
    yield "os2_bmp24_cut", os2_bmp(5, 3, 24, [pixels(5, 1, 3, 31 + y).tobytes() for y in range(3)])[:-20]


def packed(indices, bits):
    """A row of palette indices packed MSB first."""
    return np.packbits(np.unpackbits(np.asarray(indices, np.uint8)[:, None], axis=1)[:, 8 - bits:].reshape(-1)).tobytes()


def bmp_rle_palette_end_cases():
    """An RLE8 BMP whose pixel offset points inside its palette, so the palette runs past the end of the file: Pillow's
    BGRX unpacker takes whole 4-byte entries only, so the last entry, with 3 of its bytes in the file, is black (read),
    as is one with all 4 (its colour)."""
    def file(tail):
        stream = bytes([4, 3, 0, 1])  # 4 pixels of index 3, end of bitmap
        dib = struct.pack("<IiiHHIIiiII", 40, 4, 1, 1, 8, 1, len(stream), 2835, 2835, 4, 0)
        pal = bytes([10, 20, 30, 0, 40, 50, 60, 0])  # entries 0 and 1; entry 2 is the stream, entry 3 the tail
        body = dib + pal + stream + tail
        return b"BM" + struct.pack("<IHHI", 14 + len(body), 0, 0, 14 + 40 + len(pal)) + body
    yield "bmp_rle8_palette_last_entry_3_bytes_past_end", file(b"\xaa\xbb\xcc")
    yield "bmp_rle8_palette_last_entry_whole_at_end", file(b"\xaa\xbb\xcc\x00")


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
    # A simple file (VP8 or VP8L first): the demuxer reads its image chunks and the header of the chunk after them,
    # which must fit in the RIFF payload, and nothing after that; the RIFF size counts the chunks added.
    riff = lambda body: b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body  # noqa: E731
    image = webp[12:]
    yield "webp_simple_then_short_anmf", riff(image + b"ANMF" + struct.pack("<I", 4) + bytes(4))
    yield "webp_simple_then_chunk_then_cut_header", riff(image + b"JUNK" + struct.pack("<I", 2) + bytes(2) + b"LIST")
    yield "webp_simple_then_chunk_past_riff_refused", riff(image + b"JUNK" + struct.pack("<I", 40) + bytes(2))
    yield "webp_simple_then_cut_header_refused", riff(image + b"JUN")
    b = io.BytesIO()
    Image.fromarray(pixels(3, 3, 3, 31)).save(b, "WEBP", lossless=True)
    yield "webp_lossless_simple_then_chunk_then_anim_past_riff", riff(b.getvalue()[12:] + b"abcd" + struct.pack("<I", 3) + bytes(4) + b"ANIM" + struct.pack("<I", 90))


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


def ico_file(entries, magic=1, gap=0):
    """An ICO (magic 2: CUR) of (width, height, colour count, bits per pixel, image bytes) entries, in that order, the
    images after the directory (gap bytes between them), each at its offset with its length as its size."""
    offset = 6 + 16 * len(entries) + gap
    head, body = struct.pack("<HHH", 0, magic, len(entries)), b""
    for w, h, colors, bpp, image in entries:
        head += struct.pack("<BBBBHHII", w % 256, h % 256, colors, 0, 1, bpp, len(image), offset + len(body))
        body += image + bytes(gap)
    return head + bytes(gap) + body


def dib_entry(bmp_file, seed, mask=True):
    """An ICO's BMP image: a BMP file's info header, palette and pixels (no file header), its height doubled, and an
    AND mask of random bits (rows of 32-bit words, bottom-up) after them."""
    dib = bmp_file[14:]
    size = struct.unpack_from("<I", dib)[0]
    w, h = struct.unpack_from("<HH" if size == 12 else "<ii", dib, 4)
    dib = dib[:4] + struct.pack("<HH" if size == 12 else "<ii", w, 2 * h) + dib[8 if size == 12 else 12:]
    stride = (w + 31) // 32 * 4
    return dib + (np.random.default_rng(seed).integers(0, 256, stride * abs(h)).astype(np.uint8).tobytes() if mask else b"")


def ico_cases():
    b = io.BytesIO()
    Image.fromarray(pixels(32, 32, 4, 50), "RGBA").save(b, "ICO", sizes=[(16, 16), (32, 32)])
    ico = b.getvalue()
    offset = struct.unpack("<I", ico[6 + 16 + 12:6 + 16 + 16])[0]  # the 32x32 entry, written second
    yield "ico_whole", ico
    yield "ico_largest_image_cut", ico[:offset + 60]
    yield "ico_png_cut_in_iend", ico[:-6]  # Pillow reads the PNG from its offset on, as the PNG file it is
    yield "ico_png_size_field_past_end", ico[:6 + 16 + 8] + struct.pack("<I", len(ico)) + ico[6 + 16 + 12:]
    pal16 = [tuple(int(v) for v in pixels(1, 1, 3, 230 + i)[0, 0]) for i in range(16)]
    b8 = bmp(6, 4, 8, [bytes(pixels(6, 1, 1, 240 + y)[0, :, 0] & 15) for y in range(4)], pal16)
    b24 = bmp(6, 4, 24, [pixels(6, 1, 3, 245 + y).tobytes() for y in range(4)])
    one = ico_file([(6, 4, 0, 8, dib_entry(b8, 250))])
    yield "ico_bmp8", one
    yield "ico_bmp8_mask_without_last_padding", one[:-3]  # the raw decoder does without the AND mask's last row padding
    yield "ico_bmp8_mask_cut_refused", one[:-4]
    yield "ico_bmp8_size_field_short", one[:14] + struct.pack("<I", 10) + one[18:]  # the AND mask read from the directory's bytes
    yield "ico_bmp8_top_down", ico_file([(6, 4, 0, 8, dib_entry(bmp(6, 4, 8, [bytes([y * 6 + x & 15 for x in range(6)]) for y in range(4)], pal16, top_down=True), 251))])
    yield "ico_bmp_depth_2_refused", one[:22 + 14] + struct.pack("<H", 2) + one[22 + 16:]
    yield "ico_bmp8_size_not_the_directory_size", ico_file([(16, 16, 0, 8, dib_entry(b8, 252))])
    yield "ico_same_area_lowest_depth_first", ico_file([(6, 4, 0, 24, dib_entry(b24, 253)), (6, 4, 0, 8, dib_entry(b8, 254))])
    yield "ico_same_area_first_in_file", ico_file([(6, 4, 0, 8, dib_entry(b8, 255)), (4, 6, 0, 8, dib_entry(b24, 256))])
    yield "ico_bmp8_said_32_bit_alpha_cut_refused", ico_file([(6, 4, 0, 32, dib_entry(b8, 257))])  # alpha: 4 bytes a pixel
    yield "ico_bmp8_said_32_bit", ico_file([(6, 4, 0, 32, dib_entry(b8, 258) + bytes(64))])
    rle = bytes([0, 3, 5, 6, 7, 0, 1, 9, 0, 0, 4, 11, 0, 1])  # an absolute run of 3, its pad byte 0: read as end of bitmap when not skipped
    rle8 = dib_entry(rle_bmp(4, 2, rle, pal16), 259)
    yield "ico_rle8_even_offset", ico_file([(4, 2, 0, 8, rle8)])
    yield "ico_rle8_odd_offset", ico_file([(4, 2, 0, 8, rle8)], gap=1)
    yield "ico_directory_cut_refused", one[:4] + struct.pack("<H", 5) + one[6:]
    yield "ico_no_entries_refused", one[:4] + struct.pack("<H", 0) + one[6:]



def cur_cases():
    pal16 = [tuple(int(v) for v in pixels(1, 1, 3, 270 + i)[0, 0]) for i in range(16)]
    gray16 = [(i * 17, i * 17, i * 17) for i in range(16)]
    gray_l = [(i, i, i) for i in range(16)]
    b24 = bmp(5, 3, 24, [pixels(5, 1, 3, 271 + y).tobytes() for y in range(3)])
    b8 = bmp(6, 4, 8, [bytes(pixels(6, 1, 1, 275 + y)[0, :, 0] & 15) for y in range(4)], pal16)
    l4 = bmp(6, 4, 4, [packed(list(pixels(6, 1, 1, 280 + y)[0, :, 0] & 15), 4) for y in range(4)], gray_l)
    bw = bmp(9, 3, 1, [packed(list(pixels(9, 1, 1, 285 + y)[0, :, 0] & 1), 1) for y in range(3)], [(0, 0, 0), (255, 255, 255)])
    yield "cur_bmp24", ico_file([(5, 3, 0, 24, dib_entry(b24, 290))], magic=2)
    yield "cur_bmp8", ico_file([(6, 4, 0, 8, dib_entry(b8, 291))], magic=2)
    yield "cur_gray4_as_8_bit_rows_refused", ico_file([(6, 4, 16, 4, dib_entry(l4, 292))], magic=2)  # mode L: 6-byte rows of 4
    l8 = dib_entry(bmp(6, 4, 8, [bytes(pixels(6, 1, 1, 282 + y)[0, :, 0] & 15) for y in range(4)], gray_l), 283)
    mask = pixels(8, 4, 1, 284).tobytes()  # the AND mask read whole as 8-bit gray rows: blends where it is not 0 or 255
    yield "cur_gray8_masked", ico_file([(6, 4, 16, 8, l8[:40 + 64 + 32] + mask)], magic=2)
    yield "cur_black_white_masked", ico_file([(9, 3, 2, 1, dib_entry(bw, 293))], magic=2)
    yield "cur_gray_not_l_palette", ico_file([(6, 4, 16, 4, dib_entry(bmp(6, 4, 4, [bytes(3)] * 4, gray16), 294))], magic=2)
    odd = l8[:40 + 64 + 32] + mask + bytes(8)
    yield "cur_gray_odd_height_refused", ico_file([(6, 4, 16, 8, odd[:8] + struct.pack("<i", 9) + odd[12:])], magic=2)
    yield "cur_png_refused", ico_file([(5, 3, 0, 32, png_file(5, 3, [png_chunk(b"IDAT", zlib.compress(bytes(16) * 3))]))], magic=2)
    yield "cur_second_larger", ico_file([(5, 3, 0, 24, dib_entry(b24, 296)), (6, 4, 0, 8, dib_entry(b8, 297))], magic=2)
    yield "cur_second_wider_only", ico_file([(5, 3, 0, 24, dib_entry(b24, 298)), (6, 3, 0, 8, dib_entry(b8, 299))], magic=2)
    one = ico_file([(6, 4, 0, 8, dib_entry(b8, 300))], magic=2)
    yield "cur_offset_zero", one[:18] + struct.pack("<I", 0) + one[22:]  # read on after the directory
    yield "cur_directory_runs_into_image", one[:4] + struct.pack("<H", 3) + one[6:]  # the image bytes as entries


def wbmp_cases():
    yield "wbmp_8x2", b"\0\0\x08\x02\xa5\x5a"


# ---- EXIF / XMP orientation (ImageOps.exif_transpose, which transformers' load_image applies) ----

XMP_ATTR = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' \
           '<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="{}"/></rdf:RDF></x:xmpmeta>'
XMP_ELEM = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' \
           '<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/"><tiff:Orientation>{}</tiff:Orientation>' \
           '</rdf:Description></rdf:RDF></x:xmpmeta>'


def tiff(entries, endian="<", magic=None, ifd_offset=8, tail=b""):
    """A TIFF header and IFD0 (as EXIF holds them): entries are (tag, type, count, value bytes); values over four
    bytes go after the IFD. magic replaces the four header bytes; tail is appended."""
    e = endian
    head = magic if magic is not None else (b"II*\0" if e == "<" else b"MM\0*")
    body = struct.pack(e + "H", len(entries))
    extra = b""
    data_at = ifd_offset + 2 + 12 * len(entries) + 4
    for tag, typ, count, value in entries:
        if len(value) <= 4:
            field = value.ljust(4, b"\0")
        else:
            field = struct.pack(e + "I", data_at + len(extra))
            extra += value
        body += struct.pack(e + "HHI", tag, typ, count) + field
    body += struct.pack(e + "I", 0)
    return head + struct.pack(e + "I", ifd_offset) + bytes(ifd_offset - 8) + body + extra + tail


def short(v, e="<"):
    return (274, 3, 1, struct.pack(e + "H", v))


def exif_tiff(v, e="<"):
    return tiff([short(v, e)], e)


def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png_with(before=(), after=(), seed=60):
    """A 4x3 RGB PNG with the given (tag, data) chunks before IDAT and after it (before IEND)."""
    path = os.path.join(os.path.dirname(OUT), "_decode_case.png")
    png_raw(path, pixels(4, 3, 3, seed), 8, 2)
    with open(path, "rb") as f:
        png = f.read()
    os.remove(path)
    ihdr_end, iend = 8 + 25, len(png) - 12
    return (png[:ihdr_end] + b"".join(png_chunk(t, d) for t, d in before) + png[ihdr_end:iend]
            + b"".join(png_chunk(t, d) for t, d in after) + png[iend:])


def itxt(key, text, compressed=False):
    v = zlib.compress(text) if compressed else text
    return b"iTXt", key + b"\0" + bytes([int(compressed), 0]) + b"\0\0" + v


def raw_profile(exif):
    return f"\nexif\n{len(exif):8}\n{exif.hex()}\n".encode()


def jpeg_with(segments, jfif_dpi=False, seed=61):
    """A 5x3 gray baseline JPEG (quality 95) with the given (marker, payload) segments right after SOI (and its JFIF APP0,
    whose density unit is 1, dots per inch, with jfif_dpi)."""
    b = io.BytesIO()
    Image.fromarray(pixels(5, 3, 1, seed)[:, :, 0]).save(b, "JPEG", quality=95, **({"dpi": (72, 72)} if jfif_dpi else {}))
    j = b.getvalue()
    at = 2 + 2 + struct.unpack(">H", j[4:6])[0] if j[2:4] == b"\xff\xe0" else 2
    return j[:at] + b"".join(bytes([0xFF, m]) + struct.pack(">H", len(p) + 2) + p for m, p in segments) + j[at:]


def app1_exif(t):
    return 0xE1, b"Exif\0\0" + t


def app1_xmp(text):
    return 0xE1, b"http://ns.adobe.com/xap/1.0/\0" + text.encode()


def webp_with(exif=None, xmp=None, seed=62):
    b = io.BytesIO()
    args = {k: v for k, v in (("exif", exif), ("xmp", xmp)) if v is not None}
    Image.fromarray(pixels(4, 3, 3, seed)).save(b, "WEBP", lossless=True, **args)
    return b.getvalue()


def orientation_cases():
    le = lambda *entries, **kw: tiff(list(entries), **kw)  # noqa: E731
    for v in (2, 3, 4, 5, 6, 7, 8):
        yield f"orient_png_exif_{v}", png_with([(b"eXIf", exif_tiff(v))])
    yield "orient_png_exif_0", png_with([(b"eXIf", exif_tiff(0))])
    yield "orient_png_exif_9", png_with([(b"eXIf", exif_tiff(9))])
    yield "orient_png_exif_big_endian", png_with([(b"eXIf", exif_tiff(6, ">"))])
    yield "orient_png_exif_after_idat", png_with(after=[(b"eXIf", exif_tiff(6))])
    yield "orient_png_exif_two_chunks_last_wins", png_with([(b"eXIf", exif_tiff(3))], [(b"eXIf", exif_tiff(6))])
    yield "orient_png_exif_with_exif_prefix", png_with([(b"eXIf", b"Exif\0\0" + exif_tiff(6))])
    yield "orient_png_exif_two_exif_prefixes", png_with([(b"eXIf", b"Exif\0\0Exif\0\0" + exif_tiff(6))])
    yield "orient_png_exif_bad_header", png_with([(b"eXIf", b"XX*\0\x08\0\0\0" + exif_tiff(6)[8:])])
    yield "orient_png_exif_short_header", png_with([(b"eXIf", b"II*\0\x08")])
    yield "orient_png_exif_bigtiff_header", png_with([(b"eXIf", b"II+\0\x08\0\0\0" + exif_tiff(6)[8:])])
    yield "orient_png_exif_empty_then_xmp", png_with([(b"eXIf", b""), itxt(b"XML:com.adobe.xmp", XMP_ATTR.format(6).encode())])
    yield "orient_png_exif_swapped_magic", png_with([(b"eXIf", b"II\0*" + exif_tiff(6)[4:])])
    yield "orient_png_exif_ifd_past_end", png_with([(b"eXIf", b"II*\0\xff\0\0\0")])
    yield "orient_png_exif_long", png_with([(b"eXIf", le((274, 4, 1, struct.pack("<I", 6))))])
    yield "orient_png_exif_long_high_bits", png_with([(b"eXIf", le((274, 4, 1, struct.pack("<I", 0x10006))))])
    yield "orient_png_exif_sshort", png_with([(b"eXIf", le((274, 8, 1, struct.pack("<h", 8))))])
    yield "orient_png_exif_sbyte", png_with([(b"eXIf", le((274, 6, 1, b"\x05")))])
    yield "orient_png_exif_byte", png_with([(b"eXIf", le((274, 1, 1, b"\x06")))])
    yield "orient_png_exif_ascii", png_with([(b"eXIf", le((274, 2, 2, b"6\0")))])
    yield "orient_png_exif_undefined", png_with([(b"eXIf", le((274, 7, 1, b"\x06")))])
    yield "orient_png_exif_rational_12_2", png_with([(b"eXIf", le((274, 5, 1, struct.pack("<II", 12, 2))))])
    yield "orient_png_exif_rational_13_2", png_with([(b"eXIf", le((274, 5, 1, struct.pack("<II", 13, 2))))])
    yield "orient_png_exif_rational_zero_den", png_with([(b"eXIf", le((274, 5, 1, struct.pack("<II", 6, 0))))])
    yield "orient_png_exif_srational_neg", png_with([(b"eXIf", le((274, 10, 1, struct.pack("<ii", -14, -2))))])
    yield "orient_png_exif_float", png_with([(b"eXIf", le((274, 11, 1, struct.pack("<f", 3.0))))])
    yield "orient_png_exif_double", png_with([(b"eXIf", le((274, 12, 1, struct.pack("<d", 8.0))))])
    yield "orient_png_exif_ifd_type", png_with([(b"eXIf", le((274, 13, 1, struct.pack("<I", 2))))])
    yield "orient_png_exif_long8", png_with([(b"eXIf", le((274, 16, 1, struct.pack("<Q", 4))))])
    yield "orient_png_exif_count2_first", png_with([(b"eXIf", le((274, 3, 2, struct.pack("<HH", 6, 3))))])
    yield "orient_png_exif_count3_out_of_line", png_with([(b"eXIf", le((274, 3, 3, struct.pack("<HHH", 7, 3, 3))))])
    yield "orient_png_exif_zero_count_then_dup", png_with([(b"eXIf", le((274, 3, 0, b""), short(5)))])
    yield "orient_png_exif_duplicate_first_wins", png_with([(b"eXIf", le(short(3), short(6)))])
    yield "orient_png_exif_unknown_type_then_dup", png_with([(b"eXIf", le((274, 99, 1, b"\x06"), short(8)))])
    cut = tiff([(270, 2, 20, b"abcdefghijklmnopqrs\0"), short(6)])  # 58 bytes, the description's 20 at 38
    yield "orient_png_exif_out_of_line_past_end", png_with([(b"eXIf", cut[:48])])  # Pillow's IFD load stops there
    yield "orient_png_exif_entries_cut", png_with([(b"eXIf", tiff([short(6), (270, 2, 2, b"a\0")])[:8 + 2 + 12 + 5])])
    yield "orient_png_exif_in_ifd1_only", png_with([(b"eXIf", b"II*\0\x08\0\0\0" + struct.pack("<H", 0) + struct.pack("<I", 14)
                                                     + struct.pack("<H", 1) + struct.pack("<HHI", 274, 3, 1) + b"\x06\0\0\0" + b"\0" * 4)])
    yield "orient_png_raw_profile", png_with([(b"tEXt", b"Raw profile type exif\0" + raw_profile(b"Exif\0\0" + exif_tiff(6)))])
    yield "orient_png_raw_profile_ztxt", png_with([(b"zTXt", b"Raw profile type exif\0\0" + zlib.compress(raw_profile(exif_tiff(5))))])
    yield "orient_png_raw_profile_bad_hex", png_with([(b"tEXt", b"Raw profile type exif\0\nexif\n 8\nzz49492a00\n")])
    yield "orient_png_raw_profile_and_exif", png_with([(b"eXIf", exif_tiff(3)),
                                                        (b"tEXt", b"Raw profile type exif\0" + raw_profile(exif_tiff(6)))])
    yield "orient_png_text_exif_key", png_with([(b"tEXt", b"exif\0" + exif_tiff(6))])
    yield "orient_png_ztxt_exif_key", png_with([(b"zTXt", b"exif\0\0" + zlib.compress(exif_tiff(6)))])
    yield "orient_png_xmp_itxt_attr", png_with([itxt(b"XML:com.adobe.xmp", XMP_ATTR.format(6).encode())])
    yield "orient_png_xmp_itxt_element", png_with([itxt(b"XML:com.adobe.xmp", XMP_ELEM.format(8).encode())])
    yield "orient_png_xmp_itxt_compressed", png_with([itxt(b"XML:com.adobe.xmp", XMP_ATTR.format(3).encode(), compressed=True)])
    yield "orient_png_xmp_itxt_after_idat", png_with(after=[itxt(b"XML:com.adobe.xmp", XMP_ATTR.format(6).encode())])
    yield "orient_png_xmp_text", png_with([(b"tEXt", b"XML:com.adobe.xmp\0" + XMP_ATTR.format(7).encode())])
    yield "orient_png_xmp_ztxt", png_with([(b"zTXt", b"XML:com.adobe.xmp\0\0" + zlib.compress(XMP_ATTR.format(2).encode()))])
    yield "orient_png_xmp_text_over_itxt", png_with([itxt(b"XML:com.adobe.xmp", XMP_ATTR.format(6).encode()),
                                                     (b"tEXt", b"XML:com.adobe.xmp\0" + XMP_ATTR.format(3).encode())])
    yield "orient_png_xmp_itxt_bad_utf8", png_with([itxt(b"XML:com.adobe.xmp", b"\xff" + XMP_ATTR.format(5).encode())])
    yield "orient_png_xmp_ztxt_bad_zlib_then_itxt", png_with([itxt(b"XML:com.adobe.xmp", b"\xff" + XMP_ATTR.format(4).encode()),
                                                             (b"zTXt", b"XML:com.adobe.xmp\0\0not zlib")])
    yield "orient_png_xmp_two_digits", png_with([itxt(b"XML:com.adobe.xmp", XMP_ATTR.format(63).encode())])
    yield "orient_png_xmp_single_quotes", png_with([itxt(b"XML:com.adobe.xmp", XMP_ATTR.format(6).replace('"6"', "'6'").encode())])
    yield "orient_png_xmp_first_match", png_with([itxt(b"XML:com.adobe.xmp", (XMP_ELEM.format(2) + XMP_ATTR.format(6)).encode())])
    yield "orient_png_xmp_other_key", png_with([itxt(b"XML:com.adobe.xmpX", XMP_ATTR.format(6).encode())])
    yield "orient_png_exif_and_xmp_disagree", png_with([(b"eXIf", exif_tiff(3)), itxt(b"XML:com.adobe.xmp", XMP_ATTR.format(6).encode())])
    yield "orient_png_exif_1_and_xmp", png_with([(b"eXIf", exif_tiff(1)), itxt(b"XML:com.adobe.xmp", XMP_ATTR.format(6).encode())])
    yield "orient_png_exif_no_tag_and_xmp", png_with([(b"eXIf", le((270, 2, 2, b"a\0"))),
                                                      itxt(b"XML:com.adobe.xmp", XMP_ATTR.format(6).encode())])
    yield "orient_png_exif_bad_header_and_xmp", png_with([(b"eXIf", b"XX*\0\x08\0\0\0"), itxt(b"XML:com.adobe.xmp", XMP_ATTR.format(6).encode())])

    yield "orient_jpeg_exif_6", jpeg_with([app1_exif(exif_tiff(6))])
    yield "orient_jpeg_exif_long_3", jpeg_with([app1_exif(le((274, 4, 1, struct.pack("<I", 3))))])
    yield "orient_jpeg_exif_rational_8", jpeg_with([app1_exif(le((274, 5, 1, struct.pack("<II", 16, 2))))])
    yield "orient_jpeg_exif_count2_first", jpeg_with([app1_exif(le((274, 3, 2, struct.pack("<HH", 5, 3))))])
    yield "orient_jpeg_exif_duplicate_first_wins", jpeg_with([app1_exif(le(short(3), short(6)))])
    two = tiff([short(8)], ifd_offset=8)
    yield "orient_jpeg_exif_two_segments_joined", jpeg_with([app1_exif(b"II*\0" + struct.pack("<I", 8 + 4)), app1_exif(b"\0" * 4 + two[8:])])
    yield "orient_jpeg_exif_two_segments_first_wins", jpeg_with([app1_exif(exif_tiff(3)), app1_exif(exif_tiff(6))])
    yield "orient_jpeg_exif_second_only_valid", jpeg_with([app1_exif(b"II*\0\xff\0\0\0"), app1_exif(exif_tiff(6))])
    yield "orient_jpeg_xmp_6", jpeg_with([app1_xmp(XMP_ATTR.format(6))])
    yield "orient_jpeg_xmp_two_last_wins", jpeg_with([app1_xmp(XMP_ATTR.format(6)), app1_xmp(XMP_ELEM.format(3))])
    yield "orient_jpeg_exif_and_xmp_disagree", jpeg_with([app1_xmp(XMP_ATTR.format(6)), app1_exif(exif_tiff(8))])
    yield "orient_jpeg_exif_no_tag_and_xmp", jpeg_with([app1_exif(le((270, 2, 2, b"a\0"))), app1_xmp(XMP_ATTR.format(5))])
    yield "orient_jpeg_exif_bad_header_and_xmp", jpeg_with([app1_exif(b"XX*\0\x08\0\0\0"), app1_xmp(XMP_ATTR.format(6))])
    yield "orient_jpeg_exif_bad_header_jfif_dpi", jpeg_with([app1_exif(b"XX*\0\x08\0\0\0"), app1_xmp(XMP_ATTR.format(6))], jfif_dpi=True)
    yield "orient_jpeg_exif_prefix_only", jpeg_with([(0xE1, b"Exif\0\0"), app1_xmp(XMP_ATTR.format(7))])
    yield "orient_jpeg_xmp_prefix_wrong", jpeg_with([(0xE1, b"http://ns.adobe.com/xap/1.0/ " + XMP_ATTR.format(6).encode())])
    yield "orient_jpeg_exif_in_app2", jpeg_with([(0xE2, b"Exif\0\0" + exif_tiff(6))])
    yield "orient_jpeg_exif_big_endian_sshort", jpeg_with([app1_exif(tiff([(274, 8, 1, struct.pack(">h", 2))], ">"))])

    yield "orient_webp_exif_6", webp_with(exif=b"Exif\0\0" + exif_tiff(6))
    yield "orient_webp_exif_no_prefix_long", webp_with(exif=le((274, 4, 1, struct.pack("<I", 5))))
    yield "orient_webp_xmp_8", webp_with(xmp=XMP_ELEM.format(8).encode())
    yield "orient_webp_exif_and_xmp_disagree", webp_with(exif=exif_tiff(3), xmp=XMP_ATTR.format(6).encode())
    yield "orient_webp_exif_bad_header", webp_with(exif=b"XX*\0\x08\0\0\0")
    yield "orient_webp_exif_no_tag_and_xmp", webp_with(exif=le((270, 2, 2, b"a\0")), xmp=XMP_ATTR.format(7).encode())
    w = webp_with(exif=exif_tiff(6))
    yield "orient_webp_exif_flag_cleared", w[:20] + bytes([w[20] & ~0x08]) + w[21:]  # libwebp's demuxer drops the chunk
    w = webp_with(xmp=XMP_ATTR.format(6).encode())
    yield "orient_webp_xmp_flag_cleared", w[:20] + bytes([w[20] & ~0x04]) + w[21:]

    b = io.BytesIO()
    Image.fromarray(pixels(4, 3, 3, 64)).save(b, "GIF")
    g = b.getvalue()
    xmp_ext = b"\x21\xff\x0bXMP DataXMP" + bytes([len(XMP_ATTR.format(6))]) + XMP_ATTR.format(6).encode()[:255] + b"\0"
    yield "orient_gif_xmp_ignored", g[:-1] + xmp_ext + g[-1:]
    inner = png_with([(b"eXIf", exif_tiff(6))], seed=65)  # an ICO of one 4x3 PNG image that has an orientation
    yield "orient_ico_png_exif_ignored", struct.pack("<HHHBBBBHHII", 0, 1, 1, 4, 3, 0, 0, 1, 32, len(inner), 22) + inner
    w = webp_with(exif=exif_tiff(6))
    extra = b"EXIF" + struct.pack("<I", len(exif_tiff(3))) + exif_tiff(3)
    yield "orient_webp_two_exif_chunks_first_wins", b"RIFF" + struct.pack("<I", len(w) - 8 + len(extra)) + w[8:] + extra
    yield "orient_png_text_xmp_key", png_with([(b"tEXt", b"xmp\0" + XMP_ATTR.format(6).encode())])
    yield "orient_png_itxt_exif_key", png_with([itxt(b"exif", exif_tiff(6))])
    hexed = raw_profile(exif_tiff(8)).decode()
    yield "orient_png_raw_profile_wrapped", png_with([(b"tEXt", b"Raw profile type exif\0" + (hexed[:25] + "\n" + hexed[25:41] + "\n  " + hexed[41:]).encode())])
    yield "orient_png_raw_profile_two_lines_then_xmp", png_with([(b"tEXt", b"Raw profile type exif\0\nexif"),
                                                                 itxt(b"XML:com.adobe.xmp", XMP_ATTR.format(6).encode())])
    b = io.BytesIO()
    Image.fromarray(pixels(4, 3, 3, 66)).save(b, "BMP")
    yield "orient_bmp_none", b.getvalue()
    b = io.BytesIO()
    Image.fromarray(pixels(4, 3, 3, 67)).save(b, "PNG", exif=exif_tiff(6))
    yield "orient_png_pillow_saved_exif", b.getvalue()


# ---- near-complete files: the end of a file missing, damaged or followed by bytes ----

def near_complete_cases():
    png = png_with(seed=70)
    iend = len(png) - 12
    idat_end = iend  # the IDAT's CRC ends where IEND begins
    idat_len = struct.unpack(">I", png[33:37])[0]
    yield "near_png_no_iend", png[:iend]
    yield "near_png_iend_crc_cut", png[:-4]
    yield "near_png_iend_crc_wrong", png[:-4] + b"\0\0\0\0"
    yield "near_png_idat_crc_cut", png[:idat_end - 4]
    yield "near_png_idat_crc_wrong", png[:idat_end - 4] + b"\0\0\0\0" + png[iend:]
    yield "near_png_idat_cut_by_one", png[:idat_end - 5]
    yield "near_png_idat_adler_cut", png[:33 + 8 + idat_len - 4]
    yield "near_png_trailing_bytes", png + b"\0garbage after IEND"
    yield "near_png_garbage_instead_of_iend", png[:iend] + b"\x00\x01\x02\x03\x04\x05\x06\x07\x08"
    yield "near_png_chunk_header_past_end", png[:iend] + struct.pack(">I", 100) + b"abCD" + b"xyz"
    yield "near_png_text_after_idat_cut", png[:iend] + png_chunk(b"tEXt", b"Comment\0hello")[:-6]
    yield "near_png_ztxt_unknown_method", png_with([(b"zTXt", b"Comment\0\x01" + zlib.compress(b"hi"))], seed=70)
    yield "near_png_ztxt_unknown_method_after_idat", png_with(after=[(b"zTXt", b"Comment\0\x01" + zlib.compress(b"hi"))], seed=70)

    b = io.BytesIO()
    Image.fromarray(pixels(16, 16, 3, 71)).save(b, "JPEG", quality=90)
    jpg = b.getvalue()
    yield "near_jpeg_no_eoi", jpg[:-2]
    yield "near_jpeg_half_eoi", jpg[:-1]
    yield "near_jpeg_cut_by_8", jpg[:-8]
    yield "near_jpeg_trailing_bytes", jpg + b"\0\1\2 trailing"
    yield "near_jpeg_trailing_ff", jpg + b"\xff"
    yield "near_jpeg_second_image_after_eoi", jpg + jpg
    b = io.BytesIO()
    Image.fromarray(pixels(16, 16, 3, 72)).save(b, "JPEG", quality=90, progressive=True)
    prog = b.getvalue()
    yield "near_jpeg_progressive_no_eoi", prog[:-2]
    yield "near_jpeg_progressive_trailing_bytes", prog + b"\0\0\0\0"

    b = io.BytesIO()
    Image.fromarray(pixels(8, 6, 3, 73)).convert("P").save(b, "GIF")
    gif = b.getvalue()
    yield "near_gif_no_trailer", gif[:-1]
    yield "near_gif_no_block_terminator", gif[:-2]
    yield "near_gif_trailing_bytes", gif + b"\0\1\2\3"
    yield "near_gif_lzw_cut", gif[:-6]

    w = webp_with(seed=74)
    riff = struct.unpack("<I", w[4:8])[0]
    for d in (-2, -1, 1, 2):
        yield f"near_webp_riff_size_{'minus' if d < 0 else 'plus'}_{abs(d)}", w[:4] + struct.pack("<I", riff + d) + w[8:]
    yield "near_webp_riff_size_plus_2_padded", w[:4] + struct.pack("<I", riff + 2) + w[8:] + b"\0\0"
    yield "near_webp_trailing_bytes_odd", w + b"\0"

    b = io.BytesIO()
    Image.fromarray(pixels(5, 3, 3, 75)).save(b, "BMP")
    bm = b.getvalue()
    yield "near_bmp_trailing_bytes", bm + b"\0\1\2\3\4\5"
    yield "near_bmp_file_size_too_big", bm[:2] + struct.pack("<I", len(bm) + 100) + bm[6:]
    yield "near_bmp_file_size_too_small", bm[:2] + struct.pack("<I", 14) + bm[6:]
    yield "near_bmp_last_row_cut", bm[:-16]
    yield "near_bmp_one_byte_short", bm[:-2]


def apng_frame_control(seq, w=4, h=3, x=0, y=0):
    """An fcTL body: sequence number, frame size and offset, a 1/10 s delay, no disposal, source blending."""
    return struct.pack(">IIIIIHHBB", seq, w, h, x, y, 1, 10, 0, 0)


def apng_parts(seed=80):
    """A 4x3 PNG split as (signature + IHDR, its IDAT chunk, IEND), and an fdAT maker from a second image's IDAT."""
    png, second = png_with(seed=seed), png_with(seed=seed + 1)
    n = struct.unpack(">I", second[33:37])[0]
    return png[:33], png[33:-12], png[-12:], lambda seq: png_chunk(b"fdAT", struct.pack(">I", seq) + second[41:41 + n])


def apng_cases():
    head, idat, iend, fdat = apng_parts()
    actl = lambda n: png_chunk(b"acTL", struct.pack(">II", n, 0))  # noqa: E731
    fctl = lambda seq, **k: png_chunk(b"fcTL", apng_frame_control(seq, **k))  # noqa: E731
    yield "apng_two_frames", head + actl(2) + fctl(0) + idat + fctl(1) + fdat(2) + iend
    yield "apng_default_image_not_a_frame", head + actl(1) + idat + fctl(0) + fdat(1) + iend
    yield "apng_second_fctl_out_of_sequence", head + actl(2) + fctl(0) + idat + fctl(5) + fdat(6) + iend
    yield "apng_one_frame_fctl_out_of_sequence_after_idat", head + actl(1) + fctl(0) + idat + fctl(5) + fdat(6) + iend
    yield "apng_one_frame_fdat_out_of_sequence_after_idat", head + actl(1) + fctl(0) + idat + fdat(3) + iend
    two = head + actl(2) + fctl(0) + idat + fctl(1) + fdat(2) + iend
    second = len(head + actl(2) + fctl(0) + idat)  # the next frame's fcTL: load_end reads its header and stops
    yield "apng_cut_in_next_fctl_body", two[:second + 20]
    yield "apng_cut_in_fdat_after_next_fctl", two[:second + 38 + 20]
    yield "apng_next_fctl_type_damaged_then_fdat", two[:second + 6] + b">" + two[second + 7:]
    yield "apng_cut_in_next_fctl_header", two[:second + 6]
    yield "apng_next_fctl_length_over_2_31", two[:second] + b"\xff" + two[second + 1:]
    fdat_at = second + 38
    yield "apng_fdat_length_over_2_31_after_next_fctl", two[:fdat_at] + b"\xff" + two[fdat_at + 1:]
    yield "apng_zero_frames_out_of_sequence", head + actl(0) + fctl(0) + idat + fctl(3) + fdat(4) + iend
    yield "apng_first_frame_smaller_than_image", head + actl(2) + fctl(0, w=2, h=2) + idat + fctl(1) + fdat(2) + iend
    yield "apng_actl_short", head + png_chunk(b"acTL", b"\0\0\0\2\0\0") + fctl(0) + idat + iend
    yield "png_fdat_after_idat", head + idat + fdat(0) + iend
    yield "apng_image_data_in_fdat_only", head + actl(1) + fctl(0) + fdat(1) + iend  # no IDAT: Pillow decodes the fdAT
    yield "png_fctl_outside_image_after_idat", head + idat + fctl(0, w=9) + iend
    # A chunk whose type has the reserved bit set (zzzz, fdoT) after an fcTL that follows the image data: Skia refuses
    # it (png_skipped_chunk_cases), Pillow's load_end stops at the fcTL of an animated PNG and reads on in another: all
    # are read.
    unknown = png_chunk(b"zzzz", b"abc")
    yield "apng_unknown_chunk_after_next_fctl", head + actl(2) + fctl(0) + idat + fctl(1) + unknown + fdat(2) + iend
    yield "apng_unknown_chunk_after_next_frame", head + actl(2) + fctl(0) + idat + fctl(1) + fdat(2) + unknown + iend
    yield "apng_next_fdat_type_damaged", two[:fdat_at + 6] + b"o" + two[fdat_at + 7:]  # fdAT -> fdoT, its CRC wrong
    yield "png_unknown_chunk_after_fctl_without_actl", head + idat + fctl(0) + unknown + iend


def png_skipped_chunk_cases():
    """Chunks that Pillow passes over without using them for the pixels and that Skia refuses: a chunk whose type has
    the reserved bit set (a lower-case third letter: zzzz, abcd) before the image data, or after it but not straight
    after it; a second PLTE before the image data of a palette image (chunk_PLTE keeps the last), one after it, and an
    empty one in an RGB image; a PLTE whose length is no multiple of 3 in a palette image (Pillow keeps its whole
    entries); a reserved chunk and a second PLTE between two runs of IDAT chunks. Read by both before: abCd (the
    reserved bit clear) and ABCD (an unknown critical chunk) before the image data, and a PLTE of 4 bytes in an RGB
    image."""
    text = (b"tEXt", b"key\x00value")
    yield "png_reserved_chunk_before_idat", png_with(before=[(b"zzzz", b"abc")])
    yield "png_reserved_chunk_after_text_after_idat", png_with(after=[text, (b"abcd", b"abc")])
    yield "png_reserved_chunk_straight_after_idat", png_with(after=[(b"abcd", b"abc"), text])
    yield "png_unreserved_private_chunk_before_idat", png_with(before=[(b"abCd", b"abc")])
    yield "png_unknown_critical_chunk_before_idat", png_with(before=[(b"ABCD", b"abc")])
    yield "png_palette_in_rgb_of_4_bytes", png_with(before=[(b"PLTE", b"\x10\x20\x30\x40")])
    yield "png_empty_palette_in_rgb", png_with(before=[(b"PLTE", b"")])
    b = io.BytesIO()
    Image.fromarray(pixels(7, 5, 3, 170)).quantize(6).save(b, "PNG", bits=4)
    p = b.getvalue()
    at = p.index(b"PLTE") - 4
    n = struct.unpack(">I", p[at:at + 4])[0]
    plte, rest = p[at + 8:at + 8 + n], p[at + 12 + n:]
    head = p[:at]
    yield "png_two_palettes_before_idat", head + png_chunk(b"PLTE", bytes(range(200, 218))) + png_chunk(b"PLTE", plte) + rest
    idat_end = len(rest) - 12
    yield "png_second_palette_after_idat", head + png_chunk(b"PLTE", plte) + rest[:idat_end] + png_chunk(b"PLTE", bytes(18)) + rest[idat_end:]
    yield "png_palette_of_10_bytes", head + png_chunk(b"PLTE", plte[:10]) + rest
    # Between two runs of IDAT chunks (Pillow decodes the first, which holds every row, and skips the second): a
    # reserved chunk and a second PLTE; Skia refuses both, so the data is cut after the first run.
    idat = rest[:idat_end]
    yield "png_reserved_chunk_between_idat_runs", head + png_chunk(b"PLTE", plte) + idat + png_chunk(*text) + png_chunk(b"abcd", b"x") + idat + rest[idat_end:]
    yield "png_second_palette_between_idat_runs", head + png_chunk(b"PLTE", plte) + idat + png_chunk(b"PLTE", bytes(18)) + idat + rest[idat_end:]


def png_chunk_handler_cases():
    """Chunk bodies Pillow's PngStream handlers raise on (before or after the image data) and a few they read."""
    head, idat, iend, _ = apng_parts()
    after = lambda tag, body: head + idat + png_chunk(tag, body) + iend  # noqa: E731
    for tag, n in ((b"pHYs", 8), (b"gAMA", 3), (b"cHRM", 31), (b"sRGB", 0), (b"tRNS", 5), (b"fcTL", 25), (b"fdAT", 3)):
        yield f"png_short_{tag.decode()}_after_idat", after(tag, bytes(n))
    yield "png_short_pHYs_before_idat", head + png_chunk(b"pHYs", bytes(8)) + idat + iend
    yield "png_short_tIME_after_idat", after(b"tIME", bytes(2))  # no handler: read
    yield "png_iccp_no_method_after_idat", after(b"iCCP", b"abc\0")
    yield "png_iccp_method_1_after_idat", after(b"iCCP", b"p\0\x01" + zlib.compress(b"x"))
    yield "png_second_ihdr_after_idat", head + idat + head[8:] + iend  # libpng refuses it, Pillow reads it
    too_big = zlib.compress(bytes(1024 * 1024 + 1), 9)  # MAX_TEXT_CHUNK is 1 MiB
    yield "png_ztxt_over_max_text_chunk", head + png_chunk(b"zTXt", b"k\0\0" + too_big) + idat + iend
    yield "png_itxt_over_max_text_chunk_after_idat", after(b"iTXt", b"k\0\x01\0\0\0" + too_big)


def png_preset_dictionary_cases():
    """zlib streams whose header asks for a preset dictionary (FDICT; zlib: Z_NEED_DICT, which .NET raises as another
    exception than a data error): in a zTXt or a compressed iTXt (read: Pillow keeps no text), in the IDAT (refused
    by both), and the fuzz's file whose image data became one by a byte inserted after it (refused)."""
    head, idat, iend, _ = apng_parts()
    fdict = b"\x78\x20" + b"\0\0\0\1" + zlib.compress(b"text", 9)[2:]  # FLG bit 5: a dictionary id follows
    yield "png_ztxt_preset_dictionary", head + png_chunk(b"zTXt", b"k\0\0" + fdict) + idat + iend
    yield "png_itxt_preset_dictionary", head + idat + png_chunk(b"iTXt", b"k\0\1\0\0\0" + fdict) + iend
    n = struct.unpack(">I", idat[:4])[0]
    yield "png_idat_preset_dictionary_refused", head + png_chunk(b"IDAT", b"\x78\x20\0\0\0\1" + idat[10:8 + n]) + iend
    b = io.BytesIO()
    Image.fromarray(pixels(11, 9, 4, 160)[..., :3]).quantize(16).save(b, "PNG", bits=4)  # fuzz_decode.py's png_p_bits4
    p4 = b.getvalue()
    yield "fuzz_png_byte_inserted_in_image_data_refused", p4[:102] + b"\xbb" + p4[102:]


def png_damaged_end_cases():
    """A chunk header after the image data that PngImageFile.load_end stops at without a complaint, where libpng refuses
    the file: an IEND with a damaged length or CRC (Pillow stops at its type), a type that is not four word characters
    (is_cid fails: SyntaxError, caught), a byte inserted before the IEND (its header read one byte early), a critical
    type libpng does not know (Pillow skips it), also with a bad CRC at the end of the file; and the same damage where
    the image data does not hold every row (refused by both)."""
    head, idat, iend, _ = apng_parts()
    text = png_chunk(b"tEXt", b"k\0v")
    yield "png_iend_length_damaged", head + idat + b"\xb2\0\0\0" + iend[4:]
    yield "png_iend_crc_damaged", head + idat + iend[:8] + b"\xae\x42\x60\x83"
    yield "png_iend_type_not_a_chunk_type", head + idat + iend[:5] + b"\xe8" + iend[6:]
    yield "png_byte_inserted_before_iend", head + idat + b"\0" + iend
    yield "png_text_then_iend_type_damaged", head + idat + text + iend[:4] + b"\x01END" + iend[8:]
    yield "png_unknown_critical_chunk_after_idat", head + idat + png_chunk(b"IETD", b"") + iend
    yield "png_unknown_critical_chunk_bad_crc_at_end", head + idat + b"\0\0\0\0IENg" + iend[8:]
    yield "png_unknown_ancillary_chunk_after_idat", head + idat + png_chunk(b"iEND", b"") + iend
    yield "png_iend_type_with_digit", head + idat + iend[:4] + b"8END" + iend[8:]
    yield "png_text_length_over_2_31_after_idat", head + idat + b"\xff" + text[1:] + iend
    n = struct.unpack(">I", idat[:4])[0]
    cut = struct.pack(">I", n - 6) + b"IDAT" + idat[8:8 + n - 6]
    cut += struct.pack(">I", zlib.crc32(cut[4:]))
    yield "png_iend_length_damaged_after_cut_stream", head + cut + b"\xb2\0\0\0" + iend[4:]


def late_chunk_orientation_cases():
    """A zTXt/iTXt XMP whose zlib stream is cut: Pillow keeps what inflates (the orientation is in it); an animated
    PNG's eXIf after its second frame's fcTL, where load_end stops (not read)."""
    head, idat, iend, fdat = apng_parts()
    yield "orient_apng_exif_after_second_fctl", (head + png_chunk(b"acTL", struct.pack(">II", 2, 0))
                                                 + png_chunk(b"fcTL", apng_frame_control(0)) + idat
                                                 + png_chunk(b"fcTL", apng_frame_control(1)) + fdat(2)
                                                 + png_chunk(b"eXIf", exif_tiff(6)) + iend)
    z = zlib.compress(XMP_ATTR.format(6).encode() + b" " * 200)
    yield "orient_png_xmp_ztxt_cut_after_idat", png_with(after=[(b"zTXt", b"XML:com.adobe.xmp\0\0" + z[:-12])])
    yield "orient_png_xmp_itxt_cut", png_with([(b"iTXt", b"XML:com.adobe.xmp\0\x01\0\0\0" + z[:-12])])
    exif = png_chunk(b"eXIf", exif_tiff(6))
    yield "orient_png_exif_then_iend_damaged", head + idat + exif + b"\xb2\0\0\0" + iend[4:]
    yield "orient_png_exif_after_header_not_a_chunk_type", head + idat + b"\0\0\0\0I\xe8ND" + iend[8:] + exif + iend


def idat_stream_cases():
    """A 3x3 RGB PNG (some also interlaced, one 16-bit gray) whose IDAT zlib stream is damaged after or before its last
    row's data. Pillow's ZipDecoder inflates one IDAT chunk's bytes at a time into a row buffer and stops once it has
    every row, but zlib reads on through what needs no output (an end-of-block code, block headers, the Adler-32), so a
    stream cut there is read, while a wrong Adler-32 or a bad block header right after the rows is refused; one in the
    next IDAT chunk, or after more inflated bytes, is never read."""
    def rows(pix, interlace, bpp=3):
        return filtered_rows(pix, interlace, bpp)

    def png(idats, interlace, depth=8, colour=2):
        ihdr = struct.pack(">IIBBBBB", 3, 3, depth, colour, 0, 0, int(interlace))
        return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + b"".join(png_chunk(b"IDAT", d) for d in idats) + png_chunk(b"IEND", b"")

    def synced(raw):  # every row inflates from these bytes alone: no final block, no Adler-32
        c = zlib.compressobj(9)
        return c.compress(raw) + c.flush(zlib.Z_SYNC_FLUSH)

    for interlace, tag in ((False, ""), (True, "_interlaced")):
        raw = rows(pixels(3, 3, 3, 95), interlace)
        z = zlib.compress(raw, 9)
        wrong_adler = z[:-4] + bytes(b ^ 0xFF for b in z[-4:])
        half = synced(raw[:len(raw) // 2])
        yield f"zlib_adler_missing{tag}", png([z[:-4]], interlace)
        yield f"zlib_cut_after_rows{tag}", png([synced(raw)], interlace)
        yield f"zlib_cut_before_last_row{tag}", png([half], interlace)
        if interlace:
            continue
        yield "zlib_adler_wrong", png([wrong_adler], interlace)
        yield "zlib_bad_block_after_rows", png([synced(raw) + b"\xff\xff"], interlace)
        stored = synced(raw) + b"\0\x03\0\xfc\xff" + b"abc"  # a stored block of 3 bytes past the rows
        yield "zlib_adler_half", png([z[:-2]], interlace)
        yield "zlib_trailing_bytes", png([z + b"junk"], interlace)
        yield "zlib_adler_wrong_in_next_idat", png([wrong_adler[:-4], wrong_adler[-4:]], interlace)
        yield "zlib_bad_block_in_next_idat", png([synced(raw), b"\xff\xff"], interlace)
        yield "zlib_stored_bytes_then_bad_block", png([stored + b"\xff\xff"], interlace)
        yield "zlib_stored_bytes_then_cut", png([stored], interlace)
        yield "zlib_bad_block_before_last_row", png([half + b"\xff\xff" + bytes(20)], interlace)
    gray16 = rows(np.random.default_rng(96).integers(0, 600, (3, 3)).astype(">u2"), False, bpp=2)
    yield "zlib_cut_after_rows_gray16", png([synced(gray16)], False, depth=16, colour=0)

def filtered_rows(pix, interlace, bpp):
    """The filtered rows of pix (HxWxC, uint8 or >u2), pass by pass when interlaced, as the PNG specification lays them out."""
    raw = b""
    for x0, y0, dx, dy in (ADAM7 if interlace else [(0, 0, 1, 1)]):
        sub = pix[y0::dy, x0::dx]
        if sub.size:
            raw += png_filter(np.ascontiguousarray(sub).reshape(sub.shape[0], -1).view(np.uint8), bpp)
    return raw


def png_file(w, h, chunks, depth=8, colour=2, interlace=False):
    """Signature, IHDR and the given whole chunks, then IEND."""
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, int(interlace))
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + b"".join(chunks) + png_chunk(b"IEND", b"")


def sub_frame_cases():
    """A 4x3 APNG (or plain PNG) whose first fcTL, before the image data, names a smaller frame, with image data of the
    frame's size: Pillow's chunk_IDAT makes the frame box the decoder's tile, so the rows fill that region of a canvas
    Image.core.new left zero (black; palette index 0 in mode P). Dispose and blend ops do not touch the first frame."""
    actl = lambda n: png_chunk(b"acTL", struct.pack(">II", n, 0))  # noqa: E731
    fctl = lambda seq, w, h, x=0, y=0, dispose=0, blend=0: png_chunk(  # noqa: E731
        b"fcTL", struct.pack(">IIIIIHHBB", seq, w, h, x, y, 1, 10, dispose, blend))
    idat = lambda w, h, seed, c=3, interlace=False, depth=8: png_chunk(b"IDAT", zlib.compress(filtered_rows(  # noqa: E731
        pixels(w, h, c, seed) if depth == 8 else np.random.default_rng(seed).integers(0, 700, (h, w, c)).astype(">u2"),
        interlace, c * depth // 8), 9))
    fdat = lambda seq, w, h, seed: png_chunk(b"fdAT", struct.pack(">I", seq) + zlib.compress(filtered_rows(pixels(w, h, 3, seed), False, 3), 9))  # noqa: E731
    second = fctl(1, 4, 3) + fdat(2, 4, 3, 111)
    yield "apng_sub_frame_2x2_at_origin", png_file(4, 3, [actl(2), fctl(0, 2, 2), idat(2, 2, 100), second])
    yield "apng_sub_frame_2x2_at_1_1", png_file(4, 3, [actl(2), fctl(0, 2, 2, 1, 1), idat(2, 2, 101), second])
    yield "apng_sub_frame_one_row", png_file(4, 3, [actl(2), fctl(0, 3, 1, 1, 2), idat(3, 1, 102), second])
    yield "apng_sub_frame_past_right_edge", png_file(4, 3, [actl(2), fctl(0, 2, 2, 3, 0), idat(2, 2, 103), second])
    yield "apng_sub_frame_past_bottom_edge", png_file(4, 3, [actl(2), fctl(0, 2, 2, 0, 2), idat(2, 2, 103), second])
    yield "apng_sub_frame_zero_width", png_file(4, 3, [actl(2), fctl(0, 0, 2, 1, 1), idat(1, 2, 104), second])
    yield "apng_sub_frame_dispose_background", png_file(4, 3, [actl(2), fctl(0, 2, 2, 1, 1, dispose=1), idat(2, 2, 101), second])
    yield "apng_sub_frame_dispose_previous_blend_over", png_file(4, 3, [actl(2), fctl(0, 2, 2, 1, 1, dispose=2, blend=1), idat(2, 2, 101), second])
    yield "apng_sub_frame_one_frame", png_file(4, 3, [actl(1), fctl(0, 2, 2, 1, 1), idat(2, 2, 101)])
    yield "png_sub_frame_without_actl", png_file(4, 3, [fctl(0, 2, 2, 1, 1), idat(2, 2, 101)])
    yield "apng_sub_frame_two_fctl_before_idat", png_file(4, 3, [actl(2), fctl(0, 4, 3), fctl(1, 2, 2, 2, 1), idat(2, 2, 101)])
    yield "apng_sub_frame_interlaced", png_file(4, 3, [actl(1), fctl(0, 3, 2, 1, 1), idat(3, 2, 105, interlace=True)], interlace=True)
    yield "apng_sub_frame_data_for_taller_frame", png_file(4, 3, [actl(1), fctl(0, 2, 2, 1, 1), idat(2, 3, 106)])
    yield "apng_sub_frame_in_fdat_only", png_file(4, 3, [actl(1), fctl(0, 2, 2, 1, 1), fdat(1, 2, 2, 108)])
    yield "apng_sub_frame_rgba", png_file(4, 3, [actl(1), fctl(0, 2, 2, 1, 1), idat(2, 2, 109, c=4)], colour=6)
    yield "apng_sub_frame_gray", png_file(4, 3, [actl(1), fctl(0, 2, 2, 1, 1), idat(2, 2, 110, c=1)], colour=0)
    yield "apng_sub_frame_gray16", png_file(4, 3, [actl(1), fctl(0, 2, 2, 1, 1), idat(2, 2, 112, c=1, depth=16)], depth=16, colour=0)
    yield "apng_sub_frame_rgb_trns", png_file(4, 3, [png_chunk(b"tRNS", bytes(6)), actl(1), fctl(0, 2, 2, 1, 1), idat(2, 2, 113)])
    palette = png_chunk(b"PLTE", pixels(4, 1, 3, 114).tobytes())  # entry 0 is not black
    indices = lambda seed: png_chunk(b"IDAT", zlib.compress(filtered_rows(  # noqa: E731
        np.random.default_rng(seed).integers(0, 4, (2, 2, 1)).astype(np.uint8), False, 1), 9))
    yield "apng_sub_frame_palette", png_file(4, 3, [palette, actl(1), fctl(0, 2, 2, 1, 1), indices(115)], colour=3)
    yield "apng_sub_frame_palette_trns", png_file(4, 3, [palette, png_chunk(b"tRNS", b"\0\x80"), actl(1), fctl(0, 2, 2, 1, 1), indices(116)], colour=3)


def later_idat_cases():
    """A 3x3 RGB PNG (some also interlaced) whose rows are all in its first IDAT chunk(s), followed by IDAT chunks
    holding garbage, more deflate data, bytes after the zlib stream's end, a bad CRC, or a body cut by the end of the
    file (refused: Truncated File Read, unless the rows end in that chunk); and streams that end whole after some rows
    but before the last (zlib_ended_*: the missing rows zero, or refused). Pillow's ZipDecoder inflates one IDAT chunk
    at a time and stops once it has every row; load_end then skips the later IDAT chunks unread (unchecked: no CRC),
    except one whose body runs past the end of the file. A stream that ends before the last row is read only where the
    read that completes a row also reaches the stream's end."""
    def chunk(tag, data, crc=None):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) if crc is None else crc)

    def synced(raw):  # every row inflates from these bytes alone: no final block, no Adler-32
        c = zlib.compressobj(9)
        return c.compress(raw) + c.flush(zlib.Z_SYNC_FLUSH)

    garbage = np.random.default_rng(97).integers(0, 256, 24).astype(np.uint8).tobytes()
    for interlace, tag in ((False, ""), (True, "_interlaced")):
        png = lambda *chunks: png_file(3, 3, chunks, interlace=interlace)  # noqa: E731
        raw = filtered_rows(pixels(3, 3, 3, 98), interlace, 3)
        z, cut = zlib.compress(raw, 9), synced(raw)
        yield f"zlib_rows_then_garbage_idat{tag}", png(chunk(b"IDAT", cut), chunk(b"IDAT", garbage))
        yield f"zlib_ended_then_garbage_idat{tag}", png(chunk(b"IDAT", z), chunk(b"IDAT", garbage))
        if interlace:
            continue
        yield "zlib_rows_then_garbage_idat_bad_crc", png(chunk(b"IDAT", cut), chunk(b"IDAT", garbage, crc=1))
        yield "zlib_ended_then_garbage_idat_bad_crc", png(chunk(b"IDAT", z), chunk(b"IDAT", garbage, crc=1))
        yield "zlib_rows_then_stream_end_bad_crc", png(chunk(b"IDAT", cut), chunk(b"IDAT", b"\3\0" + z[-4:], crc=1))
        yield "zlib_ended_then_more_deflate_idat", png(chunk(b"IDAT", z), chunk(b"IDAT", zlib.compress(b"more rows", 9)))
        yield "zlib_ended_then_empty_idat", png(chunk(b"IDAT", z), chunk(b"IDAT", b""))
        yield "zlib_end_in_second_idat_then_bytes", png(chunk(b"IDAT", z[:12]), chunk(b"IDAT", z[12:] + b"junk"))
        yield "zlib_end_in_second_idat_then_garbage_idat", png(chunk(b"IDAT", z[:12]), chunk(b"IDAT", z[12:]), chunk(b"IDAT", garbage))
        yield "zlib_rows_over_two_idats_then_garbage_idat", png(chunk(b"IDAT", cut[:12]), chunk(b"IDAT", cut[12:]), chunk(b"IDAT", garbage))
        yield "zlib_rows_then_text_then_garbage_idat", png(chunk(b"IDAT", cut), chunk(b"tEXt", b"k\0v"), chunk(b"IDAT", garbage))
        yield "zlib_rows_then_bad_block_in_garbage_idat_bad_crc", png(chunk(b"IDAT", cut), chunk(b"IDAT", b"\xff\xff", crc=1))
        yield "zlib_rows_then_idat_cut_by_end", png(chunk(b"IDAT", cut), chunk(b"IDAT", garbage))[:-12 - 10]
        yield "zlib_ended_then_idat_cut_by_end", png(chunk(b"IDAT", z), chunk(b"IDAT", garbage))[:-12 - 10]
        yield "zlib_ended_then_idat_crc_cut_by_end", png(chunk(b"IDAT", z), chunk(b"IDAT", garbage))[:-12 - 2]
        yield "zlib_rows_end_in_idat_cut_by_end", png(chunk(b"IDAT", cut[:10]), chunk(b"IDAT", cut[10:] + garbage))[:-12 - 10]
        row = len(raw) // 3  # a zlib stream that ends (final block, Adler-32) after whole rows, before the last one
        short = zlib.compress(raw[:2 * row], 9)
        yield "zlib_ended_before_last_row", png(chunk(b"IDAT", short))
        yield "zlib_ended_after_first_row", png(chunk(b"IDAT", zlib.compress(raw[:row], 9)))
        yield "zlib_ended_inside_last_row", png(chunk(b"IDAT", zlib.compress(raw[:2 * row + 3], 9)))
        yield "zlib_ended_before_last_row_adler_in_next_idat", png(chunk(b"IDAT", short[:-4]), chunk(b"IDAT", short[-4:]))
        yield "zlib_ended_before_last_row_over_two_idats", png(chunk(b"IDAT", short[:6]), chunk(b"IDAT", short[6:]))
        yield "zlib_ended_before_last_row_then_bytes", png(chunk(b"IDAT", short + b"junk"))
        # Where the rows' last byte inflates from: the shortest prefix of the stream that gives it. With the end-of-block
        # code and the Adler-32 in the next IDAT chunk, that chunk's read completes no row (refused); with the last
        # data byte in it too, it does (read). A whole stream whose last rows come from an IDAT chunk cut by the end of
        # the file after its first byte: the decoder finishes in that chunk (read).
        def last_byte_from(stream, size):
            return next(p for p in range(len(stream) + 1) if len(zlib.decompressobj().decompress(stream[:p])) >= size)
        at = last_byte_from(short, 2 * row)
        yield "zlib_ended_before_last_row_end_code_in_next_idat", png(chunk(b"IDAT", short[:at]), chunk(b"IDAT", short[at:]))
        yield "zlib_ended_before_last_row_last_byte_in_next_idat", png(chunk(b"IDAT", short[:at - 1]), chunk(b"IDAT", short[at - 1:]))
        at = last_byte_from(z, len(raw))
        yield "zlib_rows_end_in_idat_cut_after_one_byte", png(chunk(b"IDAT", z[:at - 1]), chunk(b"IDAT", z[at - 1:]))[:-12 - 4 - (len(z) - at)]
    def row_ends(w, h, bits, interlace):  # the lengths of the filtered rows' bytes that end after a whole row
        ends, total = [], 0
        for x0, y0, dx, dy in (ADAM7 if interlace else [(0, 0, 1, 1)]):
            if w > x0 and h > y0:
                for _ in range((h - y0 + dy - 1) // dy):
                    total += 1 + (((w - x0 + dx - 1) // dx) * bits + 7) // 8
                    ends.append(total)
        return ends

    def unfiltered(ends, seed):  # filter byte 0 and random bytes for each row
        rng, out, start = np.random.default_rng(seed), b"", 0
        for end in ends:
            out += b"\0" + rng.integers(0, 256, end - start - 1).astype(np.uint8).tobytes()
            start = end
        return out

    # The same ends in an interlaced image: after a whole row of an Adam7 pass the missing rows are zero, inside one refused.
    rgb, ends = filtered_rows(pixels(7, 5, 3, 99), True, 3), row_ends(7, 5, 24, True)
    ended = lambda k: zlib.compress(rgb[:k], 9)  # noqa: E731
    seven = lambda *chunks: png_file(7, 5, chunks, interlace=True)  # noqa: E731
    yield "zlib_ended_after_first_pass_interlaced", seven(chunk(b"IDAT", ended(ends[0])))
    yield "zlib_ended_inside_fourth_pass_interlaced", seven(chunk(b"IDAT", ended(ends[4])))
    yield "zlib_ended_before_last_row_interlaced", seven(chunk(b"IDAT", ended(ends[-2])))
    yield "zlib_ended_inside_a_row_interlaced", seven(chunk(b"IDAT", ended(ends[4] + 2)))
    yield "zlib_ended_before_last_row_adler_in_next_idat_interlaced", seven(chunk(b"IDAT", ended(ends[-2])[:-4]), chunk(b"IDAT", ended(ends[-2])[-4:]))
    yield "zlib_ended_before_last_row_over_two_idats_interlaced", seven(chunk(b"IDAT", ended(ends[-2])[:9]), chunk(b"IDAT", ended(ends[-2])[9:]))
    ends = row_ends(9, 9, 2, True)  # 2-bit palette: rows of a byte or less, packed
    palette = chunk(b"PLTE", bytes([200, 10, 10, 10, 200, 10, 10, 10, 200, 250, 250, 250]))
    yield "zlib_ended_palette2_interlaced", png_file(9, 9, [palette, chunk(b"IDAT", zlib.compress(unfiltered(ends, 100)[:ends[5]], 9))], depth=2, colour=3, interlace=True)
    ends = row_ends(10, 4, 1, False)
    yield "zlib_ended_gray1", png_file(10, 4, [chunk(b"IDAT", zlib.compress(unfiltered(ends, 101)[:ends[1]], 9))], depth=1, colour=0)
    ends = row_ends(5, 5, 16, True)
    yield "zlib_ended_gray16_interlaced", png_file(5, 5, [chunk(b"IDAT", zlib.compress(unfiltered(ends, 102)[:ends[3]], 9))], depth=16, colour=0, interlace=True)
    interlaced = filtered_rows(pixels(3, 3, 3, 98), True, 3)
    yield "zlib_ended_before_last_pass_interlaced", png_file(3, 3, [chunk(b"IDAT", zlib.compress(interlaced[:-4], 9))], interlace=True)


def fuzz_found_cases():
    """Files on which a differential fuzz of GIF, BMP, WebP and ICO decoding (tools/reference/fuzz_decode.py) found the
    engine and Pillow apart, one or two for each cause fixed.

    BMP: a pixel offset (bfOffBits) of 0 (Pillow reads on from the end of the header, masks or palette), inside the
    headers (it reads the header bytes as pixels) or at the palette's start (it skips the palette), also in an RLE file
    at an odd offset (its word alignment counts from the file's start); an RLE file whose size field is short (Pillow
    never reads it); an info header size Pillow does not know, a bit depth over 32 (refused); a palette of more than
    256 entries that is not gray (refused: invalid palette size) unless the file holds 256 or fewer of them, in an RLE
    file too (read; the engine's RLE decoder refused more than 256 colours used); an RLE file of one gray entry (mode 1, as
    for two: any index but 0 is white) and of 65,537 colours used (refused: Unsupported BMP Palette size); an RLE file
    458,757 pixels wide (read; Skia identified no such BMP); an info header that the file ends inside (refused: Truncated
    File Read; the engine crashed on a 56-byte one).

    WebP: an ANMF chunk whose size is larger than its frame (read: libwebp's demuxer goes on after the frame's image
    chunks, not after the ANMF size), smaller than its image chunks or than its frame header (refused); a VP8X chunk of
    another size than 10 (refused: libwebp's header check wants exactly 10).

    JPEG: an APP0 length under 2 (read: Pillow and libjpeg read nothing and go on), a JFIF segment too short for its
    version and a TEM marker in the header (refused by Pillow's marker loop; libjpeg reads them). A sequential JPEG
    of one scan that ends in an APPn or COM segment cut by the end of the data instead of EOI, also after a marker
    inside its entropy-coded data (read: libjpeg gives every row and Pillow ignores jpeg_finish_decompress
    suspending; the engine refused them as having no EOI), a COM or APP0 of length 1 there (read: libjpeg skips
    nothing), a DHT cut there and a scan cut with no marker (as Pillow says).

    GIF: a first image descriptor 0 wide or 0 high (refused: tile cannot extend outside image; Skia read it)."""

    def field(data, at, value):
        return data[:at] + struct.pack("<I", value) + data[at + 4:]

    pal16 = [tuple(int(v) for v in pixels(1, 1, 3, 200 + i)[0, 0]) for i in range(16)]
    rgb24 = bmp(5, 3, 24, [pixels(5, 1, 3, 210 + y).tobytes() for y in range(3)])
    yield "fuzz_bmp24_offset_zero", field(rgb24, 10, 0)
    yield "fuzz_bmp24_offset_inside_header", field(rgb24, 10, 2)
    masks = bmp(4, 2, 32, [pixels(4, 1, 4, 213 + y).tobytes() for y in range(2)], compression=3, masks=(0xFF0000, 0xFF00, 0xFF))
    yield "fuzz_bmp32_bitfields_offset_zero", field(masks, 10, 0)
    bits1 = bmp(9, 2, 1, [packed([0, 1, 1, 0, 1, 0, 1, 1, 0], 1), packed([1, 0, 0, 1, 1, 1, 0, 0, 1], 1)], pal16[:2])
    yield "fuzz_bmp1_offset_at_palette_start", field(bits1, 10, 14 + 40)
    yield "fuzz_bmp8_offset_zero", field(bmp(6, 2, 8, [bytes(range(y, y + 6)) for y in range(2)], pal16), 10, 0)
    rle8 = rle_bmp(5, 2, bytes([3, 1, 0, 3, 2, 3, 4, 0, 0, 0, 0, 2, 5, 2, 6, 0, 1]), pal16)  # a run, 3 absolute (padded), EOL, ...
    yield "fuzz_rle8_offset_odd_inside_palette", field(rle8, 10, 14 + 40 + 4 * 16 - 1)
    yield "fuzz_rle8_size_field_zero", field(rle8, 2, 0)
    yield "fuzz_rle8_size_field_short", field(rle8, 2, 67)
    yield "fuzz_bmp_header_size_20_refused", field(rgb24, 14, 20)
    yield "fuzz_rle8_depth_32767_refused", rle8[:28] + struct.pack("<H", 32767) + rle8[30:]
    big = [tuple(int(v) for v in pixels(1, 1, 3, 220 + i)[0, 0]) for i in range(300)]
    yield "fuzz_bmp8_palette_300_entries_refused", bmp(4, 2, 8, [bytes([0, 1, 2, 3])] * 2, big)
    yield "fuzz_bmp_rle8_colours_used_past_end_of_file", field(rle8, 46, 2835)  # biClrUsed
    yield "fuzz_bmp_rle4_colours_used_65296", field(rle8[:28] + b"\4\0\2" + rle8[31:], 46, 65296)  # 4 bits, BI_RLE4
    yield "bmp_rle8_one_gray_entry", rle_bmp(5, 2, rle8[14 + 40 + 64:], [(0, 0, 0)])
    yield "bmp_rle8_colours_used_65537_refused", field(rle8, 46, 65537)
    yield "fuzz_bmp_rle8_458757_wide", field(rle8, 18, 458757)  # Skia reads no BMP this wide; Pillow does
    b = io.BytesIO()
    Image.fromarray(pixels(1, 1, 3, 253)).convert("1").save(b, "BMP")
    one = b.getvalue()
    yield "fuzz_bmp_info_header_56_cut_refused", field(one, 14, 56)  # the file ends inside it
    yield "bmp_info_header_124_cut_refused", field(rgb24, 14, 124)
    yield "fuzz_bmp8_palette_257_cut_by_end", bmp(4, 2, 8, [bytes([0, 1, 2, 3])] * 2, pal16[:4], colors=3698)

    frames = [Image.fromarray(pixels(4, 3, 3, 230 + i)) for i in range(3)]
    b = io.BytesIO()
    frames[0].save(b, "WEBP", save_all=True, append_images=frames[1:], duration=40, lossless=True)
    anim = b.getvalue()  # RIFF, VP8X (12), ANIM (30), ANMF (44), ANMF, ANMF

    def next_chunk(at):
        size = struct.unpack_from("<I", anim, at + 4)[0]
        return at + 8 + size + (size & 1)

    first = struct.unpack_from("<I", anim, 48)[0]
    second, third = next_chunk(44), next_chunk(next_chunk(44))
    yield "fuzz_webp_anim_frame_size_plus_1", field(anim, 48, first + 1)
    yield "fuzz_webp_anim_frame_size_over_next_frame", field(anim, 48, third - 52)
    yield "fuzz_webp_anim_second_frame_size_plus_2", field(anim, second + 4, struct.unpack_from("<I", anim, second + 4)[0] + 2)
    yield "fuzz_webp_anim_last_frame_size_past_riff_refused", field(anim, third + 4, struct.unpack_from("<I", anim, third + 4)[0] + 2)
    yield "fuzz_webp_anim_frame_size_short_refused", field(anim, 48, first - 2)
    yield "fuzz_webp_anim_frame_size_8_refused", field(anim, 48, 8)
    b = io.BytesIO()
    Image.fromarray(pixels(1, 1, 4, 240), "RGBA").save(b, "WEBP", quality=60)
    alpha = b.getvalue()  # RIFF, VP8X (12, 10 bytes), ALPH (30), VP8 (40)
    yield "fuzz_webp_vp8x_size_20_refused", field(alpha, 16, 20)
    longer = alpha[:16] + struct.pack("<I", 12) + alpha[20:30] + b"\0\0" + alpha[30:]
    yield "fuzz_webp_vp8x_size_12_refused", field(longer, 4, len(longer) - 8)
    b = io.BytesIO()
    Image.fromarray(pixels(5, 3, 3, 250)).save(b, "JPEG", quality=80)
    jpeg = b.getvalue()  # SOI, APP0 JFIF (length at byte 4), ...
    yield "fuzz_jpeg_app0_length_0", jpeg[:4] + b"\0\0" + jpeg[6:]
    yield "fuzz_jpeg_jfif_length_8_refused", jpeg[:4] + b"\0\x08" + jpeg[6:]
    yield "fuzz_jpeg_tem_marker_in_header_refused", jpeg[:2] + b"\xff\x01" + jpeg[2:]
    scan = jpeg[:-2]  # one sequential scan, then EOI
    yield "fuzz_jpeg_app1_cut_by_end_instead_of_eoi", scan + b"\xff\xe1\x00\x40abc"
    yield "fuzz_jpeg_com_then_app2_cut_instead_of_eoi", scan + b"\xff\xfe\x00\x04ab\x00\x00\xff\xe2\x01"
    at = len(scan) - 6
    yield "fuzz_jpeg_app1_marker_inside_scan_no_eoi", scan[:at] + b"\xff\xe1\xee\x38" + scan[at:]
    yield "jpeg_com_length_1_instead_of_eoi", scan + b"\xff\xfe\x00\x01"
    yield "jpeg_app0_length_1_instead_of_eoi", scan + b"\xff\xe0\x00\x01"
    yield "jpeg_dht_cut_instead_of_eoi", scan + b"\xff\xc4\x00\x1f\x00"
    yield "jpeg_scan_cut_no_marker_refused", scan[:-8]
    b = io.BytesIO()
    Image.fromarray(pixels(5, 3, 3, 252)).save(b, "GIF")
    gif = b.getvalue()
    at = gif.index(b"\x2c", 13 + (3 << ((gif[10] & 7) + 1) if gif[10] & 0x80 else 13))  # the first image descriptor
    yield "fuzz_gif_first_image_0_wide_refused", gif[:at + 5] + b"\0\0" + gif[at + 7:]
    yield "fuzz_gif_first_image_0_high_refused", gif[:at + 7] + b"\0\0" + gif[at + 9:]


def jpeg_marker_cases():
    """JPEGs whose marker structure libjpeg reads past where the engine's end-of-image walk stopped (found by
    fuzz_decode.py --formats jpeg: 14-15 refusals of files Pillow reads in each of three corpora of ~30,000, now 3).

    A progressive JPEG with a restart marker after every MCU: one of its first scan's restart markers turned into the
    invalid marker FF2F (read: jpeg_resync_to_restart passes over a marker under FFC0 at the next restart and the scan
    goes on), the same marker in the scan's last restart interval instead (refused by Pillow: it is the marker read
    after the scan, unknown to libjpeg), a TEM (FF01) in place of the restart (read, the same way), the invalid marker after a fill FF (read: libjpeg's
    bit reader swallows fill FFs before a marker) and a fill FF before a restart (read), and a stuffed FF00
    after a DHT between scans (read: libjpeg's next_marker discards it, as it discards junk bytes). Between scans, a
    DQT of one 8-bit table (read), a DQT of length 8 (refused: libjpeg-turbo's get_dqt reads a table's 64 entries
    whatever the length, and then the length is not used up; also just before EOI, as the fuzz found it, where those
    reads run out of data: Skia's reader ends the data there and the image stood), a DQT cut by the end of the data (refused: truncated)
    and a DHT whose counts name more symbols than its length holds (refused: bogus Huffman table); Skia read the last
    three, a progressive file giving its image from the scans before. A progressive file whose SOF2 the fuzz made an
    SOF0 (refused: its first scan holds every component, so libjpeg's single-scan decoder raises at the second SOS,
    in the jpeg_finish_decompress Pillow calls; Skia gave the first scan's image)."""
    b = io.BytesIO()
    Image.fromarray(pixels(24, 16, 3, 90)).save(b, "JPEG", quality=80, progressive=True, restart_marker_blocks=1)
    prog = b.getvalue()

    def markers(data):
        at, found = 2, []
        while at + 1 < len(data):
            if data[at] == 0xFF and data[at + 1] not in (0x00, 0xFF):
                found.append((at, data[at + 1]))
            at += 1
        return found

    found = markers(prog)
    first_scan = next(at for at, m in found if m == 0xDA)
    after = [(at, m) for at, m in found if at > first_scan]
    scan_end = next(at for at, m in after if not 0xD0 <= m <= 0xD7)
    restarts = [at for at, m in after if 0xD0 <= m <= 0xD7 and at < scan_end]
    first = restarts[0]
    yield "jpeg_progressive_restart_became_ff2f", prog[:first + 1] + b"\x2f" + prog[first + 2:]
    yield "jpeg_progressive_restart_became_tem", prog[:first + 1] + b"\x01" + prog[first + 2:]
    yield "fuzz_jpeg_progressive_restart_became_ff2f_after_fill_ff", prog[:first] + b"\xff\xff\x2f" + prog[first + 2:]
    yield "jpeg_progressive_fill_ff_before_restart", prog[:first] + b"\xff" + prog[first:]
    last = restarts[-1] + 2  # inside the last interval: after its restart marker
    yield "jpeg_progressive_ff2f_in_last_interval_refused", prog[:last + 1] + b"\xff\x2f" + prog[last + 1:]
    dht = next(at for at, m in after if m == 0xC4)  # a table between scans, then (where the stuffed FF00 goes) a marker
    end = dht + 2 + struct.unpack(">H", prog[dht + 2:dht + 4])[0]
    yield "jpeg_progressive_stuffed_zero_after_dht", prog[:end] + b"\xff\x00" + prog[end:]
    dqt = b"\xff\xdb\x00\x43\x00" + bytes(range(1, 65))
    yield "jpeg_progressive_dqt_between_scans", prog[:end] + dqt + prog[end:]
    yield "jpeg_progressive_dqt_length_8_between_scans_refused", prog[:end] + b"\xff\xdb\x00\x08\x00" + bytes(range(1, 6)) + prog[end:]
    yield "jpeg_progressive_dqt_cut_by_end_refused", prog[:end] + dqt[:40]
    yield "fuzz_jpeg_progressive_dqt_length_8_before_eoi_refused", prog[:-2] + b"\xff\xdb\x00\x08\x00" + bytes(range(1, 6)) + b"\xff\xd9"
    sof = prog.index(b"\xff\xc2")
    yield "fuzz_jpeg_progressive_frame_marked_baseline_refused", prog[:sof + 1] + b"\xc0" + prog[sof + 2:]
    counts = bytes([0, 2] + [0] * 14)
    yield "jpeg_progressive_dht_symbols_past_length_refused", prog[:end] + b"\xff\xc4\x00\x13\x10" + counts + prog[end:]


def rgb_matrix_profile(gamma, swap):
    """A minimal ICC v2 RGB matrix/TRC display profile (white point, three colourants, one gamma curve each). With
    `swap`, red and green colourants are exchanged, so a decoder that colour-managed into sRGB would give other
    pixels."""
    def s15(v):
        return struct.pack(">i", int(round(v * 65536)))

    def xyz(x, y, z):
        return b"XYZ " + bytes(4) + s15(x) + s15(y) + s15(z)

    red, green = (0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971)
    if swap:
        red, green = green, red
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, int(gamma * 256)) + bytes(2)
    tags = [(b"wtpt", xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", xyz(*red)), (b"gXYZ", xyz(*green)),
            (b"bXYZ", xyz(0.1431, 0.0606, 0.7141)), (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve),
            (b"desc", b"desc" + bytes(4) + struct.pack(">I", 5) + b"test\0" + bytes(79))]
    table, body, start = struct.pack(">I", len(tags)), b"", 128 + 4 + 12 * len(tags)
    for sig, data in tags:
        data += bytes(-len(data) % 4)
        table += sig + struct.pack(">II", start + len(body), len(data))
        body += data
    header = (struct.pack(">I", 128 + len(table) + len(body)) + b"lcms" + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ " + bytes(12)
              + b"acspAPPL" + bytes(24) + s15(0.9642) + s15(1.0) + s15(0.8249) + bytes(48))
    return header + table + body


def colour_management_cases():
    """Files that carry colour information Pillow's convert("RGB") ignores: an ICC profile (red and green swapped,
    gamma 1.0 or 2.2) in a JPEG, PNG and lossless WebP, and PNG gAMA, cHRM, sRGB and cICP chunks. The engine asks
    Skia for no colour space, so none of them changes a pixel (checked: 24 such files agree)."""
    img = Image.fromarray(pixels(32, 24, 3, 731))
    for gamma in (1.0, 2.2):
        profile = rgb_matrix_profile(gamma, swap=True)
        for fmt, ext, kw in (("JPEG", "jpeg", {"quality": 90}), ("PNG", "png", {}), ("WEBP", "webp", {"lossless": True})):
            b = io.BytesIO()
            img.save(b, fmt, icc_profile=profile, **kw)
            yield f"{ext}_icc_profile_swapped_primaries_gamma_{gamma}", b.getvalue()
    swapped = struct.pack(">8I", 31270, 32900, 30000, 60000, 64000, 33000, 15000, 6000)
    for name, chunk in (("gama_1.0", (b"gAMA", struct.pack(">I", 100000))), ("gama_3.0", (b"gAMA", struct.pack(">I", 33333))),
                        ("chrm_swapped", (b"cHRM", swapped)), ("srgb", (b"sRGB", b"\0")),
                        ("cicp_display_p3", (b"cICP", bytes([12, 13, 0, 1]))), ("cicp_bt2100_pq", (b"cICP", bytes([9, 16, 0, 1])))):
        yield f"png_{name}_ignored", png_with(before=[chunk])


def jpeg_icc_profile_cases():
    """ICC_PROFILE APP2 segments: Pillow's SOF handler sorts those seen since the last SOF and reads the fragment count
    at byte 13 of the first, an IndexError (cannot identify image file) where it is shorter; libjpeg, under Skia, reads
    the file. One of 13 bytes (refused) and of 14 (read); two where the short one sorts after the other (read) and where
    it sorts first (refused); a short one after the SOF (read: no SOF handler comes after it)."""
    b = io.BytesIO()
    Image.fromarray(pixels(8, 8, 3, 720)).save(b, "JPEG", quality=80)
    whole = b.getvalue()
    sof = whole.index(b"\xff\xc0")
    app2 = lambda body: b"\xff\xe2" + struct.pack(">H", 2 + len(body)) + body  # noqa: E731
    icc = b"ICC_PROFILE\0"
    before = lambda *segs: whole[:sof] + b"".join(segs) + whole[sof:]  # noqa: E731
    yield "jpeg_icc_profile_of_13_bytes_refused", before(app2(icc + b"\x01"))
    yield "jpeg_icc_profile_of_14_bytes_read", before(app2(icc + b"\x01\x01"))
    yield "jpeg_icc_profile_short_one_sorts_after_read", before(app2(icc + b"\x02"), app2(icc + b"\x01\x02abc"))
    yield "jpeg_icc_profile_short_one_sorts_first_refused", before(app2(icc + b"\x01\x02abc"), app2(icc + b"\x01"))
    sos = whole.index(b"\xff\xda")
    yield "jpeg_icc_profile_short_after_sof_read", whole[:sos] + app2(icc + b"\x01") + whole[sos:]

def jpeg_scan_end_cases():
    """Sequential JPEGs whose only scan's data runs to the end of the file, with no marker after it (the end-of-image
    marker cut off, or more): Pillow reads one when libjpeg-turbo's Huffman decoder finishes the last MCU without asking
    for a byte past the end, which depends on where its bit-buffer refills fall (ImageJpegScanRun). For each kind
    (4:2:0, 4:2:2, 4:4:4, gray, restart markers after every 2 MCUs, a restart per MCU row) the first two noise images
    of a fixed sequence that Pillow reads without their EOI, and the first two it refuses; one over 64 KiB that it reads
    (Pillow hands libjpeg 64 KiB at a time, so the fast and slow decoders fall elsewhere); a restart scan whose first restart marker became the invalid FF2F (jpeg_resync_to_restart
    passes over it at the next restart and decoding goes on to the end) read and refused; a DNL segment after the data
    (skipped, read) and a JPG marker FFC8 after it (unknown to libjpeg's marker reader: refused), both after data that
    Pillow reads without them; a TEM, then junk with a stuffed FF 00 (next_marker discards both: read); after the data a whole DQT (read), a DQT
    cut by the end of the file (get_dqt suspends: read), a DQT of index 5 (refused), a DRI of length 4 (read) and of
    length 5 (refused); a restart marker at the very end (the bit reader stops at it: read)."""
    def jpeg(w, h, seed, **kw):
        a = pixels(w, h, 3, seed)
        img = Image.fromarray(a).convert("L") if kw.pop("gray", False) else Image.fromarray(a)
        b = io.BytesIO()
        img.save(b, "JPEG", **kw)
        return b.getvalue()

    def first(candidates, read, n=1):
        found = []
        for data in candidates:
            if ("decoded_sha256" in pillow(data)) == read:
                found.append(data)
                if len(found) == n:
                    return found
        raise RuntimeError("no candidate with the outcome wanted")

    kinds = {
        "420": dict(quality=75, subsampling=2), "422": dict(quality=85, subsampling=1),
        "444": dict(quality=60, subsampling=0), "gray": dict(quality=80, gray=True),
        "restart_blocks2": dict(quality=70, restart_marker_blocks=2), "restart_rows1": dict(quality=70, restart_marker_rows=1),
    }
    for kind, kw in kinds.items():
        cut = [jpeg(9 + seed % 40, 7 + seed % 23, 500 + seed, **kw)[:-2] for seed in range(400)]
        for read in (True, False):
            for i, data in enumerate(first(cut, read, 2)):
                yield f"jpeg_no_eoi_{kind}_{'read' if read else 'refused'}_{i}", data
    big = (jpeg(300, 200 + seed, 900 + seed, quality=90)[:-2] for seed in range(200))
    yield "jpeg_no_eoi_over_64k_read", first((d for d in big if len(d) > 65536), True)[0]
    restart = [jpeg(64, 32, 800 + seed, quality=70, restart_marker_blocks=1)[:-2] for seed in range(400)]
    ff2f = []
    for data in restart:
        at = data.index(b"\xff\xd0")
        ff2f.append(data[:at + 1] + b"\x2f" + data[at + 2:])
    yield "jpeg_no_eoi_restart_became_ff2f_read", first(ff2f, True)[0]
    yield "jpeg_no_eoi_restart_became_ff2f_refused", first(ff2f, False)[0]
    base = first((jpeg(16, 16, 600 + seed, quality=80)[:-2] for seed in range(400)), True)[0]
    yield "jpeg_no_eoi_dnl_after_data_read", base + b"\xff\xdc\x00\x04\x00\x10"
    yield "jpeg_no_eoi_jpg_marker_after_data_refused", base + b"\xff\xc8\x00\x04\x00\x10"
    yield "jpeg_no_eoi_tem_then_stuffed_zero_after_data_read", base + b"\xff\x01\x12\xff\x00\x34"
    dqt = b"\xff\xdb\x00\x43\x00" + bytes(range(1, 65))
    yield "jpeg_no_eoi_dqt_after_data_read", base + dqt
    yield "jpeg_no_eoi_dqt_cut_after_data_read", base + dqt[:20]
    yield "jpeg_no_eoi_dqt_index_5_after_data_refused", base + dqt[:4] + b"\x05" + dqt[5:]
    yield "jpeg_no_eoi_dri_after_data_read", base + b"\xff\xdd\x00\x04\x00\x02"
    yield "jpeg_no_eoi_dri_length_5_after_data_refused", base + b"\xff\xdd\x00\x05\x00\x02\x00"
    yield "jpeg_no_eoi_restart_marker_at_end_read", first((jpeg(16, 16, 600 + seed, quality=80)[:-2] + b"\xff\xd0" for seed in range(400)), True)[0]



def jpeg_default_table_cases():
    """Sequential JPEGs that use a Huffman table no DHT segment defined. libjpeg-turbo then takes the standard table of
    the JPEG specification for index 0 or 1 (jpeg_std_huff_table, for Motion-JPEG files) and raises for index 2 or 3.
    Without an EOI Pillow reads such a file when the Huffman decoder, with those tables, finishes the last MCU without
    asking for a byte past the end (ImageJpegScanRun). The cases: every DHT removed from a file written with the
    standard tables (4:2:0 and gray: read, and one refused); every DHT removed from a file written with optimised tables
    (decoded with the standard ones: one read, one refused); the first DHT's FF byte damaged into junk (next_marker skips
    it and the segment, what the fuzz found: read); a scan that selects DC and AC tables 2, never defined, with and
    without the EOI (refused)."""
    def jpeg(w, h, seed, gray=False, **kw):
        img = Image.fromarray(pixels(w, h, 3, seed))
        b = io.BytesIO()
        (img.convert("L") if gray else img).save(b, "JPEG", **kw)
        return b.getvalue()

    def without_dht(data):
        out, i = bytearray(data[:2]), 2
        while data[i + 1] != 0xDA:
            length = int.from_bytes(data[i + 2:i + 4], "big")
            if data[i + 1] != 0xC4:
                out += data[i:i + 2 + length]
            i += 2 + length
        return bytes(out + data[i:])

    def first(candidates, read):
        for data in candidates:
            if ("decoded_sha256" in pillow(data)) == read:
                return data
        raise RuntimeError("no candidate with the outcome wanted")

    for kind, kw in {"420": dict(quality=75, subsampling=2), "gray": dict(quality=80, gray=True)}.items():
        plain = [without_dht(jpeg(9 + seed % 40, 7 + seed % 23, 1100 + seed, **kw))[:-2] for seed in range(400)]
        yield f"jpeg_no_eoi_no_dht_{kind}_read", first(plain, True)
    plain = [without_dht(jpeg(9 + seed % 40, 7 + seed % 23, 1100 + seed, quality=75))[:-2] for seed in range(400)]
    yield "jpeg_no_eoi_no_dht_420_refused", first(plain, False)
    optimised = [without_dht(jpeg(9 + seed % 40, 7 + seed % 23, 1200 + seed, quality=75, optimize=True))[:-2] for seed in range(400)]
    yield "jpeg_no_eoi_no_dht_optimised_read", first(optimised, True)
    yield "jpeg_no_eoi_no_dht_optimised_refused", first(optimised, False)
    junk = []
    for seed in range(400):
        data = jpeg(9 + seed % 40, 7 + seed % 23, 1300 + seed, quality=75)[:-2]
        at = data.index(b"\xff\xc4")
        junk.append(data[:at] + b"\x23" + data[at + 1:])
    yield "jpeg_no_eoi_dht_marker_became_junk_read", first(junk, True)
    base = first((jpeg(16, 16, 1400 + seed, quality=80)[:-2] for seed in range(400)), True)
    sos = base.index(b"\xff\xda")
    table2 = base[:sos + 6] + b"\x22" + base[sos + 7:]               # the first component's DC and AC tables: 2
    yield "jpeg_no_eoi_table_2_never_defined_refused", table2
    yield "jpeg_table_2_never_defined_refused", table2 + b"\xff\xd9"



def jpeg_scan_header_after_data_cases():
    """After the only scan's data of a sequential JPEG that Pillow reads without an EOI (jpeg_scan_end_cases' base): an
    SOS or a DAC segment, which libjpeg-turbo's marker reader reads in jpeg_finish_decompress. get_sos raises at a
    length other than 2·Ns + 6, at a component the frame has no free slot for, and, read whole, at the second scan
    (JERR_EOI_EXPECTED); where the data ends before that it suspends and Pillow reads the file. get_dac raises at an
    index of 32 or more or a DC value whose L is above its U, and wants its length used up. Markers it raises at (JPG,
    SOF0, a DRI of length 6, JPG0) followed by an EOI, refused, and an APP1 then an EOI, read. Then a DAC in the header
    of a whole file, read and refused."""
    def jpeg(w, h, seed, **kw):
        b = io.BytesIO()
        Image.fromarray(pixels(w, h, 3, seed)).save(b, "JPEG", **kw)
        return b.getvalue()

    base = next(d for d in (jpeg(16, 16, 600 + seed, quality=80)[:-2] for seed in range(400)) if "decoded_sha256" in pillow(d))
    sos = bytes.fromhex("ffda000c03010002110311003f00")
    yield "jpeg_no_eoi_sos_cut_after_ns_after_data_read", base + sos[:5]
    yield "jpeg_no_eoi_sos_cut_before_ah_al_after_data_read", base + sos[:-1]
    yield "jpeg_no_eoi_sos_whole_after_data_refused", base + sos
    yield "jpeg_no_eoi_sos_bad_length_after_data_refused", base + bytes.fromhex("ffda000d03")
    yield "jpeg_no_eoi_sos_unknown_component_cut_after_data_read", base + bytes.fromhex("ffda000c0309")
    yield "jpeg_no_eoi_sos_unknown_component_after_data_refused", base + bytes.fromhex("ffda000c030900")
    yield "jpeg_no_eoi_sos_out_of_frame_order_after_data_refused", base + bytes.fromhex("ffda000a0202000100")
    yield "jpeg_no_eoi_dac_after_data_read", base + bytes.fromhex("ffcc00061510052134")
    yield "jpeg_no_eoi_dac_cut_in_a_pair_after_data_read", base + bytes.fromhex("ffcc000605")
    yield "jpeg_no_eoi_dac_index_40_after_data_refused", base + bytes.fromhex("ffcc00042810")
    yield "jpeg_no_eoi_dac_l_above_u_after_data_refused", base + bytes.fromhex("ffcc00040501")
    yield "jpeg_no_eoi_dac_length_1_after_data_refused", base + bytes.fromhex("ffcc0001")
    # Then an EOI: libjpeg raises at the marker before it, whatever follows (the marker walk used to pass over it).
    eoi = b"\xff\xd9"
    yield "jpeg_jpg_marker_then_eoi_after_data_refused", base + bytes.fromhex("ffc800040010") + eoi
    yield "jpeg_sof0_then_eoi_after_data_refused", base + bytes.fromhex("ffc0000b08001000100101110000") + eoi
    yield "jpeg_dri_length_6_then_eoi_after_data_refused", base + bytes.fromhex("ffdd000600020000") + eoi
    yield "jpeg_jpg0_marker_then_eoi_after_data_refused", base + bytes.fromhex("fff000040000") + eoi
    yield "jpeg_app1_then_eoi_after_data_read", base + bytes.fromhex("ffe100040000") + eoi
    whole = jpeg(16, 16, 700, quality=80)
    yield "jpeg_dac_in_header_read", whole[:2] + bytes.fromhex("ffcc00040510") + whole[2:]
    yield "jpeg_dac_index_40_in_header_refused", whole[:2] + bytes.fromhex("ffcc00042810") + whole[2:]


def gif_lzw(indices, bits, clear_first=True, end_code=True, clear_when_full=True):
    """A GIF LZW stream of the palette indices (before sub-blocks), its codes as wide as Pillow's decoder reads them:
    that decoder adds a table entry one code after the encoder does and widens the codes when it adds entry 2^n - 1.
    With clear_when_full False the table stays full (a deferred clear). Code sizes 0 and 1 give literal codes only
    (Pillow never widens them)."""
    clear = 1 << bits
    codes, size, count = [clear] if clear_first else [], bits + 1, 0
    sizes = [size] if clear_first else []
    table, word = {(i,): i for i in range(clear)}, None

    def emit(code):
        nonlocal size, count
        codes.append(code)
        sizes.append(size)
        if count >= 1 and clear + 1 + count < 4096 and clear + 1 + count == (1 << size) - 1 and size < 12:
            size += 1
        count += 1

    for k in (int(i) for i in indices):
        if bits < 2:
            emit(k)
        elif word is None:
            word = (k,)
        elif word + (k,) in table:
            word += (k,)
        else:
            emit(table[word])
            if clear + 1 + count < 4096:
                table[word + (k,)] = clear + 1 + count
            elif clear_when_full:
                codes.append(clear)
                sizes.append(size)
                table, size, count = {(i,): i for i in range(clear)}, bits + 1, 0
            word = (k,)
    if word is not None:
        emit(table[word])
    if end_code:
        codes.append(clear + 1)
        sizes.append(size)
    return gif_codes(codes, sizes)


def gif_codes(codes, sizes):
    """Codes of the given widths packed as GIF packs them: the first in the lowest bits."""
    acc, shift = 0, 0
    for code, size in zip(codes, sizes):
        acc, shift = acc | code << shift, shift + size
    return acc.to_bytes((shift + 7) // 8, "little")


def gif_blocks(data, size=255):
    """Data sub-blocks of at most size bytes, and the block terminator."""
    return b"".join(bytes([len(data[i:i + size])]) + data[i:i + size] for i in range(0, len(data), size)) + b"\0"


def gif_file(width, height, data, bits, palette=None, screen=None, at=(0, 0), local=None, before_image=b"", interlaced=False):
    """GIF89a: screen (the frame's size by default), global colour table, the bytes before_image, one image descriptor
    (a local colour table), the LZW code size and the given data (already in sub-blocks), and the trailer."""
    sw, sh = screen or (width, height)

    def table(p):
        return max(0, (len(p) // 3 - 1).bit_length() - 1)
    head = b"GIF89a" + struct.pack("<HH", sw, sh) + (bytes([0x80 | table(palette), 0, 0]) + palette if palette else b"\0\0\0")
    flags = (0x40 if interlaced else 0) | (0x80 | table(local) if local else 0)
    return (head + before_image + b"," + struct.pack("<HHHH", *at, width, height) + bytes([flags]) + (local or b"")
            + bytes([bits]) + data + b";")


def gif_cases():
    """GIFs that Pillow's own reader (GifImagePlugin, then its LZW decoder fed by ImageFile.load) reads otherwise
    than Skia did, written with the hand LZW encoder above (Pillow writes only 8-bit codes) or from Pillow's files.

    Read: LZW minimum code sizes 0, 1 and 9 to 12 (Skia refused them); no colour table (the index is the gray
    level; Skia's pixels differed), a local table of the gray ramp (the global table's colours), an index past a
    short table (black); data that goes on after a 0-length sub-block (Pillow skips it); no end code, or invalid
    codes after the frame is full (Pillow stops there); a deferred clear (the table stays full); an interlaced frame
    of 3 rows; a frame outside the screen (the canvas grows) and one smaller with a transparent index (the rest is
    that index); stray bytes between blocks (skipped); an extension whose first sub-block is its terminator (Pillow
    then reads the next block as a sub-block); a screen descriptor whose colour table size is changed (fuzz).
    Refused: an end code before the frame is full (image file is truncated), a first code above the clear code or a
    code past the next free one (broken data stream), a code size of 13, a graphic control extension of 2 bytes, an
    extension that swallows the image descriptor (no image)."""
    pal4 = pixels(4, 1, 3, 260).tobytes()
    idx = pixels(13, 7, 1, 262).reshape(-1).astype(int)
    for bits in (0, 1, 9, 12):
        palette = pixels(256, 1, 3, 263 + bits).tobytes()
        yield f"gif_lzw_code_size_{bits}", gif_file(13, 7, gif_blocks(gif_lzw(idx % min(256, 1 << bits), bits)), bits, palette)
    yield "gif_lzw_code_size_13_refused", gif_file(4, 2, gif_blocks(b"\0\0\0\0"), 13, pal4)
    four = idx % 4
    yield "gif_no_colour_table", gif_file(13, 7, gif_blocks(gif_lzw(idx, 8)), 8)
    ramp = bytes(np.repeat(np.arange(4, dtype=np.uint8), 3))
    yield "gif_gray_ramp_local_table", gif_file(13, 7, gif_blocks(gif_lzw(four, 2)), 2, pal4, local=ramp)
    yield "gif_gray_ramp_global_table", gif_file(13, 7, gif_blocks(gif_lzw(idx % 16, 4)), 4, ramp)
    yield "gif_index_past_short_table", gif_file(13, 7, gif_blocks(gif_lzw(idx % 16, 4)), 4, pal4[:6])
    lzw = gif_lzw(four, 2)
    yield "gif_lzw_past_empty_sub_block", gif_file(13, 7, gif_blocks(lzw[:5], 5)[:-1] + b"\0" + gif_blocks(lzw[5:], 5), 2, pal4)
    half = gif_lzw(four[:40], 2)
    yield "gif_lzw_end_code_early_refused", gif_file(13, 7, gif_blocks(half) + gif_blocks(gif_lzw(four[40:], 2)), 2, pal4)
    yield "gif_lzw_no_end_code", gif_file(13, 7, gif_blocks(gif_lzw(four, 2, end_code=False)), 2, pal4)
    yield "gif_lzw_invalid_codes_after_full_frame", gif_file(13, 7, gif_blocks(gif_lzw(four, 2, end_code=False) + b"\xff" * 6), 2, pal4)
    yield "gif_lzw_first_code_above_clear_refused", gif_file(4, 2, gif_blocks(gif_codes([4, 6, 5], [3] * 3)), 2, pal4)
    yield "gif_lzw_code_past_next_refused", gif_file(4, 2, gif_blocks(gif_codes([4, 1, 7, 5], [3] * 4)), 2, pal4)  # next is 6
    noise = pixels(80, 64, 1, 264).reshape(-1)
    yield "gif_lzw_deferred_clear", gif_file(80, 64, gif_blocks(gif_lzw(noise, 8, clear_when_full=False)), 8, pixels(256, 1, 3, 265).tobytes())
    rows3 = pixels(9, 3, 1, 266).reshape(3, 9) % 4  # interlaced: rows 0, then 2, then 1
    yield "gif_lzw_interlaced_3_rows", gif_file(9, 3, gif_blocks(gif_lzw(rows3[[0, 2, 1]].reshape(-1), 2)), 2, pal4, interlaced=True)
    yield "gif_frame_outside_screen", gif_file(13, 7, gif_blocks(lzw), 2, pal4, screen=(8, 4), at=(3, 2))
    trns = b"\x21\xf9\x04\x01\x00\x00\x02\x00"  # graphic control: transparent index 2
    yield "gif_transparent_index_around_frame", gif_file(5, 3, gif_blocks(gif_lzw(four[:15], 2)), 2, pal4, screen=(12, 9), at=(4, 3), before_image=trns)
    yield "gif_stray_bytes_between_blocks", gif_file(13, 7, gif_blocks(lzw), 2, pal4, before_image=b"\x00\x07" + trns + b"\x3a")
    yield "gif_empty_extension_swallows_next_block", gif_file(13, 7, gif_blocks(lzw), 2, pal4, before_image=b"\x21\x01\x00\x03abc\x00")
    yield "gif_empty_extension_swallows_image_refused", gif_file(13, 7, gif_blocks(lzw), 2, pal4, before_image=b"\x21\xf9\x00")
    yield "gif_graphic_control_2_bytes_refused", gif_file(13, 7, gif_blocks(lzw), 2, pal4, before_image=b"\x21\xf9\x02\x00\x00\x00")
    b = io.BytesIO()
    Image.fromarray(pixels(1, 1, 3, 267)).save(b, "GIF")
    pil = b.getvalue()
    yield "fuzz_gif_colour_table_size_changed", pil[:10] + bytes([pil[10] & 0xF8]) + pil[11:]


def transposed(data):
    """What transformers' load_image gives: ImageOps.exif_transpose(Image.open(...)).convert("RGB") (SHA-256 or error)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:
                rgb = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
        return {"transposed_sha256": hashlib.sha256(rgb.tobytes()).hexdigest(), "transposed_size": [rgb.shape[1], rgb.shape[0]]}
    except Exception as e:  # noqa: BLE001 - the exception is the expected result
        return {"transposed_error": re.sub(r" at 0x[0-9a-f]+", "", f"{type(e).__name__}: {e}")}


def outcome(data):
    result = pillow(data)
    if "error" in result:  # no object address in the message: reruns are byte-identical
        result["error"] = re.sub(r" at 0x[0-9a-f]+", "", result["error"])
    return result


def main():
    cases = []
    for make in (wbmp_cases, bmp_rle_palette_end_cases, bmp_cases, os2_cases, webp_cases, png_cases, ico_cases, cur_cases):
        for name, data in make():
            cases.append({"name": name, "base64": base64.b64encode(data).decode(), **outcome(data)})
    for name, data in near_complete_cases():
        cases.append({"name": name, "base64": base64.b64encode(data).decode(), **outcome(data)})
    for name, data in orientation_cases():
        cases.append({"name": name, "base64": base64.b64encode(data).decode(), **outcome(data), **transposed(data)})
    for name, data in (*apng_cases(), *png_skipped_chunk_cases(), *png_chunk_handler_cases(), *png_damaged_end_cases(), *png_preset_dictionary_cases()):
        cases.append({"name": name, "base64": base64.b64encode(data).decode(), **outcome(data)})
    for name, data in late_chunk_orientation_cases():
        cases.append({"name": name, "base64": base64.b64encode(data).decode(), **outcome(data), **transposed(data)})
    for name, data in (*idat_stream_cases(), *sub_frame_cases(), *later_idat_cases()):
        cases.append({"name": name, "base64": base64.b64encode(data).decode(), **outcome(data)})
    for name, data in (*fuzz_found_cases(), *gif_cases(), *jpeg_marker_cases(), *jpeg_icc_profile_cases(), *colour_management_cases(), *jpeg_scan_end_cases(), *jpeg_default_table_cases(),
                       *jpeg_scan_header_after_data_cases()):
        cases.append({"name": name, "base64": base64.b64encode(data).decode(), **outcome(data)})
    write_cases(OUT, cases)


if __name__ == "__main__":
    main()
