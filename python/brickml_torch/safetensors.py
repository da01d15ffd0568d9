"""Minimal safetensors reader/writer on numpy (Debian ships no python3-safetensors).

The same format BrickML's core writes (packages/core/src/io/safetensors.ts): an 8-byte little-endian
header length, a JSON header of `{name: {dtype, shape, data_offsets}}` plus an optional
`__metadata__` of strings, padded with spaces to a multiple of 8, then the raw little-endian data.
"""
import json
import os
import struct

import numpy as np

_DT = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64, "U8": np.uint8, "BOOL": np.bool_}
_NAME = {np.dtype(v): k for k, v in _DT.items()}


def load(path):
    """{name: numpy array} of a safetensors file (the metadata is dropped; see `load_with_metadata`)."""
    return load_with_metadata(path)[0]


def load_with_metadata(path):
    """({name: numpy array}, {metadata key: string}) of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"safetensors.load: '{path}' is {len(raw)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f"safetensors.load: '{path}' declares a {n}-byte header but holds {len(raw) - 8} bytes after the length")
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    out, meta = {}, {}
    for name, info in header.items():
        if name == "__metadata__":
            meta = dict(info or {})
            continue
        if info["dtype"] not in _DT:
            raise ValueError(f"safetensors.load: '{path}': tensor '{name}' has dtype {info['dtype']}, expected one of {', '.join(_DT)}")
        a, b = info["data_offsets"]
        arr = np.frombuffer(raw[base + a : base + b], dtype=np.dtype(_DT[info["dtype"]]).newbyteorder("<")).reshape(info["shape"])
        out[name] = arr.astype(_DT[info["dtype"]], copy=True)
    return out, meta


def save(path, tensors, metadata=None):
    """Writes {name: numpy array} (float32/float64/int32/int64/uint8/bool) atomically (temp file, rename)."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, arr in tensors.items():
        arr = np.require(arr, requirements="C")  # keeps 0-d arrays 0-d (ascontiguousarray makes them 1-d)
        if arr.dtype not in _NAME:
            raise ValueError(f"safetensors.save: tensor '{name}' has dtype {arr.dtype}, expected one of {', '.join(str(np.dtype(d)) for d in _DT.values())}")
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _NAME[arr.dtype], "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + ".tmp", path)
