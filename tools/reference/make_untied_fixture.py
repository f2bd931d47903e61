#!/usr/bin/env python3
"""Writes the untied-LM-head fixture: the tiny captioning model with tie_word_embeddings false at both levels.

    tools/reference/py tools/reference/make_untied_fixture.py      # needs Fixtures/tiny/ (make_fixtures.py)

transformers ties the LM head's decoder weight (to the word embeddings) and bias (to cls.predictions.bias) when the
top-level or the text config says tie_word_embeddings; with both false the head has a weight and bias of its own,
which save_pretrained writes. This script loads Fixtures/tiny/captioning, sets both flags false, gives the head a
weight and bias of its own (seeded, unlike the tied tensors), saves the model with save_pretrained into
Blip.Engine.Tests/Fixtures/untied/captioning/ (config.json and model.safetensors only: the tests take the tokenizer
and processor files from Fixtures/tiny/captioning), and writes what transformers computes on it into
Fixtures/untied/expected.safetensors: the forward logits and loss on the tiny fixture's inputs and the greedy ids.
Seeded and single-threaded: a second run writes byte-identical files.
"""
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import BlipForConditionalGeneration

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "Blip.Engine.Tests" / "Fixtures" / "tiny"
OUT = REPO / "Blip.Engine.Tests" / "Fixtures" / "untied"
SEED = 20261203


def main() -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    src = TINY / "captioning"
    config = json.loads((src / "config.json").read_text())
    config["tie_word_embeddings"] = False
    config["text_config"]["tie_word_embeddings"] = False
    work = OUT / "_work"
    shutil.rmtree(OUT, ignore_errors=True)
    shutil.copytree(src, work)
    (work / "config.json").write_text(json.dumps(config, indent=2))
    # The tied file lacks decoder.weight/bias: transformers draws them (with a warning); they are replaced below.
    model = BlipForConditionalGeneration.from_pretrained(work).eval()
    head = model.text_decoder.cls.predictions
    emb = model.text_decoder.bert.embeddings.word_embeddings.weight
    assert head.decoder.weight.data_ptr() != emb.data_ptr(), "transformers tied the head although both flags are false"
    assert head.decoder.bias.data_ptr() != head.bias.data_ptr(), "transformers tied the bias although both flags are false"
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        head.decoder.weight.copy_(emb + 0.05 * torch.randn(emb.shape, generator=g))
        head.decoder.bias.copy_(0.1 * torch.randn(head.decoder.bias.shape, generator=g))
        head.bias.copy_(torch.randn(head.bias.shape, generator=g))  # unused by the forward when untied
    dest = OUT / "captioning"
    model.save_pretrained(dest)
    for f in dest.iterdir():
        if f.name not in ("config.json", "model.safetensors"):
            f.unlink()
    shutil.rmtree(work)

    saved = load_file(dest / "model.safetensors")
    for key in ("text_decoder.cls.predictions.decoder.weight", "text_decoder.cls.predictions.decoder.bias"):
        assert key in saved, f"save_pretrained did not write {key}"

    model = BlipForConditionalGeneration.from_pretrained(dest).eval()
    inputs = load_file(TINY / "expected.safetensors")
    pixel_values = inputs["pixel_values"]
    ids, mask = inputs["captioning.input_ids"], inputs["captioning.attention_mask"]
    with torch.no_grad():
        out = model(pixel_values=pixel_values, input_ids=ids.clone(), attention_mask=mask.clone(), labels=ids.clone())
        greedy = model.generate(pixel_values=pixel_values, max_length=20, num_beams=1, do_sample=False)
    save_file({"captioning.logits": out.logits.contiguous(), "captioning.loss": out.loss.reshape(1).contiguous(),
               "captioning.generate.greedy": greedy.contiguous()},
              OUT / "expected.safetensors", metadata={"format": "pt"})
    print(f"wrote {dest} and {OUT / 'expected.safetensors'}; greedy ids {greedy.tolist()}")


if __name__ == "__main__":
    main()
