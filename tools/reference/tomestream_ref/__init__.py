"""tomestream PyTorch reference: timm-layout ViT / DeiT with ToMe token merging.

This package is the numerical reference the Java engine is tested against.
It uses timm's real VisionTransformer when ``import timm`` works and an
equivalent plain-torch implementation (same layout, same key names) otherwise.
"""
from .tome import (parse_r, bipartite_soft_matching, merge_wavg, ToMeState,
                   tome_block_forward)
from .model import load_config, load_state_dict, build_model, load_model, timm_available
from .runner import run_tome, load_image

__all__ = [
    "parse_r", "bipartite_soft_matching", "merge_wavg", "ToMeState", "tome_block_forward",
    "load_config", "load_state_dict", "build_model", "load_model", "timm_available",
    "run_tome", "load_image",
]
