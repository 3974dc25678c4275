#!/usr/bin/env python3
"""Reference classification with ToMe, one JSON line per image (for agreement checks).

    python3 tools/reference/classify.py --model DIR --tome SPEC IMAGE.png [IMAGE.png ...]

Images must already be at the model's input size (no resize / crop yet): PNG -> RGB (or L when
in_chans == 1) -> x/255 -> (x - mean) / std with the config's pretrained_cfg mean/std.
Each line: {"image", "tome", "r_per_layer", "logits", "top1", "label", "tokens", "backend"}
(--trace adds "merges" and "sources" in the fixture layout).
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

from tomestream_ref import load_image, load_model, run_tome  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model folder (config.json + model.safetensors)")
    ap.add_argument("--tome", default="0", help='ToMe schedule: "R", "R:INFLECT" or "R1,R2,..." ("0" = off)')
    ap.add_argument("--backend", default="auto", choices=["auto", "timm", "fallback"])
    ap.add_argument("--trace", action="store_true", help="also print merges and sources")
    ap.add_argument("images", nargs="+")
    args = ap.parse_args(argv)

    try:
        model, config = load_model(args.model, args.backend)
        from tomestream_ref import parse_r
        parse_r(args.tome, len(model.blocks))
    except (ValueError, OSError, NotImplementedError) as e:
        print("classify.py: error: %s" % e, file=sys.stderr)
        return 2
    labels = config.get("label_names") or config.get("pretrained_cfg", {}).get("label_names")
    for path in args.images:
        try:
            x = load_image(path, config).unsqueeze(0)
        except (ValueError, OSError) as e:
            print("classify.py: error: %s" % e, file=sys.stderr)
            return 2
        out = run_tome(model, x, args.tome, record=args.trace)
        logits = out["logits"][0]
        top1 = int(torch.argmax(logits))
        line = {
            "image": path,
            "tome": args.tome,
            "r_per_layer": out["r_per_layer"],
            "logits": logits.tolist(),
            "top1": top1,
            "label": labels[top1] if labels and top1 < len(labels) else None,
            "tokens": out["tokens"],
            "backend": model._tomestream_backend,
        }
        if args.trace:
            line["merges"] = [layer[0] for layer in out["merges"]]
            line["sources"] = out["sources"][0]
        print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
