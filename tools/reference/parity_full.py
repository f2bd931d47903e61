#!/usr/bin/env python3
"""Full-size parity data (opt-in, not CI): random checkpoints with the REAL architectures and the
outputs transformers computes on them, for comparing Blip.Engine at full scale.

    tools/reference/parity_full                     # both models, skips any already written
    tools/reference/parity_full --small             # 2-layer variants, to check the script quickly
    tools/reference/parity_full --names blip-itm-large-flickr --force

For each name, reads the config from weights/manifests/<name>.json, builds the model, re-draws every
parameter from a seeded generator (std 0.02; LayerNorm weights 1+0.1*N), and writes into
.fullsize/<name>/ (git-ignored; with --small: .fullsize/<name>-small/):
  config.json, model.safetensors, generation_config.json   (save_pretrained; ~1.8 GB for the large ones)
  processor_config.json, tokenizer*.json, vocab.txt          (real bert-base-uncased vocab + [DEC] 30522, [ENC] 30523)
  image.png                                                  (the tiny fixtures' rgb.png, 200x150)
  expected.safetensors, expected.json                        (names below; shapes in the JSON)
"""
import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch
import transformers
from PIL import Image
from safetensors.torch import save_file
from transformers import (
    BertTokenizer,
    BlipConfig,
    BlipForConditionalGeneration,
    BlipForImageTextRetrieval,
    BlipImageProcessorPil,
    BlipProcessor,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures  # noqa: E402  (images and capture helpers shared with the tiny fixtures)

REPO = Path(__file__).resolve().parents[2]
SEED = 7
PROMPT = "a picture of"
ITM_TEXT = "A woman and a dog sitting together on a beach."
CLASSES = {"BlipForConditionalGeneration": BlipForConditionalGeneration,
           "BlipForImageTextRetrieval": BlipForImageTextRetrieval}


@torch.no_grad()
def redraw(model, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        noise = torch.randn(p.shape, generator=g, dtype=torch.float32)
        p.copy_(1.0 + 0.1 * noise if make_fixtures.is_norm_weight(name) else 0.02 * noise)


def processor(bert_vocab: Path, image_size: int) -> BlipProcessor:
    tok = BertTokenizer(vocab=str(bert_vocab), do_lower_case=True, bos_token="[DEC]",
                        additional_special_tokens=["[ENC]"], model_max_length=512)
    assert tok.convert_tokens_to_ids(["[DEC]", "[ENC]"]) == [30522, 30523], "[DEC]/[ENC] must be 30522/30523"
    return BlipProcessor(image_processor=BlipImageProcessorPil(size={"height": image_size, "width": image_size}),
                         tokenizer=tok)


def run_one(name: str, small: bool, out_root: Path, bert_vocab: Path, force: bool) -> None:
    manifest = json.loads((REPO / "weights" / "manifests" / f"{name}.json").read_text())
    cfg = manifest["config"]
    if small:
        cfg["vision_config"]["num_hidden_layers"] = 2
        cfg["text_config"]["num_hidden_layers"] = 2
    folder = out_root / (f"{name}-small" if small else name)
    if (folder / "expected.safetensors").exists() and not force:
        print(f"{folder}: present, skipped (use --force to rewrite)")
        return
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    t0 = time.time()
    torch.manual_seed(SEED)
    model = CLASSES[manifest["class"]](BlipConfig(**cfg)).eval()
    redraw(model, SEED)
    model.save_pretrained(folder)
    size = cfg["vision_config"]["image_size"]
    proc = processor(bert_vocab, size)
    proc.save_pretrained(folder)
    vocab = bert_vocab.read_text(encoding="utf-8").splitlines() + ["[DEC]", "[ENC]"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")  # as Hub folders carry it
    print(f"{folder}: built and saved in {time.time() - t0:.0f}s")

    image_path = make_fixtures.make_images(folder / "_images")["rgb"]
    shutil.copy(image_path, folder / "image.png")
    shutil.rmtree(folder / "_images")
    image = Image.open(folder / "image.png")
    image.load()
    pixel_values = proc(images=[image], return_tensors="pt")["pixel_values"]
    t: dict[str, torch.Tensor] = {"pixel_values": pixel_values}
    facts: dict = {}
    with torch.no_grad():
        vis = model.vision_model(pixel_values=pixel_values)
        if manifest["class"] == "BlipForConditionalGeneration":
            enc = proc(text=[PROMPT], return_tensors="pt")
            out = model(pixel_values=pixel_values, input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
            t.update({"captioning.vision.last_hidden_state": vis.last_hidden_state,
                      "captioning.vision.pooler_output": vis.pooler_output,
                      "captioning.input_ids": enc["input_ids"], "captioning.attention_mask": enc["attention_mask"],
                      "captioning.logits": out.logits})
            facts["forward"] = ("model(pixel_values, input_ids, attention_mask): input_ids fed to the decoder "
                                "unchanged ([CLS] kept), causal, full cross-attention to the image")
            facts["prompt"] = PROMPT
        else:
            enc = proc(text=[ITM_TEXT], return_tensors="pt")
            ids, mask = enc["input_ids"], enc["attention_mask"]
            itm = model(input_ids=ids, pixel_values=pixel_values, attention_mask=mask, use_itm_head=True)
            itc = model(input_ids=ids, pixel_values=pixel_values, attention_mask=mask, use_itm_head=False)
            text_embeds = itc.question_embeds
            img = vis.last_hidden_state
            t.update({"retrieval.vision.last_hidden_state": img,
                      "retrieval.vision.pooler_output": vis.pooler_output,
                      "retrieval.input_ids": ids, "retrieval.attention_mask": mask,
                      "retrieval.itm_logits": itm.itm_score, "retrieval.itc_cosine": itc.itm_score,
                      "retrieval.text_embeds": text_embeds, "retrieval.itm_text_hidden": itm.question_embeds,
                      "retrieval.image_feat": torch.nn.functional.normalize(model.vision_proj(img[:, 0]), dim=-1),
                      "retrieval.text_feat": torch.nn.functional.normalize(model.text_proj(text_embeds[:, 0]),
                                                                           dim=-1)})
            facts["forward"] = "as the tiny retrieval fixtures: itm with cross-attention, itc without"
            facts["text"] = ITM_TEXT
    t = {k: v.contiguous().to(torch.int64 if not v.is_floating_point() else torch.float32) for k, v in t.items()}
    save_file(dict(sorted(t.items())), folder / "expected.safetensors")
    meta = {"hub_config_of": manifest["hub_id"], "small": small, "seed": SEED,
            "weights_init": "every parameter re-drawn: LayerNorm weights 1+0.1*N(0,1), everything else 0.02*N(0,1)",
            "versions": {"transformers": transformers.__version__, "torch": torch.__version__},
            "image": "image.png (RGB 200x150) -> BlipImageProcessorPil at %d px" % size,
            "tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")}
                        for k, v in sorted(t.items())}, **facts}
    (folder / "expected.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    print(f"{folder}: done in {time.time() - t0:.0f}s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--names", nargs="+", default=["blip-image-captioning-large", "blip-itm-large-flickr"])
    ap.add_argument("--small", action="store_true", help="2 vision + 2 text layers (quick check of the script)")
    ap.add_argument("--force", action="store_true", help="rewrite folders that already have expected.safetensors")
    ap.add_argument("--out", type=Path, default=REPO / ".fullsize")
    ap.add_argument("--bert-vocab", type=Path, default=make_fixtures.DEFAULT_BERT_VOCAB)
    args = ap.parse_args()
    for name in args.names:
        run_one(name, args.small, args.out, args.bert_vocab, args.force)


if __name__ == "__main__":
    main()
