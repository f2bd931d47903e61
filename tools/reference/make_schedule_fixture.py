#!/usr/bin/env python3
"""Writes the learning-rate schedule fixture: the rate transformers' scheduler gives each optimizer step.

    tools/reference/py tools/reference/make_schedule_fixture.py    # writes Fixtures/training/schedule.json

Blip.Engine's schedule is transformers' get_cosine_with_min_lr_schedule_with_warmup (linear warm-up from 0, then a
half cosine from the peak down to min_lr; lr_scheduler_type "cosine_with_min_lr" in the Trainer). For each case this
script builds a torch AdamW over one parameter with lr = peak, wraps it in that scheduler, and records, for every
optimizer step 0 .. total-1, param_groups[0]["lr"] as that step's update uses it (optimizer.step(), then
scheduler.step(), as the Trainer calls them). Python floats are doubles and the JSON keeps their shortest round-trip
form, so the C# doubles can be compared exactly. Deterministic: a second run writes a byte-identical file.
"""
import json
from pathlib import Path

import torch
from transformers.optimization import get_cosine_with_min_lr_schedule_with_warmup

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Blip.Engine.Tests" / "Fixtures" / "training" / "schedule.json"

# (name, warmup steps, total steps, peak lr, min lr)
CASES = [
    ("warmup10_total110", 10, 110, 1.0, 0.0),
    ("no_warmup", 0, 5, 1e-5, 0.0),
    ("warmup_is_total", 3, 3, 1e-4, 1e-6),
    ("warmup_past_total", 5, 2, 1e-4, 0.0),
    ("one_step", 1, 1, 3e-5, 0.0),
    ("blip_like", 4, 50, 2e-5, 2e-6),
    ("floor_is_peak", 7, 20, 3e-4, 3e-4),
    ("odd_sizes", 13, 97, 5e-5, 1e-7),
]


def rates(warmup, total, peak, min_lr):
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([param], lr=peak)
    scheduler = get_cosine_with_min_lr_schedule_with_warmup(optimizer, warmup, total, min_lr=min_lr)
    out = []
    for _ in range(total):
        out.append(optimizer.param_groups[0]["lr"])
        param.grad = torch.ones(1)
        optimizer.step()
        scheduler.step()
    return out


def main():
    cases = {name: {"warmup_steps": w, "total_steps": t, "peak": p, "min": m, "lr": rates(w, t, p, m)}
             for name, w, t, p, m in CASES}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({"producer": "transformers get_cosine_with_min_lr_schedule_with_warmup", "cases": cases}, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {OUT} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
