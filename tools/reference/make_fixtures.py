#!/usr/bin/env python3
"""Regenerate every committed test fixture deterministically (fixed seeds).

    python3 tools/reference/make_fixtures.py [--out DIR] [--backend auto|timm|fallback]

Writes into tornado-kernels/src/test/resources/fixtures/ (default):
  images/img0..7.png (RGB 32x32), images/gray0.png (L 32x32)
  vit-tiny-rand/, deit-tiny-distilled-rand/, vit-avg-rand/   (config.json + model.safetensors)
  expected/<model>.json
  dtypes.safetensors + dtypes.json
"""
import argparse
import json
import math
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from tomestream_ref import load_model, load_image, run_tome  # noqa: E402
from tomestream_ref.model import build_model  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_OUT = os.path.join(REPO, "tornado-kernels", "src", "test", "resources", "fixtures")

MIN_GAP = 1e-4          # required margin against near-ties in every matching
MAX_SEED_TRIES = 50
IMAGE_SEED = 20240611
N_IMAGES = 8

LABELS = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
PRETRAINED_CFG = {"input_size": [3, 32, 32], "interpolation": "bicubic", "crop_pct": 1.0,
                  "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "num_classes": 10}

MODELS = [
    {
        "name": "vit-tiny-rand", "dtype": torch.float32, "base_seed": 1000,
        "specs": ["0", "8", "8:-1", "2,6,10,4"],
        "config": {
            "architecture": "vit_tiny_patch16_224", "num_classes": 10, "global_pool": "token",
            "model_args": {"img_size": 32, "patch_size": 4, "in_chans": 3, "embed_dim": 64, "depth": 4,
                           "num_heads": 4, "mlp_ratio": 4.0, "qkv_bias": True, "class_token": True},
        },
    },
    {
        "name": "deit-tiny-distilled-rand", "dtype": torch.float16, "base_seed": 2000,
        "specs": ["0", "8", "8:-1", "2,6,10,4"],
        "config": {
            "architecture": "deit_tiny_distilled_patch16_224", "num_classes": 10, "global_pool": "token",
            "model_args": {"img_size": 32, "patch_size": 4, "in_chans": 3, "embed_dim": 64, "depth": 4,
                           "num_heads": 4, "mlp_ratio": 4.0, "qkv_bias": True},
        },
    },
    {
        "name": "vit-avg-rand", "dtype": torch.bfloat16, "base_seed": 3000,
        "specs": ["0", "6", "6:-1", "2,6,4"],
        "config": {
            # global_pool is repeated inside model_args because timm's local-dir / hf-hub loader
            # ignores the top-level key (it only feeds model_args to create_model).
            "architecture": "vit_tiny_patch16_224", "num_classes": 10, "global_pool": "avg",
            "model_args": {"img_size": 32, "patch_size": 4, "in_chans": 3, "embed_dim": 48, "depth": 3,
                           "num_heads": 3, "mlp_ratio": 4.0, "qkv_bias": True, "class_token": False,
                           "global_pool": "avg"},
        },
    },
]


# ----------------------------------------------------------------------------- images

def _smooth_noise(rng, n, cells):
    """Bilinearly upsampled random grid (cloud-like), values in [0, 1]."""
    g = rng.random((cells + 1, cells + 1))
    t = np.linspace(0, cells, n, endpoint=False) + 0.5 * cells / n
    i0 = np.floor(t).astype(int)
    f = t - i0
    i1 = np.minimum(i0 + 1, cells)
    fy, fx = f[:, None], f[None, :]
    a = g[i0][:, i0] * (1 - fx) + g[i0][:, i1] * fx
    b = g[i1][:, i0] * (1 - fx) + g[i1][:, i1] * fx
    return a * (1 - fy) + b * fy


def make_images(rng, n=32):
    y, x = np.mgrid[0:n, 0:n].astype(np.float64) / (n - 1)
    imgs = []

    # 0: sky gradient with a sun blob
    sky = np.stack([0.35 + 0.3 * y, 0.55 + 0.3 * y, 0.95 - 0.2 * y], -1)
    sun = np.exp(-(((x - 0.7) ** 2 + (y - 0.25) ** 2) / 0.01))[..., None]
    imgs.append(sky * (1 - sun) + np.array([1.0, 0.9, 0.5]) * sun)

    # 1: soft horizontal stripes with colour drift
    s = 0.5 + 0.5 * np.sin(2 * np.pi * (y * 4.5 + 0.15 * x))
    imgs.append(np.stack([0.2 + 0.6 * s, 0.3 + 0.3 * x, 0.7 - 0.5 * s * y], -1))

    # 2: coloured gaussian blobs on a dark background
    img = np.zeros((n, n, 3)) + 0.08
    for _ in range(5):
        cx, cy = rng.random(2)
        rad = 0.01 + 0.03 * rng.random()
        col = rng.random(3)
        img += col * np.exp(-(((x - cx) ** 2 + (y - cy) ** 2) / rad))[..., None]
    imgs.append(img)

    # 3: flat horizon (sky / grass) with a soft boundary and light texture in the grass
    h = 0.55 + 0.05 * np.sin(2 * np.pi * x * 1.5)
    ground = 1 / (1 + np.exp(-(y - h) * 40))
    grass = np.stack([0.2 + 0.1 * _smooth_noise(rng, n, 8), 0.55 + 0.15 * _smooth_noise(rng, n, 8),
                      0.15 + 0 * x], -1)
    skyc = np.stack([0.55 + 0 * x, 0.75 + 0 * x, 0.95 + 0 * x], -1)
    imgs.append(skyc * (1 - ground[..., None]) + grass * ground[..., None])

    # 4: woven sinusoid texture
    t = 0.5 + 0.25 * np.sin(2 * np.pi * 3 * x) + 0.25 * np.sin(2 * np.pi * (2 * y + x))
    imgs.append(np.stack([t, 0.5 + 0.4 * (t - 0.5) * np.cos(np.pi * y), 1 - t], -1))

    # 5: radial gradient with a ring
    r = np.sqrt((x - 0.45) ** 2 + (y - 0.55) ** 2)
    ring = np.exp(-((r - 0.3) ** 2) / 0.002)
    imgs.append(np.stack([0.9 - 0.8 * r + 0.1 * ring, 0.4 + 0.5 * ring, 0.3 + 0.6 * r], -1))

    # 6: objects (rectangle + disc) on a gradient background
    bg = np.stack([0.8 - 0.3 * x, 0.7 - 0.2 * y, 0.6 + 0.2 * x * y], -1)
    rect = ((x > 0.12) & (x < 0.45) & (y > 0.5) & (y < 0.85)).astype(float)[..., None]
    disc = (((x - 0.68) ** 2 + (y - 0.35) ** 2) < 0.03).astype(float)[..., None]
    img = bg * (1 - rect) + np.array([0.75, 0.2, 0.15]) * rect
    img = img * (1 - disc) + np.array([0.1, 0.25, 0.65]) * disc
    imgs.append(img)

    # 7: clouds (smooth value noise, several octaves)
    c = 0.55 * _smooth_noise(rng, n, 4) + 0.3 * _smooth_noise(rng, n, 8) + 0.15 * _smooth_noise(rng, n, 16)
    imgs.append(np.stack([0.5 + 0.5 * c, 0.6 + 0.4 * c, 0.8 + 0.2 * c], -1))

    out = []
    for im in imgs:
        im = im + rng.normal(0, 0.01, im.shape)          # slight sensor noise
        out.append(np.clip(np.round(im * 255), 0, 255).astype(np.uint8))

    g = 0.3 + 0.5 * x * (1 - 0.3 * y) + 0.3 * np.exp(-(((x - 0.3) ** 2 + (y - 0.6) ** 2) / 0.02))
    g = np.clip(np.round((g + rng.normal(0, 0.01, g.shape)) * 255), 0, 255).astype(np.uint8)
    return out, g


# ----------------------------------------------------------------------------- weights

def init_state_dict(template, seed):
    """Seeded random weights for every tensor of ``template`` (key order = sorted names)."""
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    for name, p in sorted(template.state_dict().items()):
        shape = p.shape

        def normal(std):
            return torch.randn(shape, generator=gen, dtype=torch.float32) * std

        leaf = name.split(".")[-1]
        is_norm = ("norm" in name) and p.dim() == 1
        if name in ("cls_token", "dist_token", "pos_embed"):
            t = normal(1.0)
        elif is_norm and leaf == "weight":
            t = 1.0 + normal(0.1)
        elif leaf == "bias":
            t = normal(0.05)
        elif leaf == "weight" and p.dim() >= 2:
            fan_in = int(np.prod(shape[1:]))
            # patch projection kept small so position embeddings keep tokens well apart (robust,
            # tie-free matchings); head slightly larger so logits are O(1).
            gain = 0.5 if name.startswith("patch_embed") else (1.5 if name.startswith("head") else 1.0)
            t = normal(gain / math.sqrt(fan_in))
        else:
            raise RuntimeError("no init rule for " + name)
        sd[name] = t.contiguous()
    return sd


def write_model(folder, config, sd, dtype):
    from safetensors.torch import save_file
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    save_file({k: v.to(dtype).contiguous() for k, v in sd.items()}, os.path.join(folder, "model.safetensors"),
              metadata={"format": "pt"})


def fixture_images(out):
    """The committed fixture images' names and paths."""
    names = ["img%d.png" % i for i in range(N_IMAGES)]
    return names, [os.path.join(out, "images", n) for n in names]


def fixture_config(spec):
    """A MODELS entry's config.json: its config, the fixtures' pretrained_cfg and label names."""
    return dict(spec["config"], pretrained_cfg=dict(PRETRAINED_CFG), label_names=list(LABELS))


def seeded_models(folder, config, init, base_seed, dtype, image_paths):
    """For each of MAX_SEED_TRIES seeds from base_seed, the folder written anew with init(seed)'s weights
    and loaded: yields (seed, model, the fixture images as a batch)."""
    for seed in range(base_seed, base_seed + MAX_SEED_TRIES):
        if os.path.isdir(folder):
            shutil.rmtree(folder)
        write_model(folder, config, init(seed), dtype)
        model, cfg = load_model(folder)
        yield seed, model, torch.stack([load_image(p, cfg) for p in image_paths])


def recorded(model, x, spec):
    """run_tome with its record, and the smallest (selection gap, best-vs-second gap) of its matchings."""
    out = run_tome(model, x, spec, record=True)
    gaps = [g for layer in out["margins"] for g in layer]
    return out, min((g[0] for g in gaps), default=math.inf), min((g[1] for g in gaps), default=math.inf)


# ----------------------------------------------------------------------------- json output

def _compact_json(obj, indent=0, step=1):
    """JSON with lists of scalars on one line (keeps fixtures small and diffable)."""
    pad = " " * indent
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = ['%s%s: %s' % (" " * (indent + step), json.dumps(k), _compact_json(v, indent + step, step))
                 for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, (list, tuple)):
        if all(not isinstance(v, (list, tuple, dict)) for v in obj):
            return "[" + ", ".join(json.dumps(v, allow_nan=False) for v in obj) + "]"
        if all(isinstance(v, dict) and all(not isinstance(w, (list, dict)) or
                                           all(not isinstance(u, (list, dict)) for u in w)
                                           for w in v.values()) for v in obj):
            # list of flat dicts (merge records): one dict per line
            items = [" " * (indent + step) + json.dumps(v, allow_nan=False, separators=(", ", ": "))
                     for v in obj]
            return "[\n" + ",\n".join(items) + "\n" + pad + "]"
        items = [" " * (indent + step) + _compact_json(v, indent + step, step) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj, allow_nan=False)


def write_json(path, obj):
    with open(path, "w") as f:
        f.write(_compact_json(obj))
        f.write("\n")


# ----------------------------------------------------------------------------- expected

def evaluate(folder, spec_list, image_paths, backend):
    model, config = load_model(folder, backend)
    x = torch.stack([load_image(p, config) for p in image_paths])
    cases, min_sel, min_top2 = [], math.inf, math.inf
    for spec in spec_list:
        out = run_tome(model, x, spec, record=True)
        for layer in out["margins"]:
            for sel, top2 in layer:
                min_sel = min(min_sel, sel)
                min_top2 = min(min_top2, top2)
        n = x.shape[0]
        cases.append({
            "tome": spec,
            "r_per_layer": out["r_per_layer"],
            "logits": out["logits"].tolist(),
            "tokens": [list(out["tokens"]) for _ in range(n)],
            "merges": out["merges"],
            "sources": out["sources"],
        })
    return cases, min_sel, min_top2, model


def make_dtypes(out_dir):
    from safetensors.torch import save_file
    base = [[1.5, -2.25, 0.0], [3.0, -0.5, 1024.0]]
    odd_f16 = [[0.1, 65504.0, 1e-5, -0.0], [3.14159, 6e-8, 0.33333334, -1234.567]]
    odd_bf16 = [[0.1, 3.14159, 1e-40, -0.0], [3.0e38, 1.0 + 2 ** -9, -1234.567, 65504.0]]
    tensors = {
        "a_f32": torch.tensor(base, dtype=torch.float32),
        "a_f16": torch.tensor(base, dtype=torch.float32).half(),
        "a_bf16": torch.tensor(base, dtype=torch.float32).bfloat16(),
        "odd_f16": torch.tensor(odd_f16, dtype=torch.float32).half(),
        "odd_bf16": torch.tensor(odd_bf16, dtype=torch.float32).bfloat16(),
    }
    save_file(tensors, os.path.join(out_dir, "dtypes.safetensors"))
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
    desc = {}
    for k, t in tensors.items():
        vals = t.float().tolist()
        desc[k] = {"dtype": names[t.dtype], "shape": list(t.shape), "values": vals}
    desc["a_f32"]["source"] = desc["a_f16"]["source"] = desc["a_bf16"]["source"] = base
    desc["odd_f16"]["source"] = odd_f16
    desc["odd_bf16"]["source"] = odd_bf16
    write_json(os.path.join(out_dir, "dtypes.json"), desc)
    return [os.path.join(out_dir, "dtypes.safetensors"), os.path.join(out_dir, "dtypes.json")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--backend", default="auto", choices=["auto", "timm", "fallback"])
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    out = args.out
    written = []

    # images
    from PIL import Image
    img_dir = os.path.join(out, "images")
    os.makedirs(img_dir, exist_ok=True)
    rgb, gray = make_images(np.random.default_rng(IMAGE_SEED))
    image_names = []
    for i, a in enumerate(rgb[:N_IMAGES]):
        p = os.path.join(img_dir, "img%d.png" % i)
        Image.fromarray(a, "RGB").save(p, optimize=False)
        image_names.append("img%d.png" % i)
        written.append(p)
    p = os.path.join(img_dir, "gray0.png")
    Image.fromarray(gray, "L").save(p, optimize=False)
    written.append(p)
    image_paths = [os.path.join(img_dir, n) for n in image_names]

    exp_dir = os.path.join(out, "expected")
    os.makedirs(exp_dir, exist_ok=True)
    summary = []
    for spec in MODELS:
        config = fixture_config(spec)
        folder = os.path.join(out, spec["name"])
        template = build_model(config, "fallback")
        chosen = None
        for seed in range(spec["base_seed"], spec["base_seed"] + MAX_SEED_TRIES):
            sd = init_state_dict(template, seed)
            if os.path.isdir(folder):
                shutil.rmtree(folder)
            write_model(folder, config, sd, spec["dtype"])
            cases, min_sel, min_top2, model = evaluate(folder, spec["specs"], image_paths, args.backend)
            ok = min_sel >= MIN_GAP and min_top2 >= MIN_GAP
            print("%-26s seed %d: min selection gap %.3g, min best-vs-second gap %.3g -> %s"
                  % (spec["name"], seed, min_sel, min_top2, "ok" if ok else "rejected"))
            if ok:
                chosen = (seed, cases, min_sel, min_top2, model)
                break
        if chosen is None:
            raise SystemExit("no robust seed found for " + spec["name"])
        seed, cases, min_sel, min_top2, model = chosen
        expected = {"model": spec["name"], "images": image_names, "cases": cases}
        p = os.path.join(exp_dir, spec["name"] + ".json")
        write_json(p, expected)
        written += [os.path.join(folder, "config.json"), os.path.join(folder, "model.safetensors"), p]
        absmax = max(abs(v) for c in cases for row in c["logits"] for v in row)
        summary.append((spec["name"], seed, min_sel, min_top2, absmax, model._tomestream_backend))

    written += make_dtypes(out)

    print("\nwrote:")
    total = 0
    for p in written:
        sz = os.path.getsize(p)
        total += sz
        print("  %-70s %8d bytes" % (os.path.relpath(p, REPO), sz))
    print("  total %d bytes" % total)
    print("\nmodels (name, seed, min selection gap, min best-vs-second gap, max |logit|, backend):")
    for s in summary:
        print("  %-26s seed=%d sel_gap=%.3g top2_gap=%.3g max|logit|=%.3f backend=%s" % s)


if __name__ == "__main__":
    main()
