"""Checks that transformers loads a model folder written by Blip.Engine.

    tools/reference/py tools/reference/check_transformers_load.py CLASS FOLDER [EXPECTED.safetensors]

Loads FOLDER with transformers' CLASS (BlipForConditionalGeneration, BlipForImageTextRetrieval,
BlipForQuestionAnswering) and fails unless there are no missing, unexpected or mismatched keys. With the tiny
fixtures' expected.safetensors, also compares the captioning logits (abs 1e-5). Prints OK on success.
"""
import sys

import torch
import transformers
from safetensors.torch import load_file


def main():
    cls_name, folder = sys.argv[1], sys.argv[2]
    cls = getattr(transformers, cls_name)
    model, info = cls.from_pretrained(folder, output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    if problems:
        print("loading problems:", problems)
        sys.exit(1)
    if len(sys.argv) > 3 and cls_name == "BlipForConditionalGeneration":
        expected = load_file(sys.argv[3])
        with torch.no_grad():
            logits = model.eval()(pixel_values=expected["pixel_values"], input_ids=expected["captioning.input_ids"],
                                  attention_mask=expected["captioning.attention_mask"]).logits
        diff = (logits - expected["captioning.logits"]).abs().max().item()
        print("max |logits diff|", diff)
        if diff > 1e-5:
            sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
