#!/usr/bin/env python3
"""Random-init fixtures of MSViT (mixed-scale tokens chosen by a gate), deterministically.

    python3 tools/reference/make_msvit_fixtures.py [--out DIR]

Writes into tornado-kernels/src/test/resources/fixtures/ (default), beside make_fixtures.py's:
  vit-msvit-rand/       vit-tiny-rand's shape (8x8 patches of 4 px + class token), 16 regions of 8 px, gate H=16
  deit-msvit-rand/      the same with a distillation token, float16 weights
  expected/<model>.json per budget: logits, each image's split regions, its token counts (entering each
                        block, then at the end) and each input token's final holder (the prefix tokens, then
                        the fine patches); budgets in threshold mode ("0", a ToMe spec) and in budgeted mode
                        ("split=K", "split=K+SPEC")
It reads the committed fixture images (make_fixtures.py writes them) and rejects seeds whose ToMe
matchings come within 1e-4 of a tie, whose gate probabilities come within 1e-3 of the threshold, or
whose k-th and (k+1)-th gate logits are within 1e-3 of each other.
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
from tomestream_ref import msvit as _msvit  # noqa: E402
from tomestream_ref.model import build_model  # noqa: E402

GATE_GAP = 1e-3
SPLITS = 5
BODY = {"img_size": 32, "patch_size": 4, "in_chans": 3, "embed_dim": 64, "depth": 4, "num_heads": 4,
        "mlp_ratio": 4.0, "qkv_bias": True}
BUDGETS = ["0", "4", "split=%d" % SPLITS, "split=%d+6,4,2,0" % SPLITS]
MODELS = [
    {"name": "vit-msvit-rand", "dtype": torch.float32, "base_seed": 6000,
     "config": {"architecture": "vit_tiny_patch16_224", "num_classes": 10, "global_pool": "token",
                "model_args": dict(BODY, class_token=True),
                "msvit": {"coarse_patch": 8, "gate_hidden": 16, "threshold": 0.5}}},
    {"name": "deit-msvit-rand", "dtype": torch.float16, "base_seed": 7000,
     "config": {"architecture": "deit_tiny_distilled_patch16_224", "num_classes": 10, "global_pool": "token",
                "model_args": dict(BODY),
                "msvit": {"coarse_patch": 8, "gate_hidden": 16, "threshold": 0.5}}},
]


def init_msvit(template, seed):
    """make_fixtures' init, with the gate's last layer four times larger, so that the gate's decisions
    are clear of the threshold for most regions."""
    sd = init_state_dict(template, seed)
    sd["msvit.gate.fc2.weight"] = (sd["msvit.gate.fc2.weight"] * 4).contiguous()
    return sd


def gate_gaps(model, x):
    """(smallest |sigmoid(g) - threshold|, smallest gap between the k-th and (k+1)-th logit of an image)."""
    with torch.no_grad():
        _, coarse = _msvit.embed_scales(model, x)
        logits = model.msvit.gate(coarse)
    threshold_gap = (torch.sigmoid(logits) - model.msvit.threshold).abs().min().item()
    ranked = torch.sort(logits, dim=1, descending=True).values
    return threshold_gap, (ranked[:, SPLITS - 1] - ranked[:, SPLITS]).min().item()


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
        template.attach(_msvit.from_config(config, template.embed_dim))
        for seed, model, x in seeded_models(folder, config, lambda seed: init_msvit(template, seed), spec["base_seed"],
                                            spec["dtype"], image_paths):
            cases, min_sel, min_top2 = [], math.inf, math.inf
            for budget in BUDGETS:
                out, sel, top2 = recorded(model, x, budget)
                min_sel, min_top2 = min(min_sel, sel), min(min_top2, top2)
                cases.append({"budget": budget, "r_per_layer": out["r_per_layer"], "logits": out["logits"].tolist(),
                              "splits": [[r for r, s in enumerate(row) if s] for row in out["splits"]],
                              "tokens": out["tokens"], "sources": out["sources"]})
            threshold_gap, rank_gap = gate_gaps(model, x)
            distinct = len({t[0] for t in cases[0]["tokens"]})  # the threshold mode must give mixed batches
            ok = min(min_sel, min_top2) >= MIN_GAP and threshold_gap >= GATE_GAP and rank_gap >= GATE_GAP and distinct >= 3
            print("%-18s seed %d: matching gaps %.3g / %.3g, threshold gap %.3g, rank gap %.3g, %d token counts -> %s"
                  % (spec["name"], seed, min_sel, min_top2, threshold_gap, rank_gap, distinct, "ok" if ok else "rejected"))
            if ok:
                break
        else:
            raise SystemExit("no robust seed found for " + spec["name"])
        write_json(os.path.join(args.out, "expected", spec["name"] + ".json"),
                   {"model": spec["name"], "images": image_names, "cases": cases})
        absmax = max(abs(v) for c in cases for row in c["logits"] for v in row)
        print("  wrote %s (seed %d, max |logit| %.3f, tokens entering block 1 %s)"
              % (folder, seed, absmax, [[t[0] for t in c["tokens"]] for c in cases]))


if __name__ == "__main__":
    main()
