"""Run a model (timm or fallback) with a ToMe schedule, optionally recording every merge."""
import contextlib

import numpy as np
import torch

from .tome import ToMeState, parse_r, tome_block_forward
from . import msvit as _msvit
from . import vit as _vit

_PATCHED_CLASSES = {}


def _tome_subclass(cls):
    """Subclass of a timm Block whose forward runs the ToMe block (proportional attn + merge)."""
    if cls not in _PATCHED_CLASSES:
        def forward(self, x, attn_mask=None, is_causal=False):
            if attn_mask is not None or is_causal:
                raise NotImplementedError("ToMe block: no attention masks")
            return tome_block_forward(self, x, getattr(self, "_tome_state", None))
        _PATCHED_CLASSES[cls] = type("ToMe" + cls.__name__, (cls,), {"forward": forward})
    return _PATCHED_CLASSES[cls]


def patch_timm(model):
    """Patch a timm VisionTransformer in place so its blocks run ToMe (idempotent)."""
    from timm.models.vision_transformer import Block as TimmBlock
    for blk in model.blocks:
        if type(blk) in _PATCHED_CLASSES.values():
            continue
        if type(blk) is not TimmBlock:
            raise NotImplementedError("ToMe patch supports timm Block only, got %s" % type(blk).__name__)
        blk.__class__ = _tome_subclass(type(blk))
        blk._tome_state = None
    return model


@contextlib.contextmanager
def _tome_state(model, state):
    """Every block runs ToMe with this state while the block is inside."""
    for blk in model.blocks:
        blk._tome_state = state
    try:
        yield state
    finally:
        for blk in model.blocks:
            blk._tome_state = None


def model_tokens(model):
    class_token = getattr(model, "cls_token", None) is not None
    distill_token = getattr(model, "dist_token", None) is not None
    return class_token, distill_token


def run_tome(model, x, spec, record=False):
    """Forward ``x`` [B,C,H,W] float32 with ToMe schedule ``spec`` (for an MSViT model, optionally
    after ``split=K+``, its split budget, as the engine takes it).

    Returns dict: r_per_layer, logits [B,K] tensor, tokens (list, same for every image),
    and with record=True also merges (per layer, per image), sources (per image) and
    margins (per layer, per image: (selection gap, best-vs-second gap of src rows)).
    """
    depth = len(model.blocks)
    splits, spec = _msvit.split_budget(spec)
    if splits is not None and getattr(model, "msvit", None) is None:
        raise ValueError("split=K is for MSViT models, and this model has no msvit")
    r_list = parse_r(spec, depth)
    learned = getattr(model, "token_learner", None) or getattr(model, "patch_merger", None)
    if learned is not None:
        first = learned.before_block if learned.kind == "token_learner" else learned.after_block + 1
        if any(r > 0 for r in r_list[first:]):
            raise ValueError("ToMe applies only in the blocks before the %s (blocks 0..%d), got %s"
                             % (learned.kind, first - 1, r_list))
    if not isinstance(model, _vit.VisionTransformer):
        patch_timm(model)
    class_token, distill_token = model_tokens(model)
    if getattr(model, "msvit", None) is not None:
        model.msvit.budget = splits
        try:
            return _run_msvit(model, x, r_list, class_token, distill_token, record)
        finally:
            model.msvit.budget = None
    state = ToMeState(r_list, class_token, distill_token, record=record)
    with _tome_state(model, state), torch.no_grad():
        logits = model(x)
    out = {"r_per_layer": r_list, "logits": logits, "tokens": state.tokens,
           "module_tokens": getattr(state, "module_tokens", 0)}
    if record:
        out["merges"] = state.merges
        out["sources"] = state.assign.tolist()
        out["margins"] = state.margins
    return out


def _run_msvit(model, x, r_list, class_token, distill_token, record):
    """MSViT: every image has its own token count, so each runs alone with its own ToMe state. tokens
    and sources are per image; sources index the prefix tokens and then the fine patches."""
    logits, tokens, sources, merges, margins, splits = [], [], [], [], [], []
    with torch.no_grad():
        sequences = _msvit.tokenize(model, x)
        if not record:
            return _run_msvit_grouped(model, sequences, r_list, class_token, distill_token)
        for seq, split, _, where in sequences:
            state = ToMeState(r_list, class_token, distill_token, record=record)
            with _tome_state(model, state):
                logits.append(model.forward_head(model.run_blocks(seq[None])))
            tokens.append(state.tokens)
            splits.append(split.tolist())
            if record:
                k = model.num_prefix_tokens
                entry = torch.cat([torch.arange(k), where])
                sources.append(state.assign[0][entry].tolist())
                merges.append(state.merges)
                margins.append(state.margins)
    out = {"r_per_layer": r_list, "logits": torch.cat(logits), "tokens": tokens, "module_tokens": 0, "splits": splits}
    if record:
        out["sources"] = sources
        # per layer, per image, as for a plain model
        out["merges"] = [[m[layer][0] for m in merges] for layer in range(len(r_list))]
        out["margins"] = [[m[layer][0] for m in margins] for layer in range(len(r_list))]
    return out


def _run_msvit_grouped(model, sequences, r_list, class_token, distill_token):
    """The same without a record, faster: the images of one token count run as one batch (ToMe plans
    each image of a batch on its own)."""
    n = len(sequences)
    logits, tokens, groups = [None] * n, [None] * n, {}
    for i, (seq, _, _, _) in enumerate(sequences):
        groups.setdefault(seq.shape[0], []).append(i)
    for members in groups.values():
        state = ToMeState(r_list, class_token, distill_token)
        with _tome_state(model, state):
            out = model.forward_head(model.run_blocks(torch.stack([sequences[i][0] for i in members])))
        for j, i in enumerate(members):
            logits[i], tokens[i] = out[j:j + 1], list(state.tokens)
    return {"r_per_layer": r_list, "logits": torch.cat(logits), "tokens": tokens, "module_tokens": 0,
            "splits": [s.tolist() for _, s, _, _ in sequences]}


def load_image(path, config):
    """PNG at the model's exact input size -> normalized float32 tensor [C,H,W].

    RGB (or L when in_chans == 1), x/255 in float32, then (x - mean) / std in float32
    (timm ToTensor + Normalize with crop_pct 1.0 at exact size is the identity resize).
    """
    from PIL import Image
    pcfg = config.get("pretrained_cfg", {})
    in_chans = int(config.get("model_args", {}).get("in_chans", pcfg.get("input_size", [3])[0]))
    img = Image.open(path)
    img = img.convert("L" if in_chans == 1 else "RGB")
    want = pcfg.get("input_size")
    if want is None:
        s = config.get("model_args", {}).get("img_size")
        want = [in_chans, s, s] if not isinstance(s, (list, tuple)) else [in_chans] + list(s)
    if (img.size[1], img.size[0]) != (int(want[1]), int(want[2])):
        raise ValueError("%s is %dx%d, model wants exactly %dx%d (no resizing yet)"
                         % (path, img.size[0], img.size[1], want[2], want[1]))
    a = np.asarray(img, dtype=np.uint8)
    if a.ndim == 2:
        a = a[:, :, None]
    t = torch.from_numpy(a.copy()).permute(2, 0, 1).float().div(255)
    mean = torch.tensor(pcfg.get("mean", [0.485, 0.456, 0.406])[:in_chans], dtype=torch.float32)
    std = torch.tensor(pcfg.get("std", [0.229, 0.224, 0.225])[:in_chans], dtype=torch.float32)
    return t.sub(mean.view(-1, 1, 1)).div(std.view(-1, 1, 1))
