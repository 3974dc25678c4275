"""MSViT (Havtorn et al., 2023): mixed-scale input tokens chosen by a learned gate, with our pinned conventions.

* Scales: fine patches are the model's own patch embedding (``patch_size``); coarse regions are
  ``coarse_patch`` pixels square, each holding f x f fine patches (f = coarse_patch / patch_size).
* Coarse token: the region, f x f average-pooled to one patch, through the same fine patch embedding.
  Its position embedding is the mean of its f x f fine position embeddings.
* Gate: LayerNorm (eps 1e-6) -> fc1 [H, C] -> exact-erf GELU -> fc2 [1, H] on the coarse token before its
  position embedding: one logit g per region; sigmoid(g) is the probability that the region is split.
* Token order: the prefix tokens (class, distillation), then the regions in raster order: a coarse
  region gives one token, a split region its f x f fine tokens in raster order.
* Inference: ``threshold`` splits where sigmoid(g) >= threshold (each image its own token count), or a
  ``budget`` k splits each image's k regions of largest g (ties: the lower region index first).
* Training (:func:`masked_forward`): every region enters as its coarse token and its fine tokens, and
  a hard 0/1 gate (Gumbel-sigmoid, straight-through) masks the keys each query may attend to, which is
  the inference forward exactly when the gate is hard. :func:`batch_shaping_loss` steers the gate.

Tensor names (pinned): ``msvit.gate.norm.{weight,bias}``, ``msvit.gate.fc1.{weight,bias}``,
``msvit.gate.fc2.{weight,bias}``; config.json: ``"msvit": {"coarse_patch": 8, "gate_hidden": H, "threshold": 0.5}``.
"""
import functools

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Gate(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(self.norm(x))))[..., 0]


class MsVit(nn.Module):
    kind = "msvit"

    def __init__(self, dim, coarse_patch=8, gate_hidden=64, threshold=0.5):
        super().__init__()
        self.coarse_patch, self.gate_hidden, self.threshold = int(coarse_patch), int(gate_hidden), float(threshold)
        self.gate = Gate(dim, self.gate_hidden)
        self.budget = None  # None: threshold mode; k: each image splits exactly its k most likely regions
        self.probs = None   # the last training forward's sigmoid(g) [B, R], for the batch-shaping loss


def from_config(config, dim):
    section = config.get("msvit")
    if section is None:
        return None
    return MsVit(dim, section.get("coarse_patch", 8), section["gate_hidden"], section.get("threshold", 0.5))


# ----------------------------------------------------------------------------- geometry

def _grids(model):
    pe = model.patch_embed
    p, gh, gw = pe.patch_size[0], pe.grid_size[0], pe.grid_size[1]
    cp = model.msvit.coarse_patch
    if cp % p or (cp // p) < 2:
        raise ValueError("msvit.coarse_patch %d must be a multiple (>= 2) of the patch size %d" % (cp, p))
    f = cp // p
    if gh % f or gw % f:
        raise ValueError("the %dx%d patch grid does not divide into %dx%d regions" % (gh, gw, f, f))
    return f, gh, gw, gh // f, gw // f


def fine_index(model):
    """[R, f*f] long: the fine patches of each region, both in raster order."""
    f, _, gw, rh, rw = _grids(model)
    return _fine_index(f, gw, rh, rw)


@functools.lru_cache(maxsize=None)
def _fine_index(f, gw, rh, rw):
    # the same for every forward of a model: built once, not per training step
    idx = [[(ry * f + dy) * gw + rx * f + dx for dy in range(f) for dx in range(f)] for ry in range(rh) for rx in range(rw)]
    return torch.tensor(idx, dtype=torch.long)


def embed_scales(model, x):
    """x [B, C, H, W] -> (fine [B, P, D], coarse [B, R, D]) patch embeddings, without positions."""
    f = _grids(model)[0]
    fine = model.patch_embed(x)
    pooled = F.avg_pool2d(x, f)
    coarse = model.patch_embed.proj(pooled).flatten(2).transpose(1, 2)
    return fine, coarse


def positions(model):
    """(prefix [K, D], fine [P, D], coarse [R, D]) position embeddings."""
    k = model.num_prefix_tokens
    pe = model.pos_embed[0]
    fine = pe[k:]
    coarse = fine[fine_index(model)].mean(dim=1)
    return pe[:k], fine, coarse


def prefix_tokens(model, batch):
    toks = []
    if model.cls_token is not None:
        toks.append(model.cls_token.expand(batch, -1, -1))
    if model.dist_token is not None:
        toks.append(model.dist_token.expand(batch, -1, -1))
    return torch.cat(toks, dim=1)


def choose_splits(logits, threshold, budget=None):
    """[B, R] gate logits -> [B, R] bool: split regions."""
    if budget is None:
        return torch.sigmoid(logits) >= threshold
    k = int(budget)
    if not 0 <= k <= logits.shape[1]:
        raise ValueError("msvit budget %d outside 0..%d regions" % (k, logits.shape[1]))
    order = torch.sort(logits, dim=1, descending=True, stable=True).indices[:, :k]
    split = torch.zeros_like(logits, dtype=torch.bool)
    return split.scatter(1, order, True)


def split_budget(budget):
    """The engine's budget spec, ``[split=K+]SPEC`` or ``split=K`` -> (K or None, the ToMe SPEC)."""
    budget = str(budget).strip()
    if not budget.startswith("split="):
        return None, budget
    head, _, tail = budget.partition("+")
    return int(head[len("split="):]), tail or "0"


def tokenize(model, x):
    """The mixed-scale sequences of a batch: a list of ([T_i, D] tokens with positions, [R] split, [R] logits,
    [P] long: the token position of each fine patch)."""
    ms = model.msvit
    fine, coarse = embed_scales(model, x)
    logits = ms.gate(coarse)
    split = choose_splits(logits, ms.threshold, ms.budget)
    pre_pos, fine_pos, coarse_pos = positions(model)
    pre = prefix_tokens(model, x.shape[0]) + pre_pos
    idx = fine_index(model)
    out = []
    for b in range(x.shape[0]):
        parts, where = [pre[b]], torch.empty(fine.shape[1], dtype=torch.long)
        t = pre.shape[1]
        for r in range(idx.shape[0]):
            if split[b, r]:
                parts.append(fine[b, idx[r]] + fine_pos[idx[r]])
                where[idx[r]] = torch.arange(t, t + idx.shape[1])
                t += idx.shape[1]
            else:
                parts.append((coarse[b, r] + coarse_pos[r])[None])
                where[idx[r]] = t
                t += 1
        out.append((torch.cat(parts, dim=0), split[b], logits[b], where))
    return out


# ----------------------------------------------------------------------------- training

def gumbel_hard(logits, tau=1.0, generator=None):
    """Gumbel-sigmoid sample, hardened to 0/1 in the forward pass with the soft sample's gradient."""
    u = torch.rand(logits.shape, generator=generator, device=logits.device).clamp(1e-6, 1 - 1e-6)
    soft = torch.sigmoid((logits + torch.log(u) - torch.log1p(-u)) / tau)
    hard = (soft >= 0.5).to(soft.dtype)
    return hard + soft - soft.detach()


def _masked_block(blk, x, keep):
    """A pre-norm timm block whose queries attend only to the keys with keep = 1 (the softmax renormalised
    over them: exactly the block on the kept tokens when keep is 0/1); keep's gradient flows through it."""
    attn = blk.attn
    h = blk.norm1(x)
    B, N, _ = h.shape
    qkv = attn.qkv(h).reshape(B, N, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    p = ((q * attn.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
    # sum_j p_ij keep_j v_j / sum_j p_ij keep_j, with keep folded into v: no second N x N pass
    kept = keep[:, None, :, None]
    o = ((p @ (v * kept)) / (p @ kept)).transpose(1, 2).reshape(B, N, -1)
    x = x + blk.ls1(attn.proj(o))
    return x + blk.ls2(blk.mlp(blk.norm2(x)))


def masked_forward(model, x, sample=True):
    """Training forward: [prefix, R coarse, P fine] tokens, the keys masked by the gate m [B, R]: a
    straight-through Gumbel sample, or with sample=False the inference threshold (the inference forward,
    batched). Returns logits; model.msvit.probs keeps sigmoid(g)."""
    ms = model.msvit
    fine, coarse = embed_scales(model, x)
    logits = ms.gate(coarse)
    ms.probs = torch.sigmoid(logits)
    m = gumbel_hard(logits) if sample else (ms.probs >= ms.threshold).to(logits.dtype)
    pre_pos, fine_pos, coarse_pos = positions(model)
    B = x.shape[0]
    pre = prefix_tokens(model, B) + pre_pos
    seq = torch.cat([pre, coarse + coarse_pos, fine + fine_pos], dim=1)
    region_of_fine = torch.empty(fine.shape[1], dtype=torch.long, device=x.device)
    idx = fine_index(model).to(x.device)
    region_of_fine[idx.flatten()] = torch.arange(idx.shape[0], device=x.device).repeat_interleave(idx.shape[1])
    keep = torch.cat([torch.ones(B, pre.shape[1], device=x.device), 1 - m, m[:, region_of_fine]], dim=1)
    for blk in model.blocks:
        seq = _masked_block(blk, seq, keep)
    return model.forward_head(model.norm(seq))


class _BetaCdf(torch.autograd.Function):
    """The Beta(a, b) CDF of x, differentiable in x (its pdf, clipped as the published loss does)."""

    @staticmethod
    def forward(ctx, x, a, b):
        from scipy.stats import beta
        xs = x.detach().cpu().double().numpy()
        ctx.save_for_backward(torch.from_numpy(np.clip(beta.pdf(xs, a, b), 1e-3, 100.0)).to(x))
        return torch.from_numpy(beta.cdf(xs, a, b)).to(x)

    @staticmethod
    def backward(ctx, grad):
        (pdf,) = ctx.saved_tensors
        return grad * pdf, None, None


def batch_shaping_loss(probs, target):
    """Batch-shaping (Bejnordi et al. 2020; the published ``gbas_loss`` with a symmetric Beta prior
    B(t, 1 - t), whose mean is the target split fraction t): the squared distance between the empirical
    CDF of all the batch's gate probabilities and the prior's CDF, averaged over the values."""
    x = torch.sort(probs.flatten()).values
    n = x.shape[0]
    ecdf = torch.arange(1, n + 1, device=x.device, dtype=x.dtype) / (n + 1)
    return ((ecdf - _BetaCdf.apply(x, float(target), 1.0 - float(target))) ** 2).sum() / n
