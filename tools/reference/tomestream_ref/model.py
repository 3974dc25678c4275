"""Model folder (timm Hugging Face style: config.json + model.safetensors) -> torch model.

Uses timm's VisionTransformer when ``import timm`` works, else the plain-torch fallback in
:mod:`tomestream_ref.vit` (same key names, same numerics).  Weights of any stored dtype
(F32/F16/BF16) are widened to float32 before loading; all compute is float32.
"""
import json
import os
import re

import torch

from . import vit as _vit

_TIMM = None
_TIMM_ERR = None


def timm_available():
    """Import timm once; any failure (e.g. a torchvision that does not load) means 'no timm'."""
    global _TIMM, _TIMM_ERR
    if _TIMM is None and _TIMM_ERR is None:
        try:
            import timm  # noqa: F401
            _TIMM = timm
        except Exception as e:  # noqa: BLE001 - any import-time failure counts
            _TIMM_ERR = e
    return _TIMM is not None


# Registry defaults of the timm entry points the fallback knows (kwargs override them).
_ARCH_DEFAULTS = {
    "vit_tiny_patch16_224": dict(patch_size=16, embed_dim=192, depth=12, num_heads=3),
    "vit_tiny_patch16_384": dict(patch_size=16, embed_dim=192, depth=12, num_heads=3),
    "vit_small_patch16_224": dict(patch_size=16, embed_dim=384, depth=12, num_heads=6),
    "vit_small_patch16_384": dict(patch_size=16, embed_dim=384, depth=12, num_heads=6),
    "vit_small_patch32_224": dict(patch_size=32, embed_dim=384, depth=12, num_heads=6),
    "vit_small_patch32_384": dict(patch_size=32, embed_dim=384, depth=12, num_heads=6),
    "vit_base_patch16_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12),
    "vit_base_patch16_384": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12),
    "vit_base_patch32_224": dict(patch_size=32, embed_dim=768, depth=12, num_heads=12),
    "vit_base_patch32_384": dict(patch_size=32, embed_dim=768, depth=12, num_heads=12),
    "vit_large_patch16_224": dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16),
    "vit_large_patch16_384": dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16),
    "deit_tiny_patch16_224": dict(patch_size=16, embed_dim=192, depth=12, num_heads=3),
    "deit_small_patch16_224": dict(patch_size=16, embed_dim=384, depth=12, num_heads=6),
    "deit_base_patch16_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12),
    "deit_base_patch16_384": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12),
    "deit_tiny_distilled_patch16_224": dict(patch_size=16, embed_dim=192, depth=12, num_heads=3),
    "deit_small_distilled_patch16_224": dict(patch_size=16, embed_dim=384, depth=12, num_heads=6),
    "deit_base_distilled_patch16_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12),
    "deit_base_distilled_patch16_384": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12),
}

_FALLBACK_ARGS = ("img_size", "patch_size", "in_chans", "embed_dim", "depth", "num_heads", "mlp_ratio",
                  "qkv_bias", "class_token", "fc_norm")
# Accepted only at timm's default value (the fallback does not implement anything else).
_DEFAULT_ONLY = {
    "qk_norm": False, "proj_bias": True, "init_values": None, "pos_embed": "learn", "no_embed_class": False,
    "reg_tokens": 0, "pre_norm": False, "final_norm": True, "pool_include_prefix": False,
    "dynamic_img_size": False, "dynamic_img_pad": False, "scale_attn_norm": False, "scale_mlp_norm": False,
}
# Irrelevant in eval mode.
_IGNORED = ("drop_rate", "pos_drop_rate", "patch_drop_rate", "proj_drop_rate", "attn_drop_rate",
            "drop_path_rate", "weight_init", "fix_init")


def load_config(folder):
    with open(os.path.join(folder, "config.json")) as f:
        return json.load(f)


def load_state_dict(folder):
    """model.safetensors -> {name: float32 tensor} (F16 / BF16 widened exactly)."""
    from safetensors.torch import load_file
    sd = load_file(os.path.join(folder, "model.safetensors"))
    return {k: v.float().contiguous() for k, v in sd.items()}


def resolve_args(config):
    """-> (architecture, num_classes, global_pool, other model kwargs)."""
    arch = config["architecture"]
    model_args = dict(config.get("model_args", {}))
    pcfg = config.get("pretrained_cfg", {})
    num_classes = config.get("num_classes", pcfg.get("num_classes", model_args.get("num_classes")))
    model_args.pop("num_classes", None)
    if num_classes is None:
        raise ValueError("config has no num_classes")
    gp_top = config.get("global_pool")
    gp_args = model_args.pop("global_pool", None)
    if gp_top is not None and gp_args is not None and gp_top != gp_args:
        raise ValueError("config global_pool %r disagrees with model_args.global_pool %r" % (gp_top, gp_args))
    global_pool = gp_args if gp_args is not None else (gp_top if gp_top is not None else "token")
    return arch, int(num_classes), global_pool, model_args


def _default_img_size(arch, pcfg):
    m = re.search(r"_(\d+)$", arch)
    if m:
        return int(m.group(1))
    if "input_size" in pcfg:
        return tuple(pcfg["input_size"][-2:])
    return 224


def build_fallback(config):
    arch, num_classes, global_pool, model_args = resolve_args(config)
    if arch not in _ARCH_DEFAULTS:
        raise NotImplementedError("fallback does not know architecture %r" % arch)
    kw = dict(_ARCH_DEFAULTS[arch])
    kw["img_size"] = _default_img_size(arch, config.get("pretrained_cfg", {}))
    for k, v in model_args.items():
        if k in _FALLBACK_ARGS:
            kw[k] = v
        elif k in _DEFAULT_ONLY:
            if v != _DEFAULT_ONLY[k]:
                raise NotImplementedError("fallback does not support %s=%r" % (k, v))
        elif k in _IGNORED:
            pass
        else:
            raise NotImplementedError("fallback does not support model arg %r" % k)
    if isinstance(kw["img_size"], list):
        kw["img_size"] = tuple(kw["img_size"])
    distilled = "distilled" in arch
    return _vit.VisionTransformer(num_classes=num_classes, global_pool=global_pool, distilled=distilled, **kw)


def build_timm(config):
    assert timm_available()
    arch, num_classes, global_pool, model_args = resolve_args(config)
    return _TIMM.create_model(arch, pretrained=False, num_classes=num_classes, global_pool=global_pool,
                              **model_args)


def build_model(config, backend="auto"):
    """backend: 'auto' (timm if importable), 'timm' or 'fallback'.  Returns an eval-mode model."""
    if backend == "auto":
        backend = "timm" if timm_available() else "fallback"
    if backend == "timm":
        if not timm_available():
            raise RuntimeError("timm not importable: %r" % (_TIMM_ERR,))
        model = build_timm(config)
    elif backend == "fallback":
        model = build_fallback(config)
    else:
        raise ValueError(backend)
    model._tomestream_backend = backend
    return model.eval()


def load_model(folder, backend="auto"):
    """Folder -> (eval model with float32 weights, config). A folder with a learned token reducer
    (``token_learner`` or ``patch_merger`` in config.json) loads into the fallback, which runs it."""
    config = load_config(folder)
    from . import learned as _learned
    from . import msvit as _msvit
    learned = config.get("token_learner") is not None or config.get("patch_merger") is not None
    if learned and config.get("msvit") is not None:
        raise ValueError("config.json has msvit and a learned token reducer; a model has at most one")
    if learned or config.get("msvit") is not None:
        model = build_model(config, "fallback")
        model.attach((_learned if learned else _msvit).from_config(config, model.embed_dim))
        model.load_state_dict(load_state_dict(folder), strict=True)
        return model.eval(), config
    model = build_model(config, backend)
    model.load_state_dict(load_state_dict(folder), strict=True)
    return model.eval(), config
