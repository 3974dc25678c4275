#!/usr/bin/env python3
"""Write a randomly initialised timm-style model folder (config.json + model.safetensors, F32).

    python3 tools/reference/make_random_model.py --arch vit_small_patch16_224 --out DIR [--seed 0]
                                                 [--num-classes 1000]

The shapes come from the architecture name, as timm's registry defines them:
``{vit,deit}_{tiny,small,base,large}[_distilled]_patch{P}_{IMG}`` (tiny 192/12/3, small 384/12/6,
base 768/12/12, large 1024/24/16 = embed_dim/depth/num_heads).  config.json spells out every
model arg, so any loader (timm, tomestream_ref, the Java engine) builds the same model.

The init is timm-like (``init_weights_vit_timm``), so activations have realistic magnitudes:
Linear weights trunc-normal(std 0.02, +-2 std), patch_embed conv uniform(+-1/sqrt(fan_in)) (torch's
Conv2d default), pos_embed trunc-normal(0.02), cls/dist tokens N(0, 1e-6), LayerNorm weight 1 and
bias 0.  Unlike timm the Linear/conv biases are small random values (trunc-normal 0.02, ``--bias-std``)
rather than zero, so a missing bias would show up in an agreement check.  Seeded with a
``torch.Generator`` over the sorted tensor names: the same arguments give byte-identical files.
"""
import argparse
import json
import math
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

from tomestream_ref import build_model  # noqa: E402

_ARCH_RE = re.compile(r"^(vit|deit)_(tiny|small|base|large)(_distilled)?_patch(\d+)_(\d+)$")
_SIZES = {  # embed_dim, depth, num_heads
    "tiny": (192, 12, 3),
    "small": (384, 12, 6),
    "base": (768, 12, 12),
    "large": (1024, 24, 16),
}
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
INCEPTION_MEAN, INCEPTION_STD = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]


def make_config(arch, num_classes):
    """Architecture name -> config.json dict (timm HF-hub style, model_args spelled out)."""
    m = _ARCH_RE.match(arch)
    if not m:
        raise ValueError("can't derive shapes from %r (want {vit,deit}_{tiny,small,base,large}"
                         "[_distilled]_patch<P>_<IMG>)" % arch)
    family, size, distilled, patch, img = m.group(1), m.group(2), bool(m.group(3)), int(m.group(4)), int(m.group(5))
    if distilled and family != "deit":
        raise ValueError("only deit_* models are distilled: %r" % arch)
    if img % patch:
        raise ValueError("img_size %d is not a multiple of patch_size %d" % (img, patch))
    embed, depth, heads = _SIZES[size]
    if family == "deit":       # timm deit.py _cfg: ImageNet stats, crop 0.875 (1.0 at 384)
        mean, std, crop = IMAGENET_MEAN, IMAGENET_STD, (1.0 if img >= 384 else 0.875)
    else:                      # timm vision_transformer.py augreg cfgs: inception stats, crop 0.9 (1.0 at 384)
        mean, std, crop = INCEPTION_MEAN, INCEPTION_STD, (1.0 if img >= 384 else 0.9)
    return {
        "architecture": arch,
        "num_classes": num_classes,
        "global_pool": "token",
        "model_args": {
            "img_size": img,
            "patch_size": patch,
            "in_chans": 3,
            "embed_dim": embed,
            "depth": depth,
            "num_heads": heads,
            "mlp_ratio": 4.0,
            "qkv_bias": True,
            "class_token": True,
            "global_pool": "token",
        },
        "pretrained_cfg": {
            "input_size": [3, img, img],
            "interpolation": "bicubic",
            "crop_pct": crop,
            "mean": list(mean),
            "std": list(std),
            "num_classes": num_classes,
        },
    }


def _trunc_normal(shape, std, gen):
    """N(0, std) truncated to +-2 std, by inverse CDF as timm's trunc_normal_ does (one draw per value)."""
    lo = 0.5 * (1.0 + math.erf(-2.0 / math.sqrt(2.0)))
    hi = 0.5 * (1.0 + math.erf(2.0 / math.sqrt(2.0)))
    u = torch.rand(shape, generator=gen, dtype=torch.float32) * (hi - lo) + lo
    t = torch.erfinv(2.0 * u - 1.0) * math.sqrt(2.0)
    return t.clamp_(-2.0, 2.0) * std


def init_state_dict(template, seed, bias_std=0.02):
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    for name, p in sorted(template.state_dict().items()):
        shape = p.shape
        leaf = name.split(".")[-1]
        is_norm = p.dim() == 1 and ("norm" in name.split(".")[-2] if "." in name else False)
        if name in ("cls_token", "dist_token"):
            t = torch.randn(shape, generator=gen, dtype=torch.float32) * 1e-6
        elif name == "pos_embed":
            t = _trunc_normal(shape, 0.02, gen)
        elif is_norm:
            t = torch.ones(shape) if leaf == "weight" else torch.zeros(shape)
        elif leaf == "bias":
            t = _trunc_normal(shape, bias_std, gen) if bias_std > 0 else torch.zeros(shape)
        elif leaf == "weight" and name.startswith("patch_embed"):
            bound = 1.0 / math.sqrt(int(torch.tensor(shape[1:]).prod()))
            t = (torch.rand(shape, generator=gen, dtype=torch.float32) * 2 - 1) * bound
        elif leaf == "weight" and p.dim() == 2:
            t = _trunc_normal(shape, 0.02, gen)
        else:
            raise RuntimeError("no init rule for %s %s" % (name, tuple(shape)))
        sd[name] = t.to(torch.float32).contiguous()
    return sd


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", required=True, help="e.g. vit_small_patch16_224, deit_base_distilled_patch16_224")
    ap.add_argument("--out", required=True, help="output folder (created; existing files are overwritten)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--num-classes", type=int, default=1000)
    ap.add_argument("--bias-std", type=float, default=0.02, help="std of the Linear/conv biases (0 = timm's zeros)")
    ap.add_argument("--backend", default="auto", choices=["auto", "timm", "fallback"],
                    help="model used as the shape template and for the sanity forward")
    args = ap.parse_args(argv)
    if args.num_classes <= 0:
        ap.error("--num-classes must be positive")

    t0 = time.time()
    try:
        config = make_config(args.arch, args.num_classes)
    except ValueError as e:
        ap.error(str(e))
    model = build_model(config, args.backend)
    sd = init_state_dict(model, args.seed, args.bias_std)
    model.load_state_dict(sd, strict=True)

    from safetensors.torch import save_file
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    st_path = os.path.join(args.out, "model.safetensors")
    save_file(sd, st_path, metadata={"format": "pt"})

    # sanity forward on a random normalised batch of 2 (plain forward, no ToMe)
    img = config["model_args"]["img_size"]
    x = torch.randn(2, 3, img, img, generator=torch.Generator().manual_seed(args.seed + 1))
    with torch.no_grad():
        logits = model(x)
    if not bool(torch.isfinite(logits).all()):
        raise RuntimeError("non-finite logits from the random model")
    n_params = sum(v.numel() for v in sd.values())
    ma = config["model_args"]
    print("%s: %s embed %d depth %d heads %d patch %d img %d classes %d, %d tensors, %.2fM params, seed %d"
          % (args.out, args.arch, ma["embed_dim"], ma["depth"], ma["num_heads"], ma["patch_size"], img,
             args.num_classes, len(sd), n_params / 1e6, args.seed))
    print("  model.safetensors %d bytes (F32); backend %s; sanity logits std %.4f max|.| %.4f; %.1f s"
          % (os.path.getsize(st_path), model._tomestream_backend, float(logits.std()), float(logits.abs().max()),
             time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
