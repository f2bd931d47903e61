"""Writes Blip.Engine.Tests/Fixtures/images/resample_cases.json: PIL's BICUBIC resize of small synthetic images
to degenerate and lopsided sizes (1xN, Nx1, 1x1 targets, a portrait squeezed to a square), as SHA-256 of the
uint8 HWC bytes. The input is bytes((i * 37 + 11) % 256 for i in range(w * h * 3)); ImageResampleTests builds the
same image and compares its resize with these hashes.

Run from the repository root:  tools/reference/py tools/reference/make_resample_cases.py
"""
import hashlib
import json
import os

import PIL
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "Blip.Engine.Tests", "Fixtures", "images", "resample_cases.json")

# (w, h) -> (W, H). Pillow 13 runs its vertical pass first when the height shrinks by more than twice what the width
# does (h - H > 2 * (w - W), Pillow PR 9549): 200x1000 -> 384x384 and 5x80 -> 60x6 get wider and shorter; 500x900 ->
# 384x384 (a portrait photo), 17x33 -> 7x5 and 50x70 -> 40x49 shrink both ways; 50x70 -> 40x50 is the tie (horizontal
# first), 50x70 -> 40x51 just past it.
CASES = [
    (1, 9, 384, 384), (9, 1, 1, 1), (7, 5, 1, 1), (1, 1, 3, 2), (300, 2, 1, 5), (2, 300, 5, 1),
    (200, 1000, 384, 384), (1000, 200, 384, 384), (30, 40, 31, 39), (40, 30, 39, 31), (5, 80, 60, 6),
    (500, 900, 384, 384), (17, 33, 7, 5), (50, 70, 40, 49), (50, 70, 40, 50), (50, 70, 40, 51), (40, 40, 41, 39),
]


def main():
    cases = []
    for w, h, out_w, out_h in CASES:
        image = Image.frombytes("RGB", (w, h), bytes((i * 37 + 11) % 256 for i in range(w * h * 3)))
        resized = image.resize((out_w, out_h), Image.BICUBIC).tobytes()
        cases.append({"width": w, "height": h, "out_width": out_w, "out_height": out_h,
                      "sha256": hashlib.sha256(resized).hexdigest()})
    write_cases(OUT, cases)


def write_cases(out, cases):
    """Writes {"generated_by": {"pillow": version}, "cases": cases} as make_decode_cases.py does too."""
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"generated_by": {"pillow": PIL.__version__}, "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.normpath(out)} (Pillow {PIL.__version__})")


if __name__ == "__main__":
    main()
