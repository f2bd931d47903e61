"""Makes the safetensors interop fixture, or checks a file Blip.Engine wrote.

  tools/reference/py tools/reference/make_safetensors_fixture.py          # writes the fixture
  tools/reference/py tools/reference/make_safetensors_fixture.py --check FILE

Writes Blip.Engine.Tests/Fixtures/safetensors/python_written.safetensors with
safetensors.torch.save_file (metadata {"format": "pt"}, as transformers writes), one small tensor of
every dtype Blip.Engine supports, and python_written.json beside it: each tensor's dtype, shape and
values (floats as exact doubles), so the C# test compares against python's values, not typed ones.
--check opens FILE with safetensors.safe_open and exits non-zero unless it holds exactly these tensors.
"""
import json
import pathlib
import sys

import safetensors
import torch
from safetensors import safe_open
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parents[2] / "Blip.Engine.Tests" / "Fixtures" / "safetensors"
DTYPE_NAMES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
               torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
               torch.uint8: "U8", torch.bool: "BOOL"}


def tensors():
    g = torch.Generator().manual_seed(1234)
    base = torch.randn(2, 3, generator=g, dtype=torch.float64) * 100
    t = {
        "f64.weight": base.clone(),
        "f32.weight": base.to(torch.float32),
        "f16.weight": (base / 10).to(torch.float16),
        "bf16.weight": base.to(torch.bfloat16),
        "i64.ids": torch.tensor([[-(2**62), 0, 2**62 + 7]], dtype=torch.int64),
        "i32.ids": torch.tensor([-(2**31), 5, 2**31 - 1], dtype=torch.int32),
        "i16.ids": torch.tensor([-32768, 1, 32767], dtype=torch.int16),
        "i8.ids": torch.tensor([-128, -1, 127], dtype=torch.int8),
        "u8.ids": torch.tensor([0, 128, 255], dtype=torch.uint8),
        "bool.mask": torch.tensor([[True, False], [False, True]]),
        "scalar": torch.tensor(3.25, dtype=torch.float32),
        "empty": torch.zeros(0, 4, dtype=torch.float32),
        "a.later.name": torch.arange(5, dtype=torch.float32),
    }
    return t


def values(x):
    if x.dtype == torch.bool:
        return x.flatten().tolist()
    if x.dtype.is_floating_point:
        return x.to(torch.float64).flatten().tolist()
    return [str(v) for v in x.flatten().tolist()]  # as strings: int64 does not survive JSON doubles


def write():
    OUT.mkdir(parents=True, exist_ok=True)
    t = tensors()
    save_file(t, str(OUT / "python_written.safetensors"), metadata={"format": "pt"})
    listing = {
        "safetensors_version": safetensors.__version__,
        "torch_version": torch.__version__,
        "metadata": {"format": "pt"},
        "tensors": {k: {"dtype": DTYPE_NAMES[v.dtype], "shape": list(v.shape), "values": values(v)} for k, v in t.items()},
    }
    (OUT / "python_written.json").write_text(json.dumps(listing, indent=1) + "\n")
    print("wrote", OUT)


def check(path):
    expected = tensors()
    with safe_open(path, framework="pt") as f:
        keys = set(f.keys())
        assert keys == set(expected), f"keys differ: {sorted(keys ^ set(expected))}"
        assert f.metadata() == {"format": "pt"}, f"metadata {f.metadata()}"
        for k, want in expected.items():
            got = f.get_tensor(k)
            assert got.dtype == want.dtype and got.shape == want.shape and torch.equal(got, want), f"{k}: {got} != {want}"
    print("OK", path, len(expected), "tensors")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
    else:
        write()
