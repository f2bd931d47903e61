#!/usr/bin/env python3
"""Writes the safetensors header cases that Blip.Engine's SafeTensorsCaseTests compare against.

    tools/reference/py tools/reference/make_safetensors_cases.py [--out FILE]

Each case is a small file (an 8-byte header length, a JSON header, data bytes) whose header differs from what
safetensors writes in one way: metadata that is null, empty or not strings; shapes with zero and huge dimensions;
dtypes Blip.Engine does not hold; whitespace and bytes around the JSON; odd field types; offsets that leave holes or
overlap. Python's outcome for each comes from the safetensors library as transformers calls it (safe_open with
framework="pt", every tensor read): the metadata, and each tensor's dtype, shape and the SHA-256 of its bytes, or the
exception. Found by a scratch differential fuzz of random header edits (33,000 files): where the two readers still
differed, the case is here. Output (default Blip.Engine.Tests/Fixtures/safetensors/header_cases.json): one case per
line; a rerun writes a byte-identical file.
"""
import argparse
import base64
import hashlib
import json
import pathlib
import struct
import tempfile

import torch
from safetensors import safe_open

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "Blip.Engine.Tests" / "Fixtures" / "safetensors" / "header_cases.json"
DATA = bytes((i * 37 + 11) % 256 for i in range(16))
W = '"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}'


def one(name, dtype="F32", shape="[2,2]", offsets="[0,16]", extra=""):
    return f'"{name}":{{"dtype":"{dtype}","shape":{shape},"data_offsets":{offsets}{extra}}}'


def cases():
    yield "plain", '{"__metadata__":{"format":"pt"},' + W + "}", DATA
    for label, meta in [("null", "null"), ("empty", "{}"), ("number_value", '{"format":1}'), ("null_value", '{"format":null}'),
                        ("array", "[]"), ("string", '"pt"'), ("nested", '{"a":{"b":"c"}}'), ("two_keys", '{"format":"pt","x":"y"}')]:
        yield f"metadata_{label}", '{"__metadata__":' + meta + "," + W + "}", DATA
    yield "metadata_absent", "{" + W + "}", DATA
    yield "metadata_last", "{" + W + ',"__metadata__":{"format":"pt"}}', DATA
    big = 2**63 - 1
    for shape in ["[0,9223372036854775807]", "[9223372036854775807,0]", "[0,1099511627776,1099511627776]",
                  "[1099511627776,1099511627776,0]", "[4611686018427387904,2]", "[3037000500,3037000500]",
                  "[0,18446744073709551615]", "[0,9223372036854775808]", "[0]", "[]", "[0,768]", "[-1,2]"]:
        length = 4 if shape == "[]" else 0
        yield f"shape_{shape}", "{" + one("t", shape=shape, offsets=f"[0,{length}]") + "}", DATA[:length]
    # four elements each, data_offsets matching the dtype's size (F4: 4 bits an element)
    for dtype, size in [("U16", 8), ("U32", 16), ("U64", 32), ("C64", 32), ("F8_E4M3", 4), ("F8_E5M2", 4),
                        ("F8_E8M0", 4), ("F4", 2), ("f32", 16), ("", 16), ("F32 ", 16)]:
        data = (DATA * 2)[:size]
        yield f"dtype_{dtype}", "{" + one("t", dtype=dtype, shape="[4]", offsets=f"[0,{size}]") + "}", data
    for label, text in [("trailing_spaces", "{" + W + "}     "), ("leading_space", " {" + W + "}"),
                        ("trailing_newline", "{" + W + "}\n"), ("trailing_tab", "{" + W + "}\t"),
                        ("trailing_nul", "{" + W + "}\u0000"), ("bom", "\ufeff{" + W + "}"), ("spaces_inside", '{ "w" : { "dtype" : "F32" , "shape" : [ 2 , 2 ] , "data_offsets" : [ 0 , 16 ] } }')]:
        yield f"text_{label}", text, DATA
    for label, entry in [("shape_float", one("w", shape="[2.0,2]")), ("offsets_float", one("w", offsets="[0,16.0]")),
                         ("shape_exponent", one("w", shape="[2e0,2]")), ("offsets_three", one("w", offsets="[0,16,16]")),
                         ("offsets_one", one("w", offsets="[16]")), ("extra_field", one("w", extra=',"foo":1')),
                         ("shape_string", one("w", shape='"[2,2]"')), ("shape_null", one("w", shape="null")),
                         ("shape_nested", one("w", shape="[[2],2]")), ("dtype_number", one("w").replace('"F32"', "1")),
                         ("shape_true", one("w", shape="[true,2]")), ("shape_negative_zero", one("w", shape="[-0,2]").replace('"data_offsets":[0,16]', '"data_offsets":[0,0]'))]:
        yield f"field_{label}", "{" + entry + "}", DATA if "negative_zero" not in label else b""
    yield "key_empty", "{" + one("") + "}", DATA
    yield "key_escaped", "{" + one("a\\u00e9b") + "}", DATA
    yield "key_duplicate", "{" + W + "," + W + "}", DATA
    yield "tensor_null", '{"w":null}', b""
    yield "two_tensors_out_of_order", "{" + one("b", offsets="[8,16]", shape="[2]") + "," + one("a", offsets="[0,8]", shape="[2]") + "}", DATA
    yield "hole", "{" + one("a", offsets="[0,4]", shape="[1]") + "," + one("b", offsets="[8,16]", shape="[2]") + "}", DATA
    yield "overlap", "{" + one("a", offsets="[0,8]", shape="[2]") + "," + one("b", offsets="[4,16]", shape="[3]") + "}", DATA
    yield "bytes_after", "{" + one("a", offsets="[0,8]", shape="[2]") + "}", DATA
    yield "empty_inside", "{" + one("a", offsets="[0,16]", shape="[4]") + "," + one("e", offsets="[8,8]", shape="[0]") + "}", DATA
    yield "empty_at_end", "{" + one("a", offsets="[0,16]", shape="[4]") + "," + one("e", offsets="[16,16]", shape="[0]") + "}", DATA
    yield "field_duplicate_dtype", '{"w":{"dtype":"F64","dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}', DATA
    yield "field_duplicate_shape", '{"w":{"dtype":"F32","shape":[4],"shape":[2,2],"data_offsets":[0,16]}}', DATA
    yield "metadata_duplicate_key", '{"__metadata__":{"format":"pt","format":"np"},' + W + "}", DATA
    yield "metadata_twice", '{"__metadata__":{"format":"np"},"__metadata__":{"format":"pt"},' + W + "}", DATA
    yield "text_empty", "", b""
    yield "text_whitespace_only", "   ", b""
    yield "no_tensors_with_data", "{}", DATA
    yield "no_tensors", "{}", b""
    yield "only_metadata", '{"__metadata__":{"format":"pt"}}', b""


# Where Blip.Engine refuses what python reads, on purpose: the message it must give, and why.
ENGINE_REFUSES = {
    **{f"dtype_{d}": ("unknown dtype", "a dtype no BLIP checkpoint holds and Blip.Engine does not load (BOOL, U8, I8, I16, "
                      "F16, BF16, I32, F32, F64, I64 only); refused naming the dtype rather than read wrongly")
       for d in ["U16", "U32", "U64", "C64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4"]},
    "shape_[0,1099511627776,1099511627776]": ("too large", "libtorch's contiguous strides of this empty tensor overflow "
                                              "a long (2^80): TorchSharp cannot make it"),
    "key_duplicate": ("appears twice", "python keeps the last of two tensors of one name; another reader may keep the first, "
                      "so such a file is refused rather than read one way"),
    "metadata_duplicate_key": ("appears twice", "the same for two metadata values of one key"),
}


def outcome(blob):
    with tempfile.NamedTemporaryFile(suffix=".safetensors") as f:
        f.write(blob)
        f.flush()
        try:
            with safe_open(f.name, framework="pt") as st:
                meta = st.metadata()
                tensors = {}
                for k in sorted(st.keys()):
                    t = st.get_tensor(k)
                    b = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
                    tensors[k] = {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
                                  "sha256": hashlib.sha256(b).hexdigest()}
            return {"read": True, "metadata": meta, "tensors": tensors}
        except Exception as e:  # the refusal is what the case records
            return {"read": False, "error": f"{type(e).__name__}: {e}".splitlines()[0][:300]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    lines = []
    for name, header, data in cases():
        text = header.encode("utf-8")
        blob = struct.pack("<Q", len(text)) + text + data
        case = {"name": name, "file": base64.b64encode(blob).decode("ascii"), "python": outcome(blob)}
        if name in ENGINE_REFUSES:
            assert case["python"]["read"], name  # a known difference is a file python reads
            case["engine_refuses"] = {"message": ENGINE_REFUSES[name][0], "why": ENGINE_REFUSES[name][1]}
        lines.append(json.dumps(case, ensure_ascii=True, sort_keys=True))
    args.out.write_text("\n".join(lines) + "\n")
    print(f"{len(lines)} cases -> {args.out}")


if __name__ == "__main__":
    main()
