#!/usr/bin/env python3
"""Writes the small committed seed inputs of the fuzz targets (tests/fuzz/seeds/),
and the regression inputs of findings fixed before their crash files were
kept (tests/fuzz/regressions/; later findings are saved there as found).

Every seed is synthesised here (no shared data is copied): tiny PNGs of each
colour type, a JPEG made with cjpeg (libjpeg-turbo-progs), minimal DICOMs
(explicit and implicit VR, MONOCHROME1/2, 8 and 12 bits, rescale, window and a
VOI LUT), torch.save files (the project's .venv torch), configs, CSVs with a
preset byte, and a shard made by //datasets:pack when its binary is given.

  tests/fuzz/make_seeds.py [bazel-bin/datasets/pack]
"""
import argparse, collections, os, shutil, struct, subprocess, sys, tempfile, zlib

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
seeds = os.path.join(here, "seeds")


def put(target, name, data, folder=None):
    d = os.path.join(folder or seeds, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def regression(target, name, data):
    put(target, name, data, os.path.join(here, "regressions"))


def png(width, height, color_type, bit_depth, rows, palette=None):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + r for r in rows)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0))
    if palette:
        out += chunk(b"PLTE", palette)
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def images():
    g8 = [bytes((x * 16 + y * 8) & 255 for x in range(8)) for y in range(8)]
    put("image_fuzz", "gray8.png", png(8, 8, 0, 8, g8))
    put("image_fuzz", "gray16.png", png(4, 4, 0, 16, [b"".join(struct.pack(">H", (x + y) * 4000) for x in range(4)) for y in range(4)]))
    put("image_fuzz", "rgb.png", png(4, 4, 2, 8, [bytes(v for x in range(4) for v in (x * 60, y * 60, 100)) for y in range(4)]))
    put("image_fuzz", "gray_alpha.png", png(4, 4, 4, 8, [bytes(v for x in range(4) for v in (x * 60, 255)) for y in range(4)]))
    put("image_fuzz", "palette.png", png(4, 4, 3, 8, [bytes(x % 2 for x in range(4)) for y in range(4)], palette=b"\x00\x00\x00\xff\xff\xff"))
    if shutil.which("cjpeg"):
        with tempfile.TemporaryDirectory() as t:
            pgm = os.path.join(t, "a.pgm")
            with open(pgm, "wb") as f:
                f.write(b"P5 16 16 255\n" + bytes((x * 16 + y * 4) & 255 for y in range(16) for x in range(16)))
            for name, flags in (("gray.jpg", []), ("progressive.jpg", ["-progressive"])):
                data = subprocess.run(["cjpeg", "-quality", "50", *flags, pgm], check=True, capture_output=True).stdout
                put("image_fuzz", name, data)
    else:
        print("cjpeg not found (apt-get install libjpeg-turbo-progs): no JPEG seeds", file=sys.stderr)


def dicom(explicit=True, preamble=True, bits=12, mono="MONOCHROME1", rescale=True, window=True, voi_lut=False, size=8,
          extra=b"", spp=1):
    def el(group, elem, vr, value):
        if isinstance(value, str):
            value = value.encode()
            if len(value) % 2:
                value += b" " if vr != "UI" else b"\x00"
        if explicit or group == 2:
            if vr in ("OB", "OW", "SQ", "UN", "UT"):
                return struct.pack("<HH2sHI", group, elem, vr.encode(), 0, len(value)) + value
            return struct.pack("<HH2sH", group, elem, vr.encode(), len(value)) + value
        return struct.pack("<HHI", group, elem, len(value)) + value
    ts = "1.2.840.10008.1.2.1" if explicit else "1.2.840.10008.1.2"
    meta_body = el(2, 0x0001, "OB", b"\x00\x01") + el(2, 0x0002, "UI", "1.2.840.10008.5.1.4.1.1.1") + \
        el(2, 0x0003, "UI", "1.2.3.4") + el(2, 0x0010, "UI", ts)
    meta = el(2, 0x0000, "UL", struct.pack("<I", len(meta_body))) + meta_body
    alloc = 8 if bits <= 8 else 16
    pixels = bytes(((x + y) * 4) & 255 for y in range(size) for x in range(size)) if alloc == 8 else \
        b"".join(struct.pack("<H", ((x + y) * 200) & ((1 << bits) - 1)) for y in range(size) for x in range(size))
    body = el(0x0008, 0x0060, "CS", "CR") + extra + el(0x0028, 0x0002, "US", struct.pack("<H", spp)) + \
        el(0x0028, 0x0004, "CS", mono) + el(0x0028, 0x0010, "US", struct.pack("<H", size)) + \
        el(0x0028, 0x0011, "US", struct.pack("<H", size)) + el(0x0028, 0x0100, "US", struct.pack("<H", alloc)) + \
        el(0x0028, 0x0101, "US", struct.pack("<H", bits)) + el(0x0028, 0x0102, "US", struct.pack("<H", bits - 1)) + \
        el(0x0028, 0x0103, "US", struct.pack("<H", 0))
    if window:
        body += el(0x0028, 0x1050, "DS", "1500") + el(0x0028, 0x1051, "DS", "2000")
    if rescale:
        body += el(0x0028, 0x1052, "DS", "-1024") + el(0x0028, 0x1053, "DS", "1")
    if voi_lut:
        lut = b"".join(struct.pack("<H", v * 16) for v in range(256))
        item = el(0x0028, 0x3002, "US", struct.pack("<HHH", 256, 0, 16)) + el(0x0028, 0x3006, "OW", lut)
        seq = struct.pack("<HHI", 0xFFFE, 0xE000, len(item)) + item
        body += el(0x0028, 0x3010, "SQ", seq)
    body += el(0x7FE0, 0x0010, "OW" if alloc == 16 else "OB", pixels)
    head = b"\x00" * 128 + b"DICM" if preamble else b""
    return head + meta + body if preamble else meta + body


def dicoms():
    put("dicom_fuzz", "mono1_12bit.dcm", dicom())
    put("dicom_fuzz", "mono2_8bit_implicit.dcm", dicom(explicit=False, bits=8, mono="MONOCHROME2", rescale=False))
    put("dicom_fuzz", "no_preamble.dcm", dicom(preamble=False, window=False))
    put("dicom_fuzz", "voi_lut.dcm", dicom(voi_lut=True, window=False))
    put("dicom_fuzz", "15bit.dcm", dicom(bits=15, mono="MONOCHROME2"))


def regressions():
    """Inputs of fixed findings (the fuzz target named), one file per bug."""
    def el(g, e, vr, value, long_form=False):
        if long_form:
            return struct.pack("<HH2sHI", g, e, vr.encode(), 0, len(value)) + value
        return struct.pack("<HH2sH", g, e, vr.encode(), len(value)) + value
    # GDCM zero-filled a buffer of the declared 32-bit length (4 GiB) for a
    # 40-byte file: lengths are now checked against the file first.
    huge = b"\x00" * 128 + b"DICM" + el(2, 0x10, "UI", b"1.2.840.10008.1.2.1\x00") + \
        struct.pack("<HH2sHI", 0x0008, 0x0016, b"OB", 0, 0xC0000000) + b"tiny"
    regression("dicom_fuzz", "declared_length_beyond_file.dcm", huge)
    # GDCM asserted ("Should not happen") on a file that ends right after its meta group.
    regression("image_fuzz", "meta_group_only.dcm", bytes.fromhex(
        "02003a005552007a1500000000ffffff" "57000000001100ffffffffffff000000" "00"))
    regression("dicom_fuzz", "meta_group_only.dcm", b"\x00" * 128 + b"DICM" + el(2, 0x10, "UI", b"1.2.840.10008.1.2.1\x00"))
    # An unknown VR ("RN") sent GDCM down its implicit-meta fallback, which asserted.
    regression("image_fuzz", "unknown_vr.dcm", bytes.fromhex("02000055524e0000") + b"\x00" * 112)
    # GDCM asserted on Samples per Pixel 513.
    regression("dicom_fuzz", "samples_per_pixel_513.dcm", dicom(spp=513))
    # GDCM asserted on High Bit with VR SS instead of US.
    regression("dicom_fuzz", "high_bit_as_ss.dcm",
               dicom(window=False, extra=el(0x0028, 0x0000, "UL", struct.pack("<I", 0))).replace(
                   struct.pack("<HH2sH", 0x0028, 0x0102, b"US", 2), struct.pack("<HH2sH", 0x0028, 0x0102, b"SS", 2)))
    # GDCM asserted on an undefined length for OB outside Pixel Data.
    regression("dicom_fuzz", "undefined_length_ob.dcm",
               dicom(extra=struct.pack("<HH2sHI", 0x0008, 0x0017, b"OB", 0, 0xFFFFFFFF) +
                     struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)))
    # libjpeg's longjmp (an SOF marker after the scan, met in jpeg_finish_decompress)
    # skipped the destructor of a row buffer made after setjmp: a leak under ASan.
    jpg = open(os.path.join(seeds, "image_fuzz", "gray.jpg"), "rb").read() if os.path.exists(
        os.path.join(seeds, "image_fuzz", "gray.jpg")) else None
    if jpg:
        regression("image_fuzz", "sof_after_scan.jpg", jpg[:-2] + b"\xff\xc0\x00\x02" + jpg[-2:])
    # A PNG header claiming 65535 x 65535 16-bit RGB pixels (25 GiB) in 60 bytes.
    # (With an IDAT, so libpng's header read ends where our allocation began.)
    regression("image_fuzz", "png_65535_square.png", png(65535, 65535, 2, 16, []))


def pickles():
    try:
        import argparse as ap
        import torch
    except ImportError:
        print("torch not found (run it with .venv/bin/python): no pickle seeds", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as t:
        def save(name, obj):
            p = os.path.join(t, name)
            torch.save(obj, p)
            put("pickle_fuzz", name, open(p, "rb").read())
        save("plain.pt", {"a.weight": torch.arange(6.).reshape(2, 3), "b": torch.ones(2, dtype=torch.int64)})
        save("ordered.pt", collections.OrderedDict([("w", torch.zeros(3).half()), ("v", torch.eye(2).t())]))
        save("official.pth", {"model": collections.OrderedDict(w=torch.ones(4)), "epoch": 3,
                              "args": ap.Namespace(lr=0.5, name="x", flags=[True, None])})
        save("shared_storage.pt", {"x": torch.arange(8.)[2:6], "y": torch.arange(8.)[::2], "bool": torch.tensor([True])})


def configs():
    tiny = open(os.path.join(root, "experiments/pretrain/tiny.textproto"), "rb").read()
    put("config_fuzz", "tiny.textproto", tiny)
    put("config_fuzz", "tiny_with_sets.textproto", tiny + b"\n--set\nmodel.encoder.options.depth=2\nevals[0].options.data.label_fraction=0.5\nrun.seed=3\n")
    put("config_fuzz", "evaluators.textproto", open(os.path.join(root, "experiments/eval/phantom_evaluators.textproto"), "rb").read())


def csvs():
    testdata = os.path.join(root, "datasets/testdata")
    presets = ["generic", "nih", "chexpert", "mimic", "vindr", "rsna", "siim"]
    for name, preset in [("nih_Data_Entry_2017.csv", "nih"), ("chexpert_train.csv", "chexpert"),
                         ("mimic-cxr-2.0.0-chexpert.csv", "mimic"), ("vindr_image_labels_train.csv", "vindr"),
                         ("rsna_stage_2_train_labels.csv", "rsna"), ("siim_train-rle.csv", "siim"),
                         ("generic_labels.csv", "generic")]:
        put("labels_fuzz", name, bytes([presets.index(preset)]) + open(os.path.join(testdata, name), "rb").read())


def shards(pack):
    if not pack:
        print("no pack binary given: no shard seed", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as t:
        for c in ("a", "b"):
            os.makedirs(os.path.join(t, "in", c))
            with open(os.path.join(t, "in", c, "x.png"), "wb") as f:
                f.write(png(32, 32, 0, 8, [bytes((x * 8 + y * (2 if c == "a" else 5)) & 255 for x in range(32)) for y in range(32)]))
        subprocess.run([pack, "--input=" + os.path.join(t, "in"), "--output=" + os.path.join(t, "out"),
                        "--preset=folders", "--size=16"], check=True, capture_output=True)
        manifest = open(os.path.join(t, "out", "manifest.textproto"), "rb").read()
        shard = open(os.path.join(t, "out", "shard-00000.h5"), "rb").read()
        put("shard_fuzz", "folders_16px", manifest + b"\n=====\n" + shard)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("pack", nargs="?", default="")
    a = p.parse_args()
    images(); dicoms(); pickles(); configs(); csvs(); shards(a.pack); regressions()
