"""Reading and writing .safetensors files (the format's header + raw little-endian tensors), without the package."""
import json
import struct

import numpy as np
import torch

DTYPES = {"F16": torch.float16, "F32": torch.float32, "I64": torch.int64, "BF16": torch.bfloat16}
NAMES = {v: k for k, v in DTYPES.items()}


def read_safetensors(path):
    """All tensors of a file, as a name → tensor dict (copies, so the file can be replaced)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors header")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError(f"{path}: header length {n} runs past the end of the file")
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        if not (0 <= start <= end <= len(data) - base):
            raise ValueError(f"{path}: tensor {name} lies outside the file")
        dtype = DTYPES[info["dtype"]]
        raw = bytearray(data[base + start : base + end])
        t = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def tensor_shapes(path):
    """Each tensor's name → shape in a file (what an architecture check compares)."""
    return {name: tuple(t.shape) for name, t in read_safetensors(path).items()}


def write_safetensors(path, tensors):
    """Write name → tensor (contiguous, little-endian) with sorted names, 8-byte aligned header."""
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype in (torch.float16, torch.bfloat16) else t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)
