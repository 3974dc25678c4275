#!/usr/bin/env python3
"""Train a small timm-layout ViT on Fashion-MNIST and write a model folder the Java engine loads.

The model class is the reference fallback ``tomestream_ref.vit.VisionTransformer`` (timm key names,
plain math attention), so the written ``model.safetensors`` is exactly that model's state_dict and
``tomestream_ref.model.load_model`` reads it back with ``strict=True``.

Preprocessing is the timm eval transform the engine implements: 28x28 uint8 (bicubic-resized once
with PIL to the model size when it is not 28), then ``x/255`` and ``(x-mean)/std`` in float32.
Training adds random crop (zero padding) + horizontal flip on the uint8 batch.

Works on torch 1.13 .. 2.x, CPU or CUDA (``--device``).  See README.md next to this file.
"""
import argparse
import gzip
import json
import math
import os
import platform
import random
import shlex
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
from tomestream_ref.vit import VisionTransformer  # noqa: E402
from tomestream_ref.model import build_model, load_model, load_state_dict  # noqa: E402
from tomestream_ref import learned as learned_modules  # noqa: E402
from tomestream_ref import msvit as msvit_module  # noqa: E402

DATA_DIR = "/usr/share/datasets/fashion-mnist"
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
          "Ankle boot"]
MEAN = 0.2860
STD = 0.3530

# Presets.  Both share the transformer body (dim/depth/heads/mlp) so fmnist-vit-196 can start from a
# trained fmnist-vit-49 folder (--init-from): only pos_embed changes size.
CONFIGS = {
    "fmnist-vit-49": dict(img_size=28, patch_size=4, embed_dim=128, depth=6, num_heads=4, mlp_ratio=4.0,
                          lr=1e-3, weight_decay=0.05, batch_size=128, warmup_epochs=1.0),
    "fmnist-vit-196": dict(img_size=56, patch_size=4, embed_dim=128, depth=6, num_heads=4, mlp_ratio=4.0,
                           lr=1e-3, weight_decay=0.05, batch_size=128, warmup_epochs=1.0),
}
# Defaults when fine-tuning from --init-from (overridable with --lr / --warmup-epochs).
FINETUNE_LR = 3e-4
FINETUNE_WARMUP = 0.2


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- data

def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    if (magic >> 8) != 0x08:
        raise ValueError("%s: not an unsigned-byte idx file (magic %#x)" % (path, magic))
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims).copy()


def load_fmnist_28(data_dir):
    names = {
        "train_x": "train-images-idx3-ubyte.gz", "train_y": "train-labels-idx1-ubyte.gz",
        "test_x": "t10k-images-idx3-ubyte.gz", "test_y": "t10k-labels-idx1-ubyte.gz",
    }
    paths = {k: os.path.join(data_dir, v) for k, v in names.items()}
    missing = [p for p in paths.values() if not os.path.exists(p)]
    if missing:
        sys.exit("Fashion-MNIST not found (missing %s).\n"
                 "Install it with:  apt-get install dataset-fashion-mnist\n"
                 "(or pass --data DIR holding {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz)"
                 % ", ".join(missing))
    return {k: read_idx(p) for k, p in paths.items()}


def resize_bicubic(images, size):
    """[N,28,28] uint8 -> [N,size,size] uint8 via PIL 'L' Image.resize((size,size), BICUBIC)."""
    from PIL import Image
    bicubic = getattr(Image, "Resampling", Image).BICUBIC
    out = np.empty((images.shape[0], size, size), dtype=np.uint8)
    for i in range(images.shape[0]):
        out[i] = np.asarray(Image.fromarray(images[i], mode="L").resize((size, size), bicubic),
                            dtype=np.uint8)
    return out


def load_data(data_dir, img_size, cache_dir):
    d = load_fmnist_28(data_dir)
    if img_size == 28:
        return d
    cache = os.path.join(cache_dir, "fmnist-%d-bicubic.npz" % img_size)
    if os.path.exists(cache):
        z = np.load(cache)
        if z["train_x"].shape == (d["train_x"].shape[0], img_size, img_size):
            log("using cached %dpx data %s" % (img_size, cache))
            return {"train_x": z["train_x"], "train_y": d["train_y"], "test_x": z["test_x"],
                    "test_y": d["test_y"]}
    log("resizing Fashion-MNIST 28 -> %d (PIL bicubic), caching to %s" % (img_size, cache))
    t0 = time.time()
    d = dict(d)
    d["train_x"] = resize_bicubic(d["train_x"], img_size)
    d["test_x"] = resize_bicubic(d["test_x"], img_size)
    os.makedirs(cache_dir, exist_ok=True)
    tmp = cache + ".tmp.npz"
    np.savez(tmp, train_x=d["train_x"], test_x=d["test_x"])
    os.replace(tmp, cache)
    log("resized in %.1fs" % (time.time() - t0))
    return d


def normalize(xb_u8, device):
    """uint8 [B,H,W] -> float32 [B,1,H,W]: x/255 then (x-mean)/std (same ops as tomestream_ref)."""
    x = xb_u8.to(device).unsqueeze(1).float().div(255)
    mean = torch.tensor([MEAN], dtype=torch.float32, device=device).view(-1, 1, 1)
    std = torch.tensor([STD], dtype=torch.float32, device=device).view(-1, 1, 1)
    return x.sub(mean).div(std)


def augment(xb, pad, gen):
    """Random crop with zero padding ``pad`` + horizontal flip, vectorized over the uint8 batch."""
    B, H, W = xb.shape
    if pad > 0:
        xp = F.pad(xb, (pad, pad, pad, pad))
        oy = torch.randint(0, 2 * pad + 1, (B,), generator=gen)
        ox = torch.randint(0, 2 * pad + 1, (B,), generator=gen)
        rows = (oy[:, None] + torch.arange(H))[:, :, None]
        cols = (ox[:, None] + torch.arange(W))[:, None, :]
        xb = xp[torch.arange(B)[:, None, None], rows, cols]
    flip = torch.rand(B, generator=gen) < 0.5
    xb = torch.where(flip[:, None, None], xb.flip(-1), xb)
    return xb


# ----------------------------------------------------------------------------- model

def folder_config(cfg, num_classes=10):
    img = cfg["img_size"]
    return {
        "architecture": "vit_tiny_patch16_224",
        "num_classes": num_classes,
        "global_pool": "token",
        "model_args": {
            "img_size": img, "patch_size": cfg["patch_size"], "in_chans": 1, "embed_dim": cfg["embed_dim"],
            "depth": cfg["depth"], "num_heads": cfg["num_heads"], "mlp_ratio": cfg["mlp_ratio"],
            "qkv_bias": True, "class_token": True,
        },
        "pretrained_cfg": {
            "input_size": [1, img, img], "interpolation": "bicubic", "crop_pct": 1.0,
            "mean": [MEAN], "std": [STD], "num_classes": num_classes,
        },
        "label_names": list(LABELS),
        **({cfg["learned"]["kind"]: cfg["learned"]["section"]} if cfg.get("learned") else {}),
        **({"msvit": cfg["msvit"]["section"]} if cfg.get("msvit") else {}),
    }


def learned_section(args):
    """--token-learner S:L / --patch-merger M:L -> {"kind", "section"} for config.json, or None."""
    if args.token_learner and args.patch_merger:
        sys.exit("--token-learner and --patch-merger: a model has at most one")
    spec, kind, where = ((args.token_learner, "token_learner", "before_block") if args.token_learner
                         else (args.patch_merger, "patch_merger", "after_block"))
    if not spec:
        return None
    try:
        tokens, block = (int(v) for v in spec.split(":"))
    except ValueError:
        sys.exit("--%s takes TOKENS:BLOCK, e.g. 8:2, got %r" % (kind.replace("_", "-"), spec))
    section = {"tokens": tokens, where: block}
    if kind == "token_learner":
        section["hidden"] = 64
    return {"kind": kind, "section": section}


def msvit_section(args):
    """--msvit TARGET[:HIDDEN] -> {"target", "section"}, or None."""
    if not args.msvit:
        return None
    if args.token_learner or args.patch_merger:
        sys.exit("--msvit with a learned token reducer: a model has at most one")
    try:
        parts = args.msvit.split(":")
        target, hidden = float(parts[0]), int(parts[1]) if len(parts) > 1 else 64
    except ValueError:
        sys.exit("--msvit takes TARGET[:HIDDEN], e.g. 0.25:64, got %r" % args.msvit)
    if not 0 < target < 1:
        sys.exit("--msvit: the target split fraction must be in (0, 1), got %g" % target)
    return {"target": target, "shaping_weight": args.shaping_weight, "gate_lr_scale": args.gate_lr_scale,
            "section": {"coarse_patch": 2 * CONFIGS[args.config]["patch_size"], "gate_hidden": hidden, "threshold": 0.5}}


def attach_msvit(model, cfg):
    """Inserts the MSViT gate, timm-style init, with fc2's bias at logit(target) so that training starts
    near the target split fraction."""
    if not cfg.get("msvit"):
        return model
    module = msvit_module.from_config({"msvit": cfg["msvit"]["section"]}, cfg["embed_dim"])
    for mod in module.modules():
        if isinstance(mod, nn.Linear):
            nn.init.trunc_normal_(mod.weight, std=0.02)
            nn.init.zeros_(mod.bias)
    t = cfg["msvit"]["target"]
    nn.init.constant_(module.gate.fc2.bias, math.log(t / (1 - t)))
    return model.attach(module)


def attach_learned(model, cfg):
    """Inserts the learned token reducer of cfg["learned"], freshly initialised like the rest (timm's
    trunc_normal(.02) Linear weights, zero biases; the queries too)."""
    if not cfg.get("learned"):
        return model
    module = learned_modules.from_config({cfg["learned"]["kind"]: cfg["learned"]["section"]}, cfg["embed_dim"])
    for mod in module.modules():
        if isinstance(mod, nn.Linear):
            nn.init.trunc_normal_(mod.weight, std=0.02)
            nn.init.zeros_(mod.bias)
    if isinstance(module, learned_modules.PatchMerger):
        nn.init.trunc_normal_(module.queries, std=0.02)
    return model.attach(module)


def make_model(cfg):
    m = VisionTransformer(img_size=cfg["img_size"], patch_size=cfg["patch_size"], in_chans=1, num_classes=10,
                          global_pool="token", embed_dim=cfg["embed_dim"], depth=cfg["depth"],
                          num_heads=cfg["num_heads"], mlp_ratio=cfg["mlp_ratio"], qkv_bias=True,
                          class_token=True)
    # timm's default ('') init: trunc_normal(.02) for pos_embed and Linear weights, zero Linear biases,
    # cls_token ~ N(0, 1e-6); conv and LayerNorm keep PyTorch's defaults.
    nn.init.trunc_normal_(m.pos_embed, std=0.02)
    nn.init.normal_(m.cls_token, std=1e-6)
    for mod in m.modules():
        if isinstance(mod, nn.Linear):
            nn.init.trunc_normal_(mod.weight, std=0.02)
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)
    return m


def resample_pos_embed(pe, new_grid, num_prefix=1):
    """timm resample_abs_pos_embed: prefix tokens kept, grid bicubic-interpolated (align_corners False)."""
    prefix, grid = pe[:, :num_prefix], pe[:, num_prefix:]
    n = grid.shape[1]
    old = int(round(math.sqrt(n)))
    assert old * old == n, "pos_embed grid is not square"
    D = grid.shape[-1]
    g = grid.reshape(1, old, old, D).permute(0, 3, 1, 2).float()
    g = F.interpolate(g, size=(new_grid, new_grid), mode="bicubic", align_corners=False)
    g = g.permute(0, 2, 3, 1).reshape(1, new_grid * new_grid, D)
    return torch.cat([prefix, g], dim=1)


def init_from(model, folder):
    with open(os.path.join(folder, "config.json")) as f:
        src_cfg = json.load(f)
    sd = load_state_dict(folder)
    own = model.state_dict()
    for k in own:
        if k not in sd and not k.startswith(("token_learner.", "patch_merger.", "msvit.")):
            raise SystemExit("--init-from %s: missing key %s" % (folder, k))
    for k in own:  # a learned token reducer new to this model keeps its fresh init
        if k not in sd:
            sd[k] = own[k]
    extra = sorted(set(sd) - set(own))
    if extra:
        raise SystemExit("--init-from %s: unexpected keys %s" % (folder, extra))
    pe = sd["pos_embed"]
    if pe.shape != own["pos_embed"].shape:
        new_grid = model.patch_embed.grid_size[0]
        sd["pos_embed"] = resample_pos_embed(pe, new_grid, model.num_prefix_tokens)
        log("init-from: pos_embed %s -> %s (bicubic, class token kept)"
            % (tuple(pe.shape), tuple(sd["pos_embed"].shape)))
    for k in own:
        if sd[k].shape != own[k].shape:
            raise SystemExit("--init-from %s: shape mismatch for %s: %s vs %s"
                             % (folder, k, tuple(sd[k].shape), tuple(own[k].shape)))
    model.load_state_dict(sd, strict=True)
    return src_cfg


def param_groups(model, wd, lr, gate_lr_scale=1.0):
    """AdamW groups: weight decay on the matrices only; MSViT's gate, new and small, at gate_lr_scale x lr."""
    groups = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        decays = not (p.ndim <= 1 or name in ("pos_embed", "cls_token", "dist_token"))
        scale = gate_lr_scale if name.startswith("msvit.") else 1.0
        groups.setdefault((scale, decays), []).append(p)
    # the body's decayed group first: the progress line reads its lr
    order = sorted(groups, key=lambda k: (k[0] != 1.0, not k[1]))
    return [{"params": groups[k], "weight_decay": wd if k[1] else 0.0, "lr": lr * k[0]} for k in order]


# ----------------------------------------------------------------------------- io

def atomic_write_bytes(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_json(path, obj):
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode("utf-8"))


def write_model_folder(out, model, cfg, training_info):
    from safetensors.torch import save_file
    os.makedirs(out, exist_ok=True)
    sd = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    tmp = os.path.join(out, "model.safetensors.tmp")
    save_file(sd, tmp, metadata={"format": "pt"})
    os.chmod(tmp, 0o644)
    os.replace(tmp, os.path.join(out, "model.safetensors"))
    write_json(os.path.join(out, "config.json"), folder_config(cfg))
    write_json(os.path.join(out, "training.json"), training_info)


def torch_load(path):
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except TypeError:  # torch < 1.13 has no weights_only
        return torch.load(path, map_location="cpu")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ----------------------------------------------------------------------------- eval

@torch.no_grad()
def evaluate(model, xs_u8, ys, device, batch=500):
    model.eval()
    correct, loss_sum, splits = 0, 0.0, []
    n = xs_u8.shape[0]
    for i in range(0, n, batch):
        xb = normalize(xs_u8[i:i + batch], device)
        yb = ys[i:i + batch].to(device)
        if getattr(model, "msvit", None) is not None:
            logits = msvit_module.masked_forward(model, xb, sample=False)
            splits.append((model.msvit.probs >= model.msvit.threshold).float().mean(dim=1))
        else:
            logits = model(xb)
        loss_sum += F.cross_entropy(logits, yb, reduction="sum").item()
        correct += (logits.argmax(dim=1) == yb).sum().item()
    if splits:
        evaluate.split_fraction = torch.cat(splits).mean().item()
    return correct / n, loss_sum / n


# ----------------------------------------------------------------------------- main

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, choices=sorted(CONFIGS))
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--out", required=True, help="model folder to write (config.json, model.safetensors, "
                                                 "training.json); rewritten after every epoch")
    ap.add_argument("--work", required=True, help="scratch dir: checkpoint.pt, resized-data cache")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", action="store_true", help="continue from WORK/checkpoint.pt")
    ap.add_argument("--init-from", metavar="DIR", help="start from a model folder (pos_embed resampled)")
    ap.add_argument("--limit-train", type=int, default=0, help="use only the first N training images")
    ap.add_argument("--limit-test", type=int, default=0, help="evaluate on only the first N test images")
    ap.add_argument("--stop-after", type=int, default=0, metavar="E",
                    help="exit after finishing epoch E of the --epochs schedule (continue later with --resume)")
    ap.add_argument("--eval-only", action="store_true", help="evaluate the folder --out on the test set")
    ap.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:1, ...")
    ap.add_argument("--data", default=DATA_DIR, help="dir with the Fashion-MNIST idx .gz files")
    ap.add_argument("--lr", type=float, help="peak lr (default: preset, or %g with --init-from)" % FINETUNE_LR)
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--weight-decay", type=float)
    ap.add_argument("--warmup-epochs", type=float)
    ap.add_argument("--min-lr", type=float, default=1e-5)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--log-every", type=int, default=60, help="in-epoch progress line every N seconds")
    ap.add_argument("--checkpoint-every", type=float, default=600, metavar="S",
                    help="also checkpoint inside an epoch every S seconds, so --resume loses at most S of work (0: per epoch only)")
    ap.add_argument("--token-learner", metavar="S:L", help="insert TokenLearner v1.1 with S tokens before block L")
    ap.add_argument("--patch-merger", metavar="M:L", help="insert PatchMerger with M tokens after block L")
    ap.add_argument("--msvit", metavar="TARGET[:HIDDEN]",
                    help="insert an MSViT gate (hidden width HIDDEN, 64 by default) trained towards TARGET split regions")
    ap.add_argument("--shaping-weight", type=float, default=10.0,
                    help="weight of the MSViT batch-shaping loss (at 2, the task loss, which prefers the fine tokens the body"
                         " was trained on, drove a 0.25 target to about half the regions split, background included)")
    ap.add_argument("--gate-lr-scale", type=float, default=10.0,
                    help="the MSViT gate's lr as a multiple of the body's: the gate starts from scratch and must learn"
                         " to tell regions apart within a short fine-tune")
    return ap.parse_args(argv)


def pick_device(name):
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def main(argv=None):
    args = parse_args(argv)
    cfg = dict(CONFIGS[args.config])
    if args.batch_size:
        cfg["batch_size"] = args.batch_size
    if args.weight_decay is not None:
        cfg["weight_decay"] = args.weight_decay
    if args.init_from:
        cfg["lr"], cfg["warmup_epochs"] = FINETUNE_LR, FINETUNE_WARMUP
    if args.lr is not None:
        cfg["lr"] = args.lr
    if args.warmup_epochs is not None:
        cfg["warmup_epochs"] = args.warmup_epochs
    cfg["learned"] = learned_section(args)
    cfg["msvit"] = msvit_section(args)

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    device = pick_device(args.device)
    os.makedirs(args.work, exist_ok=True)

    data = load_data(args.data, cfg["img_size"], args.work)
    train_x = torch.from_numpy(np.ascontiguousarray(data["train_x"]))
    train_y = torch.from_numpy(data["train_y"].astype(np.int64))
    test_x = torch.from_numpy(np.ascontiguousarray(data["test_x"]))
    test_y = torch.from_numpy(data["test_y"].astype(np.int64))
    if args.limit_train:
        train_x, train_y = train_x[:args.limit_train], train_y[:args.limit_train]
    if args.limit_test:
        test_x, test_y = test_x[:args.limit_test], test_y[:args.limit_test]

    if args.eval_only:
        with open(os.path.join(args.out, "config.json")) as f:
            fcfg = json.load(f)
        model, _ = load_model(args.out, backend="fallback")
        model.to(device)
        t0 = time.time()
        acc, loss = evaluate(model, test_x, test_y, device)
        log("eval-only %s: test top-1 %.4f  loss %.4f  (%d images, %.1fs)"
            % (args.out, acc, loss, test_x.shape[0], time.time() - t0))
        print(json.dumps({"model": args.out, "test_top1": acc, "test_loss": loss, "n": int(test_x.shape[0])}))
        return 0

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    model = attach_msvit(attach_learned(make_model(cfg), cfg), cfg)
    if args.init_from:
        init_from(model, args.init_from)
    model.to(device)

    bs = cfg["batch_size"]
    n_train = train_x.shape[0]
    steps_per_epoch = n_train // bs  # drop the last partial batch
    total_steps = steps_per_epoch * args.epochs
    warmup_steps = int(round(cfg["warmup_epochs"] * steps_per_epoch))
    min_ratio = args.min_lr / cfg["lr"]

    def lr_lambda(step):
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        t = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    gate_scale = cfg["msvit"]["gate_lr_scale"] if cfg.get("msvit") else 1.0
    opt = torch.optim.AdamW(param_groups(model, cfg["weight_decay"], cfg["lr"], gate_scale), lr=cfg["lr"], betas=(0.9, 0.999))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
    gen = torch.Generator()
    gen.manual_seed(args.seed)

    ckpt_path = os.path.join(args.work, "checkpoint.pt")
    start_epoch = 0
    history, runs, prev_wall = [], [], 0.0
    if args.resume:
        if not os.path.exists(ckpt_path):
            sys.exit("--resume: no checkpoint at %s" % ckpt_path)
        ck = torch_load(ckpt_path)
        if ck["config_name"] != args.config or ck["epochs"] != args.epochs:
            sys.exit("--resume: checkpoint is for --config %s --epochs %d (the lr schedule depends on both)"
                     % (ck["config_name"], ck["epochs"]))
        if ck.get("limit_train", 0) != args.limit_train:
            sys.exit("--resume: checkpoint used --limit-train %d" % ck.get("limit_train", 0))
        if ck["cfg"].get("msvit") != cfg.get("msvit"):
            sys.exit("--resume: checkpoint has msvit %s, not %s" % (ck["cfg"].get("msvit"), cfg.get("msvit")))
        if ck["cfg"].get("learned") != cfg.get("learned"):
            sys.exit("--resume: checkpoint has learned token reducer %s, not %s" % (ck["cfg"].get("learned"), cfg.get("learned")))
        cfg = ck["cfg"]
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        gen.set_state(ck["rng"]["gen"])
        torch.set_rng_state(ck["rng"]["torch"])
        np.random.set_state(ck["rng"]["numpy"])
        random.setstate(ck["rng"]["python"])
        if device.type == "cuda" and ck["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state_all(ck["rng"]["cuda"])
        start_epoch = ck["epoch"]
        history, runs, prev_wall = ck["history"], ck["runs"], ck["wall_s"]
        partial = ck.get("partial")  # a checkpoint from inside an epoch: its order, and where it stopped
        log("resumed from %s at epoch %d/%d%s" % (ckpt_path, start_epoch, args.epochs,
                                                  ", step %d" % partial["step"] if partial else ""))

    run_info = {"command": " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv),
                "cwd": os.getcwd(), "start": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "start_epoch": start_epoch, "host_cpu": cpu_model(), "threads": args.threads,
                "device": str(device), "torch": torch.__version__}
    runs = runs + [run_info]
    nparams = sum(p.numel() for p in model.parameters())
    log("%s: img %d patch %d tokens %d dim %d depth %d heads %d mlp %.1f | %d params | train %d test %d | "
        "bs %d lr %g wd %g warmup %.2f ep | %d epochs x %d steps | device %s threads %d torch %s"
        % (args.config, cfg["img_size"], cfg["patch_size"], (cfg["img_size"] // cfg["patch_size"]) ** 2,
           cfg["embed_dim"], cfg["depth"], cfg["num_heads"], cfg["mlp_ratio"], nparams, n_train,
           test_x.shape[0], bs, cfg["lr"], cfg["weight_decay"], cfg["warmup_epochs"], args.epochs,
           steps_per_epoch, device, args.threads, torch.__version__))

    pad = 0 if args.no_augment else 2 * cfg["img_size"] // 28
    run_t0 = time.time()

    def training_info(final):
        return {
            "config": args.config, "seed": args.seed, "epochs": args.epochs,
            "epochs_done": len(history), "final": final,
            "weights": "last epoch (the folder is rewritten after every epoch; no best-epoch selection)",
            "command": runs[-1]["command"], "runs": runs,
            "hyperparameters": {
                "optimizer": "AdamW(betas=0.9,0.999), no wd on 1-d params / pos_embed / cls_token",
                "lr": cfg["lr"], "min_lr": args.min_lr, "weight_decay": cfg["weight_decay"],
                "batch_size": bs, "warmup_epochs": cfg["warmup_epochs"], "schedule": "linear warmup + cosine",
                "label_smoothing": args.label_smoothing,
                "augment": "none" if pad == 0 else "random crop (zero pad %d) + horizontal flip" % pad,
                "init_from": args.init_from, "limit_train": args.limit_train, "limit_test": args.limit_test,
                "init": "timm default (trunc_normal .02)" if not args.init_from else "from " + args.init_from,
            },
            "model": {k: cfg[k] for k in ("img_size", "patch_size", "embed_dim", "depth", "num_heads",
                                          "mlp_ratio")},
            "learned_token_reducer": cfg.get("learned"),
            "msvit": cfg.get("msvit"),
            "params": nparams,
            "preprocessing": "uint8 28x28%s -> x/255 -> (x-%.4f)/%.4f, float32" % (
                "" if cfg["img_size"] == 28 else " -> PIL bicubic %dx%d" % (cfg["img_size"], cfg["img_size"]),
                MEAN, STD),
            "history": history,
            "test_top1": history[-1]["test_top1"] if history else None,
            "best_test_top1": max(h["test_top1"] for h in history) if history else None,
            "total_wall_s": round(prev_wall + (time.time() - run_t0), 1),
            "torch": torch.__version__, "python": platform.python_version(), "cpu": cpu_model(),
            "threads": args.threads, "device": str(device),
        }

    def save_checkpoint(epoch_done, partial_state=None):
        ck = {"config_name": args.config, "epochs": args.epochs, "limit_train": args.limit_train, "cfg": cfg,
              "epoch": epoch_done, "model": model.state_dict(), "optimizer": opt.state_dict(),
              "scheduler": sched.state_dict(),
              "rng": {"gen": gen.get_state(), "torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                      "python": random.getstate(),
                      "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else None},
              "history": history, "runs": runs, "wall_s": round(prev_wall + (time.time() - run_t0), 1),
              "partial": partial_state}
        tmp = ckpt_path + ".tmp"
        torch.save(ck, tmp)
        os.replace(tmp, ckpt_path)

    if not args.resume:
        partial = None
    for epoch in range(start_epoch, args.epochs):
        model.train()
        ep_t0 = time.time()
        last_log = last_ckpt = ep_t0
        if partial is not None:
            # Mid-epoch: the same order, the generator as it was after the last step done.
            perm, first_step = partial["perm"], partial["step"]
            loss_sum, correct, seen = partial["loss_sum"], partial["correct"], partial["seen"]
            split_sum = partial.get("split_sum", 0.0)
            ep_t0 -= partial["train_s"]
            partial = None
        else:
            perm, first_step = torch.randperm(n_train, generator=gen), 0
            loss_sum, correct, seen, split_sum = 0.0, 0, 0, 0.0
        for step in range(first_step, steps_per_epoch):
            idx = perm[step * bs:(step + 1) * bs]
            xb = train_x[idx]
            if not args.no_augment:
                xb = augment(xb, pad, gen)
            x = normalize(xb, device)
            y = train_y[idx].to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=args.label_smoothing)
            if cfg.get("msvit"):
                probs = model.msvit.probs
                loss = loss + cfg["msvit"]["shaping_weight"] * msvit_module.batch_shaping_loss(probs, cfg["msvit"]["target"])
                split_sum += (probs.detach() >= 0.5).float().mean().item() * y.shape[0]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * y.shape[0]
            correct += (logits.detach().argmax(1) == y).sum().item()
            seen += y.shape[0]
            now = time.time()
            if now - last_log >= args.log_every:
                last_log = now
                el = now - ep_t0
                log("  epoch %d/%d step %d/%d loss %.4f acc %.4f lr %.2e | %.1f img/s, epoch ETA %.0fs%s"
                    % (epoch + 1, args.epochs, step + 1, steps_per_epoch, loss_sum / seen, correct / seen,
                       opt.param_groups[0]["lr"], seen / el, el / (step + 1) * (steps_per_epoch - step - 1),
                       " | split %.3f" % (split_sum / seen) if cfg.get("msvit") else ""))
            if args.checkpoint_every and now - last_ckpt >= args.checkpoint_every and step + 1 < steps_per_epoch:
                last_ckpt = now
                save_checkpoint(epoch, {"step": step + 1, "perm": perm, "loss_sum": loss_sum, "correct": correct,
                                        "seen": seen, "split_sum": split_sum, "train_s": now - ep_t0})
                log("  checkpoint at epoch %d step %d: %s" % (epoch + 1, step + 1, ckpt_path))
        train_s = time.time() - ep_t0
        acc, tloss = evaluate(model, test_x, test_y, device)
        ep_s = time.time() - ep_t0
        history.append({"epoch": epoch + 1, "train_loss": round(loss_sum / max(1, seen), 5),
                        "train_top1": round(correct / max(1, seen), 5), "test_top1": acc,
                        "test_loss": round(tloss, 5), "lr_end": opt.param_groups[0]["lr"],
                        "train_s": round(train_s, 1), "seconds": round(ep_s, 1),
                        **({"train_split_fraction": round(split_sum / max(1, seen), 4),
                            "test_split_fraction": round(evaluate.split_fraction, 4)} if cfg.get("msvit") else {})})
        log("epoch %d/%d  train loss %.4f acc %.4f | test top-1 %.4f loss %.4f | %.0fs (train %.0fs)"
            % (epoch + 1, args.epochs, loss_sum / max(1, seen), correct / max(1, seen), acc, tloss, ep_s,
               train_s))
        final = epoch + 1 == args.epochs
        info = training_info(final)
        save_checkpoint(epoch + 1)
        write_model_folder(args.out, model, cfg, info)
        log("wrote %s (epoch %d weights) and %s" % (args.out, epoch + 1, ckpt_path))
        if args.stop_after and epoch + 1 >= args.stop_after and not final:
            log("--stop-after %d: stopping; continue with --resume" % args.stop_after)
            return 0

    if start_epoch >= args.epochs:
        log("nothing to do: checkpoint already at epoch %d/%d" % (start_epoch, args.epochs))
    else:
        log("done: test top-1 %.4f after %d epochs, total wall %.0fs"
            % (history[-1]["test_top1"], args.epochs, prev_wall + time.time() - run_t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
