"""Reading exported weights: torch.load for .pt, and a reader for .safetensors
that needs nothing beyond torch (the format is an 8-byte header length, a JSON
header and raw little-endian tensor data)."""
import json
import struct

import torch

_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}


def read_safetensors(path):
    """Returns ({name: tensor}, metadata) of a .safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: shorter than a safetensors header")
    n = struct.unpack("<Q", raw[:8])[0]
    if 8 + n > len(raw):
        raise ValueError(f"{path}: header length {n} runs past the end of the file ({len(raw)} bytes)")
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    data = memoryview(raw)[8 + n:]
    out = {}
    for name, entry in header.items():
        dtype = _DTYPES.get(entry["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor '{name}' has unsupported dtype {entry['dtype']}")
        begin, end = entry["data_offsets"]
        if not 0 <= begin <= end <= len(data):
            raise ValueError(f"{path}: tensor '{name}' data [{begin}, {end}) outside the data section")
        shape = entry["shape"]
        if end > begin:
            t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype)
        else:
            t = torch.empty(0, dtype=dtype)
        out[name] = t.reshape(shape)
    return out, meta


def read_weights(path, prefix=None):
    """A state dict from a .pt (torch.load; a checkpoint's 'model' or
    'state_dict' entry when present) or a .safetensors file. With `prefix`
    ("target_encoder."), keeps those keys with the prefix removed."""
    if str(path).endswith(".safetensors"):
        sd, _ = read_safetensors(path)
    else:
        sd = torch.load(path, map_location="cpu")
        if isinstance(sd, dict):
            for key in ("model", "state_dict"):
                if key in sd and isinstance(sd[key], dict):
                    sd = sd[key]
                    break
    if not isinstance(sd, dict):
        raise ValueError(f"{path}: not a state dict (a {type(sd).__name__})")
    if prefix:
        sd = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
        if not sd:
            raise ValueError(f"{path}: no key starts with '{prefix}'")
    return sd
