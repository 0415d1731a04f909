"""Image files to grey float32 arrays in [0, 1] (1 = bright), as the C++
decoder produces them (chexworld/data/decode.cc): PNG (8/16-bit grey, grey +
alpha, RGB, RGBA, palette; non-interlaced) and binary PGM read here with the
standard library; .npy arrays taken as they are; JPEG and other formats
through Pillow when it is installed. DICOM is not read here: pack or embed
DICOM with the C++ tools."""
import struct
import zlib

import numpy as np


def _unfilter(raw, height, row_bytes, bpp):
    out = np.zeros((height, row_bytes), dtype=np.uint8)
    prev = np.zeros(row_bytes, dtype=np.int32)
    pos = 0
    for y in range(height):
        ftype = raw[pos]
        line = np.frombuffer(raw, dtype=np.uint8, count=row_bytes, offset=pos + 1).astype(np.int32)
        pos += 1 + row_bytes
        if ftype == 0:
            cur = line
        elif ftype == 2:
            cur = (line + prev) & 0xFF
        elif ftype == 1 and row_bytes % bpp == 0:
            cur = (line.reshape(-1, bpp).cumsum(axis=0) & 0xFF).reshape(-1)
        elif ftype in (1, 3, 4):
            cur = np.zeros(row_bytes, dtype=np.int32)
            for x in range(row_bytes):  # left-dependent filters are sequential
                a = cur[x - bpp] if x >= bpp else 0
                b = prev[x]
                if ftype == 1:
                    pred = a
                elif ftype == 3:
                    pred = (a + b) >> 1
                else:
                    c = prev[x - bpp] if x >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (line[x] + pred) & 0xFF
        else:
            raise ValueError(f"row {y}: unknown PNG filter type {ftype}")
        out[y] = cur
        prev = cur
    return out


def read_png(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG file")
    pos, idat, palette = 8, [], None
    width = height = depth = color = interlace = None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if width is None:
        raise ValueError(f"{path}: no IHDR chunk")
    if interlace:
        raise ValueError(f"{path}: interlaced PNG is not read here (re-save it non-interlaced)")
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color]
    bits = depth * channels
    row_bytes = (width * bits + 7) // 8
    rows = _unfilter(zlib.decompress(b"".join(idat)), height, row_bytes, max(1, bits // 8))
    if depth == 16:
        v = rows.view(">u2").reshape(height, width, channels).astype(np.float64)
        maxv = 65535.0
    elif depth == 8:
        v = rows.reshape(height, width, channels).astype(np.float64)
        maxv = 255.0
    else:  # 1, 2 or 4-bit grey or palette: unpack, grey scaled to 8 bits
        per = 8 // depth
        shifts = np.array([8 - depth * (i + 1) for i in range(per)], dtype=np.uint8)
        idx = ((rows[:, :, None] >> shifts) & ((1 << depth) - 1)).reshape(height, -1)[:, :width]
        v = idx.astype(np.float64)[:, :, None] * (255.0 / ((1 << depth) - 1) if color == 0 else 1.0)
        maxv = 255.0
    if color == 3:
        v = palette[v[:, :, 0].astype(np.int64)].astype(np.float64)
        channels = 3
    if channels >= 3:  # ITU-R 601 luma, alpha dropped
        g = 0.299 * v[:, :, 0] + 0.587 * v[:, :, 1] + 0.114 * v[:, :, 2]
    else:
        g = v[:, :, 0]
    return (g / maxv).astype(np.float32)


def read_pgm(path):
    with open(path, "rb") as f:
        data = f.read()
    fields, pos = [], 2
    if data[:2] != b"P5":
        raise ValueError(f"{path}: only binary PGM (P5) is read")
    while len(fields) < 3:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(int(data[pos:end]))
        pos = end
    width, height, maxv = fields
    pos += 1
    dtype = ">u2" if maxv > 255 else np.uint8
    v = np.frombuffer(data, dtype=dtype, count=width * height, offset=pos).reshape(height, width)
    return (v.astype(np.float64) / maxv).astype(np.float32)


def read_image(path):
    """A grey float32 array (H, W) in [0, 1]."""
    lower = str(path).lower()
    if lower.endswith(".png"):
        return read_png(path)
    if lower.endswith(".pgm"):
        return read_pgm(path)
    if lower.endswith(".npy"):
        a = np.load(path)
        if a.ndim != 2:
            raise ValueError(f"{path}: expected a 2-D grey array, got shape {a.shape}")
        return a.astype(np.float32)
    if lower.endswith(".dcm") or lower.endswith(".dicom"):
        raise ValueError(f"{path}: DICOM is not read in Python; use //experiments:embed or pack it")
    try:
        from PIL import Image  # optional, for JPEG and the rest
    except ImportError:
        raise ValueError(f"{path}: only PNG, PGM and .npy are read without Pillow (apt install python3-pil)")
    with Image.open(path) as im:
        if im.mode in ("I;16", "I;16B", "I"):
            return (np.asarray(im, dtype=np.float64) / 65535.0).astype(np.float32)
        rgb = np.asarray(im.convert("RGB"), dtype=np.float64)
        if im.mode in ("L", "LA"):
            return (rgb[:, :, 0] / 255.0).astype(np.float32)
        g = 0.299 * rgb[:, :, 0] + 0.587 * rgb[:, :, 1] + 0.114 * rgb[:, :, 2]
        return (g / 255.0).astype(np.float32)
