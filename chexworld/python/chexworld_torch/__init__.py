"""chexworld_torch: CheXWorld weights exported by chexworld
(`bazel run //experiments:export`) in plain PyTorch.

    import chexworld_torch as cw
    encoder, spec = cw.load_encoder("runs/pretrain_tiny/<stamp>/export")   # target_encoder.pt, strict
    x = cw.prepare(spec, "chest.png")           # (1, C, S, S), the export's preprocessing
    embedding = encoder.embed(x)                # (1, D): mean of the output tokens

    vit = cw.load_timm_encoder("runs/pretrain_tiny/<stamp>/export")  # the same encoder as timm's ViT

Needs torch and numpy only (tools/install_deps.sh puts them, and timm and
Pillow, into the project's .venv); JPEG input also needs Pillow, and
load_timm_encoder timm. Put chexworld/python on PYTHONPATH.
"""
import json
import os

from .models import ConditionedPredictor, VisionTransformer
from .preprocess import load_spec, prepare
from .weights import read_safetensors, read_weights

__all__ = ["ConditionedPredictor", "VisionTransformer", "load_encoder", "load_predictor", "load_spec",
           "load_timm_encoder", "prepare", "read_safetensors", "read_weights", "write_safetensors"]


def _architecture(export_dir):
    with open(os.path.join(export_dir, "architecture.json")) as f:
        return json.load(f)


def _weights_path(export_dir, weights):
    return weights if os.sep in weights else os.path.join(export_dir, weights)


def load_encoder(export_dir, weights="target_encoder.pt"):
    """(encoder in eval mode, preprocessing spec). `weights`: a file in
    export_dir or a path: encoder.pt / target_encoder.pt / their .safetensors,
    or model.pt (its target_encoder.* keys). Loads with strict=True."""
    arch = _architecture(export_dir)["encoder"]
    if arch["name"] != "vit":
        raise ValueError(f"{export_dir}/architecture.json: encoder '{arch['name']}' is not a vit")
    model = VisionTransformer(**arch["options"])
    path = _weights_path(export_dir, weights)
    prefix = "target_encoder." if os.path.basename(path).startswith("model.") else None
    model.load_state_dict(read_weights(path, prefix), strict=True)
    return model.eval(), load_spec(os.path.join(export_dir, "preprocessing.json"))


def load_timm_encoder(export_dir, weights="target_encoder.pt"):
    """The encoder as timm's VisionTransformer, in eval mode: no class token,
    mean pooling of the final LayerNorm's tokens (fc_norm off), the fixed
    sin-cos positions as its pos_embed. The parameter names are the same, so
    the weights load with strict=True; model(x) gives embed()'s (B, D)."""
    from timm.models.vision_transformer import VisionTransformer as TimmViT
    arch = _architecture(export_dir)["encoder"]
    if arch["name"] != "vit":
        raise ValueError(f"{export_dir}/architecture.json: encoder '{arch['name']}' is not a vit")
    a = arch["options"]
    model = TimmViT(img_size=a["image_size"], patch_size=a["patch_size"], in_chans=a["in_channels"], num_classes=0,
                    embed_dim=a["embed_dim"], depth=a["depth"], num_heads=a["num_heads"], mlp_ratio=a["mlp_ratio"],
                    qkv_bias=True, class_token=False, global_pool="avg", fc_norm=False)
    path = _weights_path(export_dir, weights)
    prefix = "target_encoder." if os.path.basename(path).startswith("model.") else None
    model.load_state_dict(read_weights(path, prefix), strict=True)
    return model.eval()


def load_predictor(export_dir, weights="predictor.pt"):
    """The predictor in eval mode (strict load of predictor.pt / .safetensors,
    or model.pt's predictor.* keys)."""
    arch = _architecture(export_dir).get("predictor")
    if arch is None or arch["name"] != "conditioned_transformer":
        raise ValueError(f"{export_dir}/architecture.json: no conditioned_transformer predictor")
    model = ConditionedPredictor(encoder_dim=arch["encoder_dim"], grid_h=arch["grid_h"], grid_w=arch["grid_w"],
                                 **arch["options"])
    path = _weights_path(export_dir, weights)
    prefix = "predictor." if os.path.basename(path).startswith("model.") else None
    model.load_state_dict(read_weights(path, prefix), strict=True)
    return model.eval()


def write_safetensors(tensors, path, metadata=None):
    """{name: tensor} -> a .safetensors file (float32/float64/int64/uint8)."""
    import struct
    import torch
    names = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.uint8: "U8"}
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        blob = t.numpy().tobytes()
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
