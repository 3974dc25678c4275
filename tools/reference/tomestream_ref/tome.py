"""ToMe (Token Merging, Bolya et al. ICLR 2023) as the tomestream spec defines it.

Written from the spec / paper (not copied from facebookresearch/ToMe).  Everything
is float32, like the engine.  Deterministic tie rules:

* node_idx  = the FIRST (lowest) B index reaching the row maximum;
* edge order = stable sort of node_max descending (ties -> lower A index first);
* src = first r of the edge order, unm = the rest, unm sorted ascending by A index;
* src is additionally kept in ascending A order (with dst permuted alongside) so that
  several sources merged into one destination are accumulated in ascending A order.

Only plain torch ops that also exist in torch 1.13 are used.
"""
import math

import torch


# ----------------------------------------------------------------------------- schedules

def parse_r(spec, depth):
    """Parse a ToMe schedule string into a per-layer list of r (length ``depth``).

    * ``"R"``          -> [R] * depth        (``"0"`` = no merging)
    * ``"R:INFLECT"``  -> ToMe's parse_r: min_val = int(R*(1.0-inflect)); max_val = 2*R - min_val;
                          step = (max_val-min_val)/(depth-1); r_i = int(min_val + step*i)
                          (float64, int() truncates toward zero; depth == 1 -> step 0).
                          Values may come out <= 0; such layers do not merge.
    * ``"R1,R2,..."``  -> explicit list, zero padded to ``depth`` (error if longer).
    Negative R in the constant / list / inflect forms is rejected.
    """
    if depth < 1:
        raise ValueError("depth must be >= 1")
    s = str(spec).strip()
    if not s:
        raise ValueError("empty ToMe spec")
    if "," in s:
        try:
            vals = [int(p.strip()) for p in s.split(",")]
        except ValueError:
            raise ValueError("bad ToMe list spec %r" % spec)
        if len(vals) > depth:
            raise ValueError("ToMe list spec %r has %d entries but the model has only %d blocks"
                             % (spec, len(vals), depth))
        if any(v < 0 for v in vals):
            raise ValueError("negative r in ToMe spec %r" % spec)
        return vals + [0] * (depth - len(vals))
    if ":" in s:
        r_s, inf_s = s.split(":", 1)
        try:
            r = int(r_s.strip())
            inflect = float(inf_s.strip())
        except ValueError:
            raise ValueError("bad ToMe inflect spec %r" % spec)
        if r < 0:
            raise ValueError("negative r in ToMe spec %r" % spec)
        if not math.isfinite(inflect):
            raise ValueError("bad inflect in ToMe spec %r" % spec)
        min_val = int(r * (1.0 - inflect))
        max_val = 2 * r - min_val
        step = (max_val - min_val) / (depth - 1) if depth > 1 else 0.0
        return [int(min_val + step * i) for i in range(depth)]
    try:
        r = int(s)
    except ValueError:
        raise ValueError("bad ToMe spec %r" % spec)
    if r < 0:
        raise ValueError("negative r in ToMe spec %r" % spec)
    return [r] * depth


# ----------------------------------------------------------------------------- matching

class Match(object):
    """Result of one bipartite soft matching over a batch [B, T, C]."""

    def __init__(self, T, r, src_idx, dst_idx, unm_idx, node_max_sorted, src_top2_gap,
                 distill_token):
        self.T = T
        self.r = r
        self.na = (T + 1) // 2          # A = even positions
        self.nb = T // 2                # B = odd positions
        self.src_idx = src_idx          # [B, r]  A indices, ascending
        self.dst_idx = dst_idx          # [B, r]  B indices matching src_idx
        self.unm_idx = unm_idx          # [B, na-r] A indices, ascending
        self.node_max_sorted = node_max_sorted  # [B, na] descending
        self.src_top2_gap = src_top2_gap        # [B, r] best - second best score per src row
        self.distill_token = distill_token
        self.T_out = T - r

    def _slot_to_out(self):
        """Output position of each concat slot [unm..., dst...]."""
        nu = self.na - self.r
        n = nu + self.nb
        slot = torch.arange(n)
        if not self.distill_token:
            return slot
        out = slot.clone()
        # order = [unm0, dst0, unm1.., dst1..]
        out[0] = 0
        out[nu] = 1
        out[1:nu] = slot[1:nu] + 1
        out[nu + 1:] = slot[nu + 1:]
        return out

    def merge(self, x):
        """Sum-merge x [B, T, C] -> [B, T-r, C] (size weighting is done by the caller)."""
        B, T, C = x.shape
        assert T == self.T
        a = x[:, ::2, :]
        b = x[:, 1::2, :]
        nu = self.na - self.r
        unm = a.gather(1, self.unm_idx.unsqueeze(-1).expand(B, nu, C))
        src = a.gather(1, self.src_idx.unsqueeze(-1).expand(B, self.r, C))
        dst = b.scatter_add(1, self.dst_idx.unsqueeze(-1).expand(B, self.r, C), src)
        if self.distill_token:
            return torch.cat([unm[:, :1], dst[:, :1], unm[:, 1:], dst[:, 1:]], dim=1)
        return torch.cat([unm, dst], dim=1)

    def position_map(self):
        """[B, T] long: output position of every input position."""
        B = self.src_idx.shape[0]
        nu = self.na - self.r
        slot_out = self._slot_to_out()
        pmap = torch.empty(B, self.T, dtype=torch.long)
        # B tokens: position 2k+1 -> slot nu+k
        pmap[:, 1::2] = slot_out[nu + torch.arange(self.nb)].unsqueeze(0).expand(B, self.nb)
        a_map = torch.empty(B, self.na, dtype=torch.long)
        a_map.scatter_(1, self.unm_idx, slot_out[torch.arange(nu)].unsqueeze(0).expand(B, nu).clone())
        a_map.scatter_(1, self.src_idx, slot_out[nu + self.dst_idx])
        pmap[:, ::2] = a_map
        return pmap

    def describe(self, sizes_after):
        """Per image: src / dst positions (in the sequence entering the merge) and output sizes."""
        out = []
        for i in range(self.src_idx.shape[0]):
            out.append({
                "src": (2 * self.src_idx[i]).tolist(),
                "dst": (2 * self.dst_idx[i] + 1).tolist(),
                "sizes": [int(round(v)) for v in sizes_after[i, :, 0].tolist()],
            })
        return out

    def margins(self):
        """Per image: (selection gap r-th vs (r+1)-th node_max, min best-vs-second gap of src rows)."""
        res = []
        for i in range(self.src_idx.shape[0]):
            nm = self.node_max_sorted[i]
            if self.r < nm.shape[0]:
                sel = float(nm[self.r - 1] - nm[self.r])
            else:
                sel = math.inf
            top2 = float(self.src_top2_gap[i].min()) if self.r > 0 else math.inf
            res.append((sel, top2))
        return res


def bipartite_soft_matching(metric, r, class_token=False, distill_token=False):
    """ToMe bipartite soft matching on metric [B, T, C] (float32).

    Returns a :class:`Match`, or None when no merge happens (r <= 0 after clamping).
    """
    B, T, _ = metric.shape
    protected = int(bool(class_token)) + int(bool(distill_token))
    r = min(int(r), (T - protected) // 2)
    if r <= 0:
        return None
    with torch.no_grad():
        metric = metric / metric.norm(dim=-1, keepdim=True)
        a = metric[:, ::2, :]
        b = metric[:, 1::2, :]
        scores = a @ b.transpose(-1, -2)                     # [B, na, nb]
        if class_token:
            scores[:, 0, :] = -math.inf
        if distill_token:
            scores[:, :, 0] = -math.inf
        nb = scores.shape[-1]
        node_max = scores.max(dim=-1).values                 # [B, na]
        cols = torch.arange(nb).view(1, 1, nb).expand_as(scores)
        is_max = scores == node_max.unsqueeze(-1)
        node_idx = torch.where(is_max, cols, torch.full_like(cols, nb)).min(dim=-1).values
        sorted_vals, order = torch.sort(node_max, dim=-1, descending=True, stable=True)
        src_idx = order[:, :r]
        unm_idx = order[:, r:].sort(dim=-1).values
        # keep src in ascending A order (deterministic accumulation order)
        src_idx = src_idx.sort(dim=-1).values
        dst_idx = node_idx.gather(1, src_idx)
        if nb >= 2:
            src_rows = scores.gather(1, src_idx.unsqueeze(-1).expand(B, r, nb))
            top2 = src_rows.topk(2, dim=-1).values
            gap = top2[..., 0] - top2[..., 1]
        else:
            gap = torch.full((B, r), math.inf)
    return Match(T, r, src_idx, dst_idx, unm_idx, sorted_vals, gap, distill_token)


def merge_wavg(match, x, size=None):
    """Size-weighted average merge.  Returns (x_merged, size_merged); size is [B, T, 1]."""
    if size is None:
        size = torch.ones_like(x[..., 0, None])
    x = match.merge(x * size)
    size = match.merge(size)
    return x / size, size


# ----------------------------------------------------------------------------- state / block

class ToMeState(object):
    """Per-forward ToMe bookkeeping shared by all blocks of one model."""

    def __init__(self, r_list, class_token, distill_token, record=False):
        self.r_list = list(r_list)
        self.class_token = bool(class_token)
        self.distill_token = bool(distill_token)
        self.record = record
        self.layer = 0
        self.size = None          # [B, T, 1] float32, None == all ones
        self.assign = None        # [B, T_in] long: original token -> current position
        self.tokens = []          # [T_in, T_after_block1, ...]
        self.merges = []          # per layer: per image {src, dst, sizes}
        self.margins = []         # per layer: per image (selection gap, top2 gap)

    def start(self, x):
        if self.assign is None:
            B, T, _ = x.shape
            self.assign = torch.arange(T).unsqueeze(0).expand(B, T).clone()
            self.tokens.append(T)

    def merge_step(self, x, metric):
        layer = self.layer
        self.layer += 1
        r = self.r_list[layer] if layer < len(self.r_list) else 0
        B = x.shape[0]
        m = bipartite_soft_matching(metric, r, self.class_token, self.distill_token) if r > 0 else None
        if m is not None:
            x, self.size = merge_wavg(m, x, self.size)
            self.assign = m.position_map().gather(1, self.assign)
        self.tokens.append(x.shape[1])
        if self.record:
            if m is None:
                self.merges.append([{"src": [], "dst": [], "sizes": []} for _ in range(B)])
                self.margins.append([(math.inf, math.inf) for _ in range(B)])
            else:
                self.merges.append(m.describe(self.size))
                self.margins.append(m.margins())
        return x


def tome_block_forward(blk, x, state=None):
    """Pre-norm ViT block with proportional attention + ToMe merge between attn and MLP.

    ``blk`` has timm's Block layout (norm1, attn.{qkv,q_norm,k_norm,norm,proj}, ls1, drop_path1,
    norm2, mlp, ls2, drop_path2).  With ``state`` None it is a plain (math-path) timm block.
    """
    attn = blk.attn
    if state is not None:
        state.start(x)
    size = state.size if state is not None else None
    h = blk.norm1(x)
    B, N, _ = h.shape
    H = attn.num_heads
    hd = attn.head_dim
    qkv = attn.qkv(h).reshape(B, N, 3, H, hd).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    q, k = attn.q_norm(q), attn.k_norm(k)
    w = (q * attn.scale) @ k.transpose(-2, -1)
    if size is not None:
        w = w + size.log()[:, None, None, :, 0]
    w = w.softmax(dim=-1)
    o = (w @ v).transpose(1, 2).reshape(B, N, H * hd)
    o = attn.norm(o)
    o = attn.proj(o)
    x = x + blk.drop_path1(blk.ls1(o))
    if state is not None:
        metric = k.mean(dim=1)                               # [B, N, hd]
        x = state.merge_step(x, metric)
    x = x + blk.drop_path2(blk.ls2(blk.mlp(blk.norm2(x))))
    return x
