"""Writes Blip.Engine.Tests/Fixtures/images/config_cases.json: what transformers' BlipImageProcessorPil makes of
preprocessor_config.json variants, each loaded with from_pretrained from a folder holding just that file and run on
Fixtures/images/src/rgb_37x53.png (opened with Image.open): the pixel_values' shape and the SHA-256 of their float32
little-endian bytes, or the exception transformers raised. A case transformers accepts but Blip.Engine deliberately
does not implement carries "engine_refuses" (why); ImageProcessorConfigTests then expects a ConfigException naming
that field.

Run from the repository root:  tools/reference/py tools/reference/make_image_config_cases.py  (byte-identical reruns)
"""
import hashlib
import json
import os
import tempfile
import warnings

import numpy as np
import transformers
from PIL import Image
from transformers import BlipImageProcessorPil

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = os.path.join(HERE, "..", "..", "Blip.Engine.Tests", "Fixtures", "images")
SOURCE = "rgb_37x53.png"
SIZE = {"size": {"height": 20, "width": 10}}

# (config, engine_refuses or None): the config is written over {"image_processor_type": "BlipImageProcessor"}.
CASES = [
    ({"size": {"height": 20, "width": 10}}, None),
    ({"size": 12}, None),
    # null flags: transformers tests them for truth, so null is off
    ({**SIZE, "do_resize": None}, None),
    ({**SIZE, "do_rescale": None}, None),
    ({**SIZE, "do_normalize": None}, None),
    ({**SIZE, "do_rescale": None, "do_normalize": None, "do_convert_rgb": None}, None),
    # a null value that an enabled flag needs is refused; with the flag off it is unused
    ({"size": None}, None),
    ({**SIZE, "resample": None}, None),
    ({**SIZE, "rescale_factor": None}, None),
    ({**SIZE, "image_mean": None}, None),
    ({**SIZE, "image_std": None}, None),
    ({"size": None, "do_resize": False}, None),
    ({**SIZE, "rescale_factor": None, "do_rescale": False}, None),
    ({**SIZE, "image_mean": None, "image_std": None, "do_normalize": False}, None),
    # a list size is [height, width]
    ({"size": [20, 10]}, None),
    ({"size": [20]}, None),
    ({"size": [20, 10, 3]}, "a size list other than [height, width]"),
    # keys that change the output in ways Blip.Engine does not implement: refused instead of ignored
    ({"size": 20, "default_to_square": False}, "shortest_edge resizing (aspect ratio kept)"),
    ({"size": 20, "default_to_square": None}, "shortest_edge resizing (aspect ratio kept)"),
    ({**SIZE, "default_to_square": False}, None),
    ({**SIZE, "do_center_crop": True, "crop_size": 8}, "center cropping"),
    ({**SIZE, "do_center_crop": True}, None),
    ({**SIZE, "do_center_crop": False, "crop_size": 8}, None),
    ({**SIZE, "do_pad": True, "pad_size": {"height": 30, "width": 30}}, "padding"),
    ({**SIZE, "do_pad": True}, None),
    ({"do_resize": False, "do_pad": True}, None),  # one image: nothing to pad to
    ({**SIZE, "do_pad": False, "pad_size": {"height": 30, "width": 30}}, None),
    # deliberate: only PIL BICUBIC, and only fixed output sizes
    ({**SIZE, "resample": 2}, "resample filters other than BICUBIC (3)"),
    ({"size": {"shortest_edge": 30}}, "shortest_edge resizing (aspect ratio kept)"),
]


def run(config):
    folder = tempfile.mkdtemp()
    with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
        json.dump({"image_processor_type": "BlipImageProcessor", **config}, f)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            processor = BlipImageProcessorPil.from_pretrained(folder)
            with Image.open(os.path.join(IMAGES, "src", SOURCE)) as image:
                pv = processor(image, return_tensors="np")["pixel_values"]
    except Exception as e:  # what transformers raises is the expected outcome
        return {"error": f"{type(e).__name__}: {e}"}
    pv = np.ascontiguousarray(pv.astype("<f4"))  # uint8 when neither rescaled nor normalized
    return {"shape": list(pv.shape), "sha256": hashlib.sha256(pv.tobytes()).hexdigest()}


def main():
    cases = []
    for config, refuses in CASES:
        case = {"config": config, "transformers": run(config)}
        if refuses:
            case["engine_refuses"] = refuses
        cases.append(case)
    out = {"generated_by": {"transformers": transformers.__version__}, "source": SOURCE, "cases": cases}
    with open(os.path.join(IMAGES, "config_cases.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
