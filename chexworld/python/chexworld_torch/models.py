"""The CheXWorld encoder (an I-JEPA ViT: no class token, fixed 2-D sin-cos
positions) and predictor (mask tokens at relative offsets, conditioned on the
appearance action), with the official parameter names, so that the exported
state dicts load with strict=True. Plain torch 2.x."""
import math

import torch
from torch import nn
from torch.nn import functional as F


def _omega(half):
    # 1 / 10000^(k / half), float32, as the official code.
    k = torch.arange(half, dtype=torch.float32) / float(half)
    return 1.0 / torch.pow(10000.0, k)


def _sincos_1d(dim, pos):
    out = torch.outer(pos, _omega(dim // 2))
    return torch.cat([torch.sin(out), torch.cos(out)], dim=1)


def sincos_2d(dim, grid_h, grid_w):
    """(1, H*W, dim): token r*W+c is [S(c) || S(r)], the column first."""
    rows = torch.arange(grid_h, dtype=torch.float32).repeat_interleave(grid_w)
    cols = torch.arange(grid_w, dtype=torch.float32).repeat(grid_h)
    return torch.cat([_sincos_1d(dim // 2, cols), _sincos_1d(dim // 2, rows)], dim=1).unsqueeze(0)


def relative_sincos_at(rel, target_idx, dim, grid_h, grid_w):
    """Mask-token embeddings (B, K, dim) of target patches `target_idx` (B, K)
    for relative offsets `rel` (B, 4) = [di, dj, flip, dflip] in crop units:
    [S(y) || S(x)], the row first (the official, transposed layout)."""
    r = rel.to(torch.float32)
    di = r[:, 0] * float(grid_h)
    dj = r[:, 1] * float(grid_w)
    flip = r[:, 2].unsqueeze(-1)
    dflip = r[:, 3] * float(grid_w)
    raw_h = torch.div(target_idx, grid_w, rounding_mode="floor").to(torch.float32) + 0.5
    raw_w = torch.remainder(target_idx, grid_w).to(torch.float32) + 0.5
    y = raw_h + di.unsqueeze(-1)
    x = raw_w + dj.unsqueeze(-1)
    x_flipped = -raw_w + dflip.unsqueeze(-1)
    x = flip * x_flipped + (1 - flip) * x
    x = x - 0.5
    y = y - 0.5
    omega = _omega(dim // 4)
    out_h = y.unsqueeze(-1) * omega
    out_w = x.unsqueeze(-1) * omega
    return torch.cat([torch.sin(out_h), torch.cos(out_h), torch.sin(out_w), torch.cos(out_w)], dim=2)


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        x = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # exact (erf) GELU


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, in_channels, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class VisionTransformer(nn.Module):
    """forward(images (B, C, S, S), keep=None (B, K) patch indices) -> tokens
    (B, N or K, D) after the final LayerNorm; embed() averages them."""

    def __init__(self, image_size, patch_size, in_channels, embed_dim, depth, num_heads, mlp_ratio=4.0, **_):
        super().__init__()
        self.image_size, self.patch_size, self.in_channels = image_size, patch_size, in_channels
        self.embed_dim = embed_dim
        grid = image_size // patch_size
        self.patch_embed = PatchEmbed(in_channels, embed_dim, patch_size)
        self.pos_embed = nn.Parameter(sincos_2d(embed_dim, grid, grid), requires_grad=False)
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)

    def forward(self, images, keep=None):
        x = self.patch_embed(images) + self.pos_embed
        if keep is not None:
            x = torch.gather(x, 1, keep.unsqueeze(-1).expand(-1, -1, x.size(-1)))
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def embed(self, images):
        return self.forward(images).mean(dim=1)


class ConditionedPredictor(nn.Module):
    """forward(context (B, Ke, D), context_idx (B, Ke), target_idx (B, Kp),
    action (B, A), rel (B, 4) or None) -> predicted target tokens (B, Kp, D)."""

    def __init__(self, embed_dim, depth, num_heads, mlp_ratio, action_dim, policy_layers, encoder_dim, grid_h,
                 grid_w, disable_action=False, disable_relative_offset=False, **_):
        super().__init__()
        p = embed_dim
        self.grid_h, self.grid_w, self.p = grid_h, grid_w, p
        self.disable_action, self.disable_relative_offset = disable_action, disable_relative_offset
        self.predictor_embed = nn.Linear(encoder_dim, p)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, p))
        self.predictor_pos_embed = nn.Parameter(sincos_2d(p, grid_h, grid_w), requires_grad=False)
        self.predictor_blocks = nn.ModuleList([Block(p, num_heads, mlp_ratio) for _ in range(depth)])
        self.predictor_norm = nn.LayerNorm(p, eps=1e-6)
        self.predictor_proj = nn.Linear(p, encoder_dim)
        if not disable_action:
            layers = [nn.Linear(p + action_dim, p)]
            for _ in range(1, policy_layers):
                layers += [nn.ReLU(), nn.Linear(p, p)]
            self.policy_net = nn.Sequential(*layers)

    def forward(self, context, context_idx, target_idx, action=None, rel=None):
        b = context.size(0)
        x = self.predictor_embed(context)
        table = self.predictor_pos_embed.expand(b, -1, -1)
        x = x + torch.gather(table, 1, context_idx.unsqueeze(-1).expand(-1, -1, self.p))
        n_ctx = x.size(1)
        if rel is None or self.disable_relative_offset:
            rel = torch.zeros(b, 4)
        tokens = self.mask_token + relative_sincos_at(rel, target_idx, self.p, self.grid_h, self.grid_w)
        if not self.disable_action:
            a = action.to(tokens.dtype).unsqueeze(1).expand(-1, tokens.size(1), -1)
            tokens = self.policy_net(torch.cat([tokens, a], dim=-1))
        x = torch.cat([x, tokens], dim=1)
        for blk in self.predictor_blocks:
            x = blk(x)
        return self.predictor_proj(self.predictor_norm(x[:, n_ctx:]))
