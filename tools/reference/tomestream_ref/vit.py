"""Plain-torch fallback ViT / DeiT-distilled with timm's exact module layout and key names.

Semantics follow timm (timm/models/vision_transformer.py, deit.py):
  * patch_embed.proj: Conv2d(k=stride=patch), flatten(2).transpose(1, 2)
  * [cls_token, (dist_token), patches] concatenated, THEN + pos_embed (pos_embed covers prefix tokens)
  * pre-norm blocks, LayerNorm eps 1e-6, exact (erf) GELU, attention (q*scale) @ k^T
  * token pool: norm(x)[:, 0] -> head
  * avg pool: fc_norm is used instead of norm when global_pool == 'avg' (fc_norm=None default):
      no final norm over tokens; mean over tokens after the prefix tokens; then fc_norm; then head
  * distilled (eval): x = norm(x); (head(x[:, 0]) + head_dist(x[:, 1])) / 2
Works on torch 1.13 (no scaled_dot_product_attention).
"""
import torch
import torch.nn as nn

from .tome import tome_block_forward
from . import learned as _learned
from . import msvit as _msvit


def _pair(v):
    if isinstance(v, (tuple, list)):
        assert len(v) == 2
        return (int(v[0]), int(v[1]))
    return (int(v), int(v))


class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, embed_dim):
        super().__init__()
        self.img_size = _pair(img_size)
        self.patch_size = _pair(patch_size)
        self.grid_size = (self.img_size[0] // self.patch_size[0], self.img_size[1] // self.patch_size[1])
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=self.patch_size, stride=self.patch_size,
                              bias=True)
        self.norm = nn.Identity()

    def forward(self, x):
        _, _, H, W = x.shape
        if (H, W) != self.img_size:
            raise ValueError("input size %s != model img_size %s" % ((H, W), self.img_size))
        x = self.proj(x).flatten(2).transpose(1, 2)
        return self.norm(x)


class Attention(nn.Module):
    def __init__(self, dim, num_heads, qkv_bias):
        super().__init__()
        assert dim % num_heads == 0
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.q_norm = nn.Identity()
        self.k_norm = nn.Identity()
        self.norm = nn.Identity()
        self.proj = nn.Linear(dim, dim)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio, qkv_bias):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias)
        self.ls1 = nn.Identity()
        self.drop_path1 = nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.ls2 = nn.Identity()
        self.drop_path2 = nn.Identity()
        self._tome_state = None

    def forward(self, x):
        return tome_block_forward(self, x, self._tome_state)


class VisionTransformer(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, num_classes=1000, global_pool="token",
                 embed_dim=768, depth=12, num_heads=12, mlp_ratio=4.0, qkv_bias=True, class_token=True,
                 fc_norm=None, distilled=False):
        super().__init__()
        if global_pool not in ("token", "avg"):
            raise NotImplementedError("fallback supports global_pool 'token' and 'avg', not %r" % global_pool)
        if global_pool == "token" and not class_token:
            raise ValueError("global_pool 'token' needs class_token")
        if distilled and (global_pool != "token" or not class_token):
            raise ValueError("distilled models need class_token and global_pool 'token'")
        if num_classes <= 0:
            raise NotImplementedError("fallback needs num_classes > 0")
        use_fc_norm = (global_pool == "avg") if fc_norm is None else bool(fc_norm)
        self.num_classes = num_classes
        self.global_pool = global_pool
        self.embed_dim = embed_dim
        self.distilled = distilled
        self.num_prefix_tokens = (1 if class_token else 0) + (1 if distilled else 0)
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if class_token else None
        self.dist_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if distilled else None
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + self.num_prefix_tokens,
                                                  embed_dim))
        self.blocks = nn.Sequential(*[Block(embed_dim, num_heads, mlp_ratio, qkv_bias) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6) if not use_fc_norm else nn.Identity()
        self.fc_norm = nn.LayerNorm(embed_dim, eps=1e-6) if use_fc_norm else nn.Identity()
        self.head = nn.Linear(embed_dim, num_classes)
        self.head_dist = nn.Linear(embed_dim, num_classes) if distilled else None
        self.token_learner = None
        self.patch_merger = None
        self.msvit = None

    def attach(self, module):
        """Inserts a learned token reducer (:mod:`tomestream_ref.learned`) or an MSViT gate
        (:mod:`tomestream_ref.msvit`) under its pinned name."""
        setattr(self, module.kind, module)
        return self

    def forward_features(self, x):
        x = self.patch_embed(x)
        B = x.shape[0]
        to_cat = []
        if self.cls_token is not None:
            to_cat.append(self.cls_token.expand(B, -1, -1))
        if self.dist_token is not None:
            to_cat.append(self.dist_token.expand(B, -1, -1))
        if to_cat:
            x = torch.cat(to_cat + [x], dim=1)
        x = x + self.pos_embed
        return self.run_blocks(x)

    def run_blocks(self, x):
        """The blocks (and a learned token reducer between them) and the final norm, on tokens x [B, T, C]."""
        tl, pm = self.token_learner, self.patch_merger
        for i, blk in enumerate(self.blocks):
            if tl is not None and i == tl.before_block:
                x = _learned.apply(tl, x, self.num_prefix_tokens, blk._tome_state)
            x = blk(x)
            if pm is not None and i == pm.after_block:
                x = _learned.apply(pm, x, self.num_prefix_tokens, blk._tome_state)
        return self.norm(x)

    def forward_head(self, x):
        if self.distilled:
            return (self.head(x[:, 0]) + self.head_dist(x[:, 1])) / 2
        if self.global_pool == "token":
            x = x[:, 0]
        else:
            x = x[:, self.num_prefix_tokens:].mean(dim=1)
        x = self.fc_norm(x)
        return self.head(x)

    def forward(self, x):
        if self.msvit is not None:
            if self.training:
                return _msvit.masked_forward(self, x)
            # each image has its own token count: one sequence at a time
            return torch.cat([self.forward_head(self.run_blocks(seq[None])) for seq, _, _, _ in _msvit.tokenize(self, x)])
        return self.forward_head(self.forward_features(x))
