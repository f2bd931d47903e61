#!/usr/bin/env python3
"""Writes weights/manifests/<name>.json: every tensor name, shape and dtype of the eight Salesforce BLIP
checkpoints, as transformers builds them from each checkpoint's config.

    tools/reference/py tools/reference/make_manifests.py [--out DIR]

Nothing is downloaded: the Hub configs are reconstructed below (sources and doubts in weights/README.md)
and each model is built on the meta device, so no weights are allocated. Output is deterministic.
"""
import argparse
import copy
import json
from pathlib import Path

import torch
import transformers
from transformers import (
    BlipConfig,
    BlipForConditionalGeneration,
    BlipForImageTextRetrieval,
    BlipForQuestionAnswering,
)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "weights" / "manifests"

# Text side: bert-base (the Hub files were corrected from 8 to 12 heads in April 2023,
# transformers PR #22632). encoder_hidden_size is overwritten by BlipConfig with the vision width.
TEXT = {
    "vocab_size": 30524, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
    "intermediate_size": 3072, "max_position_embeddings": 512, "hidden_act": "gelu",
    "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
    "initializer_range": 0.02, "bos_token_id": 30522, "eos_token_id": 2, "pad_token_id": 0,
    "sep_token_id": 102, "is_decoder": True, "use_cache": True, "tie_word_embeddings": True,
    "projection_dim": 768,
}
VIT_B = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072}
VIT_L = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096}
VISION = {"image_size": 384, "patch_size": 16, "hidden_act": "gelu", "layer_norm_eps": 1e-5,
          "attention_dropout": 0.0, "projection_dim": 512, "initializer_range": 0.02}
TOP = {"projection_dim": 512, "image_text_hidden_size": 256, "logit_scale_init_value": 2.6592,
       "initializer_factor": 1.0, "initializer_range": 0.02, "tie_word_embeddings": True}

# name -> (class, vision size, image_size)
CHECKPOINTS = {
    "blip-image-captioning-base": (BlipForConditionalGeneration, VIT_B, 384),
    "blip-image-captioning-large": (BlipForConditionalGeneration, VIT_L, 384),
    "blip-itm-base-coco": (BlipForImageTextRetrieval, VIT_B, 384),
    "blip-itm-large-coco": (BlipForImageTextRetrieval, VIT_L, 384),
    "blip-itm-base-flickr": (BlipForImageTextRetrieval, VIT_B, 384),
    "blip-itm-large-flickr": (BlipForImageTextRetrieval, VIT_L, 384),
    # Both VQA checkpoints are ViT-B: the only VQA weights BLIP released are ViT-B
    # (model_base_vqa*.pth), and transformers' VQA decoder only runs when vision width == text width.
    # image_size 384: transformers' conversion script built them with image_size=384 (see README).
    "blip-vqa-base": (BlipForQuestionAnswering, VIT_B, 384),
    "blip-vqa-capfilt-large": (BlipForQuestionAnswering, VIT_B, 384),
}


def config_dict(vit: dict, image_size: int) -> dict:
    vision = dict(VISION, **vit, image_size=image_size)
    text = dict(TEXT, encoder_hidden_size=vit["hidden_size"])
    return dict(TOP, text_config=text, vision_config=vision)


def tied_groups(model) -> list[dict]:
    """Keys whose tensor is the same Parameter as another key's; the target of _tied_weights_keys wins."""
    targets = set((getattr(model, "_tied_weights_keys", None) or {}).values())
    by_id: dict[int, list[str]] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        by_id.setdefault(id(p), []).append(name)
    out = []
    for names in by_id.values():
        if len(names) < 2:
            continue
        canon = next((n for n in names if n in targets), sorted(names)[0])
        out += [{"name": n, "alias_of": canon} for n in sorted(names) if n != canon]
    return sorted(out, key=lambda d: d["name"])


def manifest(name: str, cls, vit: dict, image_size: int) -> dict:
    cfg = config_dict(vit, image_size)
    with torch.device("meta"):
        model = cls(BlipConfig(**copy.deepcopy(cfg)))
    sd = model.state_dict()
    buffers = dict(model.named_buffers())
    tensors = [{"name": k, "shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", ""),
                "kind": "buffer" if k in buffers else "parameter", "in_state_dict": True}
               for k, v in sd.items()]
    tensors += [{"name": k, "shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", ""),
                 "kind": "buffer", "in_state_dict": False} for k, v in buffers.items() if k not in sd]
    tied = tied_groups(model)
    n_params = sum(v.numel() for k, v in sd.items() if k not in {t["name"] for t in tied} and k not in buffers)
    return {
        "hub_id": f"Salesforce/{name}",
        "class": cls.__name__,
        "config": cfg,
        "transformers_version": transformers.__version__,
        "tensors": sorted(tensors, key=lambda d: d["name"]),
        "tied": tied,
        "buffers": sorted(buffers),
        "non_persistent_buffers": sorted(k for k in buffers if k not in sd),
        "num_parameters": n_params,
        "notes": ("tensors = state_dict() (tied aliases included) + non-persistent buffers (in_state_dict "
                  "false). transformers 5 save_pretrained writes neither the tied aliases nor non-persistent "
                  "buffers; older Hub files may contain both. position_ids is arange(max_position_embeddings)."),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (cls, vit, size) in CHECKPOINTS.items():
        m = manifest(name, cls, vit, size)
        (args.out / f"{name}.json").write_text(json.dumps(m, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"{name}: {len(m['tensors'])} tensors, {m['num_parameters']:,} parameters, {len(m['tied'])} tied")


if __name__ == "__main__":
    main()
