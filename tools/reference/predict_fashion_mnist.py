#!/usr/bin/env python3
"""PyTorch's top-1 on the Fashion-MNIST test set, for the Java engine's agreement test.

    python3 tools/reference/predict_fashion_mnist.py --model models/fmnist-vit-49 \
        --tome 0 --tome 4:-1 --out models/fmnist-vit-49/reference-predictions.json

Preprocessing is timm's eval transform as the Java engine computes it: the 28x28 'L' image, resized
with PIL bicubic when the model's input is larger, /255, then (x - mean) / std, in float32. ToMe runs
through the reference's own implementation (tomestream_ref.tome).
"""
import argparse
import gzip
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tomestream_ref.model import load_model  # noqa: E402
from tomestream_ref.runner import run_tome  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def preprocess(images, config):
    pcfg = config["pretrained_cfg"]
    size = int(pcfg["input_size"][1])
    if size != images.shape[1]:
        from PIL import Image
        images = np.stack([np.asarray(Image.fromarray(im, "L").resize((size, size), Image.BICUBIC)) for im in images])
    x = torch.from_numpy(images.copy()).float().div(255).unsqueeze(1)
    mean = torch.tensor(pcfg["mean"][:1], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(pcfg["std"][:1], dtype=torch.float32).view(1, -1, 1, 1)
    return x.sub(mean).div(std)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--tome", action="append", default=None,
                    help="ToMe spec (an MSViT model also takes split=K[+SPEC]); repeat for several (default: 0)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    images = read_idx(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz"))
    if args.limit:
        images, labels = images[:args.limit], labels[:args.limit]
    model, config = load_model(args.model)
    x = preprocess(images, config)

    cases = []
    for spec in args.tome or ["0"]:
        top1, tokens_in = [], []
        for i in range(0, len(x), args.batch):
            out = run_tome(model, x[i:i + args.batch], spec)
            top1.extend(out["logits"].argmax(dim=1).tolist())
            if "splits" in out:
                tokens_in.extend(t[0] for t in out["tokens"])
        acc = float(np.mean(np.array(top1) == labels))
        case = {"tome": spec, "r_per_layer": out["r_per_layer"], "tokens": out["tokens"], "accuracy": acc, "top1": top1}
        if "splits" in out:
            # MSViT: each image its own counts; the last batch's, with the mean over the test set
            case["tokens"] = out["tokens"][0]
            case["mean_tokens_in"] = round(float(np.mean(tokens_in)), 3)
        cases.append(case)
        print("tome %-6s top-1 %.4f on %d images" % (spec, acc, len(top1)), file=sys.stderr)
    with open(args.out, "w") as f:
        json.dump({"model": os.path.basename(os.path.normpath(args.model)), "dataset": "fashion-mnist test",
                   "torch": torch.__version__, "images": len(labels), "cases": cases}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
