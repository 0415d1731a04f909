"""python3 -m chexworld_torch --export_dir DIR [--weights target_encoder.pt] --out F.safetensors IMAGE...

Embeds image files as //experiments:embed does: `embeddings` (images x D)."""
import argparse
import sys

import torch

from . import load_encoder, prepare, write_safetensors


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m chexworld_torch", description=__doc__.splitlines()[2])
    p.add_argument("--export_dir", required=True)
    p.add_argument("--weights", default="target_encoder.pt")
    p.add_argument("--out", default="embeddings.safetensors")
    p.add_argument("images", nargs="+")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    encoder, spec = load_encoder(a.export_dir, a.weights)
    rows, meta = [], {"pooling": spec["pooling"]}
    with torch.no_grad():
        for i, path in enumerate(a.images):
            rows.append(encoder.embed(prepare(spec, path))[0])
            meta[f"image_{i}"] = path
    write_safetensors({"embeddings": torch.stack(rows)}, a.out, meta)
    print(f"embedded {len(rows)} image(s) into {a.out} ({rows[0].numel()} values each)")


if __name__ == "__main__":
    sys.exit(main())
