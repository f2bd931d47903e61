#!/usr/bin/env python3
"""Writes the fixture of a tokenizer that save_pretrained left truncating: Fixtures/tokenizer/resaved_truncating/.

    tools/reference/py tools/reference/make_processor_truncation_fixture.py   # needs Fixtures/tiny/ (make_fixtures.py)

The usual fine-tuning recipe calls the processor with padding="max_length", truncation=True, max_length=N and then
save_pretrained: transformers 5 writes that truncation (and the fixed padding) into tokenizer.json, and on reload
its TokenizersBackend takes the length as the tokenizer's default max_length, which BlipProcessor passes to every
call. An unpadded call (one text, or texts a batch can hold unpadded) is then truncated to N; a padding=True call
ignores it (a warning). This script re-saves the tiny tokenizer that way (N = 8), keeps its tokenizer.json and
tokenizer_config.json, and records, with the tiny captioning, VQA and retrieval models and that tokenizer, what a
user's BlipProcessor calls give: the ids of one long text, of the same text twice, of two texts with padding=True,
and the caption, answer and ITM logits of one long text on PIL images. Byte-identical reruns on one machine.
"""
import json
import shutil
import tempfile
from pathlib import Path

import torch
import transformers
from PIL import Image
from transformers import (BlipForConditionalGeneration, BlipForImageTextRetrieval, BlipForQuestionAnswering,
                          BlipImageProcessorPil, BlipProcessor, BertTokenizer)

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "Blip.Engine.Tests" / "Fixtures" / "tiny"
OUT = REPO / "Blip.Engine.Tests" / "Fixtures" / "tokenizer" / "resaved_truncating"
LENGTH = 8
CONFIG_LENGTH = 5
LONG = "a picture of a dog and a cat sitting on a bed"
SHORT = "a dog"


def main() -> None:
    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    with tempfile.TemporaryDirectory() as tmp:
        first = BlipProcessor(image_processor=BlipImageProcessorPil.from_pretrained(str(TINY / "captioning")),
                              tokenizer=BertTokenizer.from_pretrained(str(TINY / "captioning")))
        first(text=[SHORT], padding="max_length", truncation=True, max_length=LENGTH)
        first.tokenizer.save_pretrained(tmp)
        shutil.rmtree(OUT, ignore_errors=True)
        OUT.mkdir(parents=True)
        for name in ["tokenizer.json", "tokenizer_config.json"]:
            shutil.copy(Path(tmp) / name, OUT / name)
    saved = json.loads((OUT / "tokenizer.json").read_text())
    assert saved["truncation"]["max_length"] == LENGTH, saved["truncation"]
    processor = BlipProcessor(image_processor=BlipImageProcessorPil.from_pretrained(str(TINY / "captioning")),
                              tokenizer=BertTokenizer.from_pretrained(str(OUT)))
    ids = lambda **kw: processor(**kw).input_ids
    rgb = Image.open(TINY / "images" / "rgb.png")
    gray = Image.open(TINY / "images" / "gray.jpg")
    expected = {
        "length": LENGTH, "long": LONG, "short": SHORT,
        "tokenizer_long": BertTokenizer.from_pretrained(str(OUT))(LONG).input_ids,
        "processor_long": ids(text=LONG),
        "processor_long_twice": ids(text=[LONG, LONG]),
        "processor_long_short_padded": ids(text=[LONG, SHORT], padding=True),
    }
    with torch.no_grad():
        captioning = BlipForConditionalGeneration.from_pretrained(str(TINY / "captioning")).eval()
        expected["caption_rgb_long"] = captioning.generate(
            **processor(images=rgb, text=LONG, return_tensors="pt"), max_length=20)[0].tolist()
        vqa = BlipForQuestionAnswering.from_pretrained(str(TINY / "vqa")).eval()
        expected["answer_gray_long"] = vqa.generate(
            **processor(images=gray, text=LONG, return_tensors="pt"), max_length=10)[0].tolist()
        retrieval = BlipForImageTextRetrieval.from_pretrained(str(TINY / "retrieval")).eval()
        expected["itm_logits_rgb_long"] = retrieval(
            **processor(images=rgb, text=LONG, return_tensors="pt")).itm_score[0].tolist()
    with tempfile.TemporaryDirectory() as tmp:
        # tokenizer_config.json's own max_length is the same default (and wins over tokenizer.json's)
        for name in ["tokenizer.json", "tokenizer_config.json", "vocab.txt"]:
            shutil.copy(TINY / "captioning" / name, Path(tmp) / name)
        config = json.loads((Path(tmp) / "tokenizer_config.json").read_text())
        config["max_length"] = CONFIG_LENGTH
        (Path(tmp) / "tokenizer_config.json").write_text(json.dumps(config))
        own = BlipProcessor(image_processor=processor.image_processor, tokenizer=BertTokenizer.from_pretrained(tmp))
        expected["config_max_length"] = CONFIG_LENGTH
        expected["config_max_length_processor_long"] = own(text=LONG).input_ids
    expected["versions"] = dict(torch=torch.__version__, transformers=transformers.__version__)
    (OUT / "expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for key, value in expected.items():
        print(key, value)


if __name__ == "__main__":
    main()
