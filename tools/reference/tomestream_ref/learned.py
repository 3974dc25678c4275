"""The learned token reducers, as their reference code defines them, on the patch tokens only.

* TokenLearner v1.1 (google-research/scenic, ``TokenLearnerModuleV11``): LayerNorm, Dense(C->hidden),
  exact-erf GELU, Dense(hidden->S) give [N, S]; transposed to [S, N] and softmaxed over N, the output
  is A @ X (X itself, not its LayerNorm). Inserted before block ``before_block`` (0-based).
* PatchMerger (lucidrains/vit-pytorch ``vit_with_patch_merger.py``): Xn = LayerNorm(X);
  A = softmax over N of (Q @ Xn^T * C^-0.5) with learned queries Q [M, C]; the output is A @ Xn.
  Inserted after block ``after_block`` (0-based).

The class token (and the distillation token) pass through unchanged. Every LayerNorm has eps 1e-6.
Tensor names (pinned; the Java engine and an independent checker load them):
``token_learner.norm.{weight,bias}``, ``token_learner.mlp.fc1.{weight,bias}``, ``token_learner.mlp.fc2.{weight,bias}``;
``patch_merger.norm.{weight,bias}``, ``patch_merger.queries``.
"""
import torch
import torch.nn as nn


class _Mlp(nn.Module):
    def __init__(self, dim, hidden, out):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, out)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class TokenLearner(nn.Module):
    kind = "token_learner"

    def __init__(self, dim, tokens, before_block, hidden=64):
        super().__init__()
        self.tokens, self.before_block, self.hidden = int(tokens), int(before_block), int(hidden)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = _Mlp(dim, self.hidden, self.tokens)

    def forward(self, x):
        """x [B, N, C] patch tokens -> ([B, S, C] learned tokens, [B, S, N] weights)."""
        a = self.mlp(self.norm(x)).transpose(1, 2).softmax(dim=-1)
        return a @ x, a


class PatchMerger(nn.Module):
    kind = "patch_merger"

    def __init__(self, dim, tokens, after_block):
        super().__init__()
        self.tokens, self.after_block = int(tokens), int(after_block)
        self.scale = dim ** -0.5
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.queries = nn.Parameter(torch.zeros(self.tokens, dim))

    def forward(self, x):
        """x [B, N, C] patch tokens -> ([B, M, C] merged tokens, [B, M, N] weights)."""
        xn = self.norm(x)
        a = (self.queries @ xn.transpose(-2, -1) * self.scale).softmax(dim=-1)
        return a @ xn, a


def from_config(config, dim):
    """The module a config.json names ({"token_learner": {...}} or {"patch_merger": {...}}), or None."""
    tl, pm = config.get("token_learner"), config.get("patch_merger")
    if tl is not None and pm is not None:
        raise ValueError("config.json has both token_learner and patch_merger; a model has at most one")
    if tl is not None:
        return TokenLearner(dim, tl["tokens"], tl["before_block"], tl.get("hidden", 64))
    if pm is not None:
        return PatchMerger(dim, pm["tokens"], pm["after_block"])
    return None


def apply(module, x, prefix, state=None):
    """Runs the module on x's patch tokens; the prefix tokens pass through. With a ToMe ``state``,
    sizes start again at 1, each input token now belongs to the learned token that weighs its
    current token most, and the token count after the previous block becomes the module's output
    count (the tokens the next block sees); ``state.module_tokens`` keeps the count it was given."""
    if state is not None and state.assign is None:
        state.start(x)  # the module runs before block 0: the input tokens are x's
    out, a = module(x[:, prefix:])
    y = torch.cat([x[:, :prefix], out], dim=1)
    if state is not None:
        holder = a.argmax(dim=1) + prefix                      # [B, N]: patch token -> its learned token
        pos = state.assign
        patch = (pos - prefix).clamp(min=0)
        state.assign = torch.where(pos < prefix, pos, holder.gather(1, patch))
        state.size = None
        state.module_tokens = x.shape[1]
        state.tokens[-1] = y.shape[1]
    return y
