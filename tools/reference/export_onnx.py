#!/usr/bin/env python3
"""Export a model folder to ONNX (plain forward, NO token merging) and check it with onnxruntime.

    python3 tools/reference/export_onnx.py --model DIR --out FILE.onnx [--opset 17] [--threads 2]

The graph has one input ``pixels`` (float32 [batch, C, H, W], already normalised with the config's
mean/std, exactly what classify.py feeds the model) and one output ``logits`` (float32
[batch, num_classes]); the batch axis is dynamic.  It is the plain timm forward: no ToMe.

Exporter: the classic TorchScript exporter (``dynamo=False`` where torch has that switch, i.e. torch
>= 2.x; torch 1.13 only has this exporter), with ``dynamic_axes`` and constant folding.  It needs
neither onnxscript nor network.  Attention is exported as plain MatMul/Softmax (timm's fused SDPA path
is switched off first), GELU as the exact erf form (Erf, or Gelu(approximate='none') at opset >= 20);
the script fails if it finds Tanh, a non-default-domain op, or a fused attention op.

Checks (needs ``onnx`` and ``onnxruntime``; ``--no-check`` skips them): onnx.checker, the op census,
then ORT (CPU EP) against torch on a random batch of 3 (prints max |diff|, fails above
``--atol``), and batches of 1 and 5 through the dynamic axis.
"""
import argparse
import collections
import inspect
import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from tomestream_ref import load_model  # noqa: E402

FUSED_ATTENTION_OPS = {"Attention", "MultiHeadAttention", "GroupQueryAttention", "PackedAttention",
                       "PackedMultiHeadAttention", "SkipLayerNormalization", "FastGelu", "BiasGelu"}


def input_shape(config):
    pcfg = config.get("pretrained_cfg", {})
    if "input_size" in pcfg:
        return [int(v) for v in pcfg["input_size"]]
    ma = config.get("model_args", {})
    s = ma["img_size"]
    hw = [int(s), int(s)] if not isinstance(s, (list, tuple)) else [int(v) for v in s]
    return [int(ma.get("in_chans", 3))] + hw


def plain_forward(model):
    """Make sure the model runs its plain (math-path) attention: timm's fused SDPA switched off."""
    n = 0
    for m in model.modules():
        if hasattr(m, "fused_attn"):
            m.fused_attn = False
            n += 1
    for blk in getattr(model, "blocks", []):
        if hasattr(blk, "_tome_state"):
            blk._tome_state = None
    return n


def export(model, shape, out, opset):
    """torch.onnx.export with the TorchScript exporter; returns the warnings it raised."""
    x = torch.randn([2] + shape, generator=torch.Generator().manual_seed(0))   # batch 2: nothing specialises on 1
    kwargs = dict(input_names=["pixels"], output_names=["logits"], opset_version=opset,
                  dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}},
                  do_constant_folding=True, export_params=True)
    params = inspect.signature(torch.onnx.export).parameters
    if "dynamo" in params:          # torch >= 2.x: dynamo=True (needs onnxscript) became the default in 2.9
        kwargs["dynamo"] = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with torch.no_grad():
            torch.onnx.export(model, (x,), out, **kwargs)
    return kwargs, caught


def census(path):
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = collections.Counter()
    domains = set()
    gelu_attrs = []
    for node in m.graph.node:
        ops[node.op_type] += 1
        if node.domain not in ("", "ai.onnx"):
            domains.add(node.domain)
        if node.op_type == "Gelu":
            gelu_attrs.append({a.name: onnx.helper.get_attribute_value(a) for a in node.attribute})
    opset = max((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), default=None)
    problems = []
    if domains:
        problems.append("non-default op domains %s" % sorted(domains))
    fused = sorted(set(ops) & FUSED_ATTENTION_OPS)
    if fused:
        problems.append("fused ops %s" % fused)
    if ops.get("Tanh"):
        problems.append("Tanh in graph (tanh-approximate GELU?)")
    approx = [a.get("approximate", b"none") for a in gelu_attrs]
    if any(v not in (b"none", "none") for v in approx):
        problems.append("Gelu with approximate=%s" % approx)
    if not ops.get("Erf") and not gelu_attrs:
        problems.append("no Erf / Gelu op found")
    if not ops.get("MatMul") or not ops.get("Softmax"):
        problems.append("attention is not MatMul + Softmax")
    inputs = [(i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]) for i in m.graph.input]
    outputs = [(o.name, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]) for o in m.graph.output]
    return opset, ops, inputs, outputs, problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model folder (config.json + model.safetensors)")
    ap.add_argument("--out", required=True, help="output .onnx file")
    ap.add_argument("--opset", type=int, default=17, help="ONNX opset (>= 14; default 17)")
    ap.add_argument("--backend", default="auto", choices=["auto", "timm", "fallback"])
    ap.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads for the check")
    ap.add_argument("--atol", type=float, default=1e-4, help="max |ORT - torch| logit difference allowed")
    ap.add_argument("--no-check", action="store_true", help="export only, skip the onnx / onnxruntime checks")
    args = ap.parse_args(argv)
    if args.opset < 14:
        ap.error("--opset must be >= 14")

    t0 = time.time()
    try:
        model, config = load_model(args.model, args.backend)
    except (ValueError, OSError, NotImplementedError) as e:
        print("export_onnx.py: error: %s" % e, file=sys.stderr)
        return 2
    n_fused = plain_forward(model)
    shape = input_shape(config)
    if os.path.dirname(os.path.abspath(args.out)):
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    kwargs, caught = export(model, shape, args.out, args.opset)
    size = os.path.getsize(args.out)
    print("exported %s -> %s: %d bytes (%.1f MB), torch %s, TorchScript exporter%s, opset %d, backend %s%s, %.1f s"
          % (args.model, args.out, size, size / 1e6, torch.__version__,
             " (dynamo=False)" if "dynamo" in kwargs else "", args.opset, model._tomestream_backend,
             ", fused_attn off in %d modules" % n_fused if n_fused else "", time.time() - t0))
    seen = collections.Counter("%s (%s:%d): %s" % (w.category.__name__, os.path.basename(w.filename), w.lineno,
                                                    str(w.message).splitlines()[0][:160]) for w in caught)
    for msg, n in seen.items():
        print("  warning%s: %s" % (" (x%d)" % n if n > 1 else "", msg))
    if args.no_check:
        return 0

    opset, ops, inputs, outputs, problems = census(args.out)
    print("  graph: opset %d, inputs %s, outputs %s" % (opset, inputs, outputs))
    print("  ops: %s" % ", ".join("%s %d" % kv for kv in sorted(ops.items())))

    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(args.out, so, providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(1234)
    ok = not problems
    for b in (3, 1, 5):
        x = torch.randn([b] + shape, generator=gen)
        with torch.no_grad():
            want = model(x).numpy()
        got = sess.run(["logits"], {"pixels": x.numpy()})[0]
        if got.shape != want.shape:
            print("  batch %d: ORT logits shape %s != torch %s" % (b, got.shape, want.shape))
            ok = False
            continue
        diff = float(np.abs(got - want).max())
        good = diff <= args.atol and bool(np.isfinite(got).all())
        agree = int((got.argmax(1) == want.argmax(1)).sum())
        print("  batch %d: ORT vs torch max|diff| %.3g (max|logit| %.3g), top-1 agree %d/%d  %s"
              % (b, diff, float(np.abs(want).max()), agree, b, "ok" if good else "FAIL"))
        ok = ok and good
    for p in problems:
        print("  problem: %s" % p)
    print("check: %s (ORT %s, CPUExecutionProvider, %d threads)" % ("PASS" if ok else "FAIL", ort.__version__,
                                                                     args.threads))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
