#!/usr/bin/env python3
"""Random-init fixtures of the learned token reducers (TokenLearner, PatchMerger), deterministically.

    python3 tools/reference/make_learned_fixtures.py [--out DIR]

Writes into tornado-kernels/src/test/resources/fixtures/ (default), beside make_fixtures.py's:
  vit-tokenlearner-rand/     vit-tiny-rand's shape (64 patches + class token), TokenLearner S=8 before block 2
  deit-patchmerger-rand/     deit-tiny-distilled-rand's shape (class + distillation token), PatchMerger M=8 after block 1
  expected/<model>.json      logits, token counts (entering each block, then at the end; module_tokens:
                             the tokens the module was given) and each input token's final holder, with
                             and without ToMe in the blocks before the module
It reads the committed fixture images (make_fixtures.py writes them) and rejects seeds whose ToMe
matchings come within 1e-4 of a tie, or whose "learned token that weighs a patch most" within 0.1%.
"""
import argparse
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from make_fixtures import (DEFAULT_OUT, MIN_GAP,  # noqa: E402
                           fixture_config, fixture_images, init_state_dict, recorded, seeded_models, write_json)
from tomestream_ref import learned as _learned  # noqa: E402
from tomestream_ref.model import build_model  # noqa: E402

HOLDER_GAP = 1e-3  # relative: the weights are about 1/N each
BODY = {"img_size": 32, "patch_size": 4, "in_chans": 3, "embed_dim": 64, "depth": 4, "num_heads": 4,
        "mlp_ratio": 4.0, "qkv_bias": True}
MODELS = [
    {"name": "vit-tokenlearner-rand", "dtype": torch.float32, "base_seed": 4000, "specs": ["0", "8,8,0,0", "4,12,0,0"],
     "config": {"architecture": "vit_tiny_patch16_224", "num_classes": 10, "global_pool": "token",
                "model_args": dict(BODY, class_token=True),
                "token_learner": {"tokens": 8, "before_block": 2, "hidden": 64}}},
    {"name": "deit-patchmerger-rand", "dtype": torch.float16, "base_seed": 5000, "specs": ["0", "8,8,0,0", "2,6,0,0"],
     "config": {"architecture": "deit_tiny_distilled_patch16_224", "num_classes": 10, "global_pool": "token",
                "model_args": dict(BODY),
                "patch_merger": {"tokens": 8, "after_block": 1}}},
]


def init_learned(template, seed):
    """make_fixtures' init for the ViT, plus the module's queries (N(0, 1)), which it has no rule for, and
    a TokenLearner fc2 four times larger, so that each patch has a clear favourite among the learned tokens."""
    queries = {k: v for k, v in template.state_dict().items() if k.endswith("queries")}
    body = type("T", (), {"state_dict": lambda self: {k: v for k, v in template.state_dict().items() if k not in queries}})()
    sd = init_state_dict(body, seed)
    gen = torch.Generator().manual_seed(seed + 7919)
    for k, v in queries.items():
        sd[k] = torch.randn(v.shape, generator=gen, dtype=torch.float32).contiguous()
    if "token_learner.mlp.fc2.weight" in sd:
        sd["token_learner.mlp.fc2.weight"] = (sd["token_learner.mlp.fc2.weight"] * 4).contiguous()
    return sd


def holder_gap(model, x, prefix):
    """The smallest relative gap, over images and patches, between the best and second-best learned token's weight."""
    gaps = []

    def hook(module, inputs, output):
        w = output[1].transpose(1, 2)  # [B, N, S]
        top = w.topk(2, dim=-1).values
        gaps.append(((top[..., 0] - top[..., 1]) / top[..., 0]).min().item())

    module = model.token_learner or model.patch_merger
    h = module.register_forward_hook(hook)
    try:
        with torch.no_grad():
            model(x)
    finally:
        h.remove()
    return min(gaps)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    image_names, image_paths = fixture_images(args.out)
    for spec in MODELS:
        config = fixture_config(spec)
        folder = os.path.join(args.out, spec["name"])
        template = build_model(config, "fallback")
        template.attach(_learned.from_config(config, template.embed_dim))
        for seed, model, x in seeded_models(folder, config, lambda seed: init_learned(template, seed), spec["base_seed"],
                                            spec["dtype"], image_paths):
            cases, min_sel, min_top2 = [], math.inf, math.inf
            for s in spec["specs"]:
                out, sel, top2 = recorded(model, x, s)
                min_sel, min_top2 = min(min_sel, sel), min(min_top2, top2)
                cases.append({"tome": s, "r_per_layer": out["r_per_layer"], "logits": out["logits"].tolist(),
                              "tokens": [list(out["tokens"]) for _ in range(x.shape[0])], "module_tokens": out["module_tokens"],
                              "sources": out["sources"]})
            gap = holder_gap(model, x, model.num_prefix_tokens)
            ok = min(min_sel, min_top2) >= MIN_GAP and gap >= HOLDER_GAP
            print("%-24s seed %d: min matching gaps %.3g / %.3g, min holder gap %.3g -> %s"
                  % (spec["name"], seed, min_sel, min_top2, gap, "ok" if ok else "rejected"))
            if ok:
                break
        else:
            raise SystemExit("no robust seed found for " + spec["name"])
        write_json(os.path.join(args.out, "expected", spec["name"] + ".json"),
                   {"model": spec["name"], "images": image_names, "cases": cases})
        absmax = max(abs(v) for c in cases for row in c["logits"] for v in row)
        print("  wrote %s (seed %d, max |logit| %.3f, tokens %s)" % (folder, seed, absmax,
                                                                      [c["tokens"][0] for c in cases]))


if __name__ == "__main__":
    main()
