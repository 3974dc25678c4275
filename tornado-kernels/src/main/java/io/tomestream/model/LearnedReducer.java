package io.tomestream.model;

import java.util.Locale;
import java.util.Map;

/**
 * A token reducer the model learned, and so part of the model: config.json's {@code token_learner}
 * ({@code {"tokens": S, "before_block": L, "hidden": 64}}) or {@code patch_merger}
 * ({@code {"tokens": M, "after_block": L}}) section. It acts on the patch tokens only; the class and
 * distillation tokens pass through.
 *
 * @param tokens the tokens it leaves, besides the class and distillation tokens
 * @param block  TokenLearner: the block it runs before; PatchMerger: the block it runs after (0-based)
 * @param hidden TokenLearner's hidden width (64 in the reference); 0 for PatchMerger
 */
public record LearnedReducer(Kind kind, int tokens, int block, int hidden) {

    public enum Kind {
        /** TokenLearner v1.1 (Ryoo et al.): A = softmax over patches of MLP(LayerNorm(X))ᵀ; the tokens are A·X. */
        TOKEN_LEARNER,
        /** PatchMerger (Renggli et al.): A = softmax over patches of Q·LayerNorm(X)ᵀ/√C; the tokens are A·LayerNorm(X). */
        PATCH_MERGER;

        /** Its section in config.json, its tensors' prefix, and the name each Classification's reducer field carries. */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** The block after which it runs; -1 when it runs before the first block. */
    public int afterBlock() {
        return kind == Kind.TOKEN_LEARNER ? block - 1 : block;
    }

    /** The first block that sees its tokens: a budget may remove tokens only in the blocks before it. */
    public int firstBlockAfter() {
        return afterBlock() + 1;
    }

    /**
     * Refuses a budget that removes tokens in a block that sees the learned tokens: merging or pruning
     * a handful of learned tokens again makes no sense.
     */
    public void checkBudget(int[] rPerLayer) {
        String where = kind == Kind.TOKEN_LEARNER ? "runs before block " + block : "runs after block " + block;
        for (int l = firstBlockAfter(); l < rPerLayer.length; l++) {
            if (rPerLayer[l] <= 0) continue;
            int[] example = rPerLayer.clone();
            for (int i = firstBlockAfter(); i < example.length; i++) example[i] = 0;
            throw new IllegalArgumentException("the model's " + kind.label() + " " + where + ", so a budget may remove tokens "
                    + (firstBlockAfter() == 0 ? "in no block" : "only in blocks 0-" + (firstBlockAfter() - 1))
                    + "; this one removes " + rPerLayer[l] + " in block " + l
                    + (firstBlockAfter() == 0 ? "" : " (give one value per block, e.g. "
                    + String.join(",", java.util.Arrays.stream(example).mapToObj(Integer::toString).toList()) + ")"));
        }
    }

    /** The section of a config.json, or null when there is none (a plain ViT). */
    static LearnedReducer parse(Map<?, ?> root, int depth) throws ModelException {
        Object tl = root.get("token_learner"), pm = root.get("patch_merger");
        if (tl != null && pm != null) throw new ModelException("config.json has both token_learner and patch_merger; a model has at most one");
        if (tl == null && pm == null) return null;
        Kind kind = tl != null ? Kind.TOKEN_LEARNER : Kind.PATCH_MERGER;
        if (!((tl != null ? tl : pm) instanceof Map<?, ?> section)) throw new ModelException("config.json " + kind.label() + " must be an object");
        int tokens = positive(section, kind, "tokens");
        int block = kind == Kind.TOKEN_LEARNER ? index(section, kind, "before_block") : index(section, kind, "after_block");
        if (block >= depth) {
            throw new ModelException("config.json " + kind.label() + "." + (kind == Kind.TOKEN_LEARNER ? "before_block" : "after_block")
                    + " is " + block + ", but the model has blocks 0.." + (depth - 1));
        }
        int hidden = kind == Kind.TOKEN_LEARNER ? (section.containsKey("hidden") ? positive(section, kind, "hidden") : 64) : 0;
        return new LearnedReducer(kind, tokens, block, hidden);
    }

    private static int positive(Map<?, ?> section, Kind kind, String key) throws ModelException {
        int v = index(section, kind, key);
        if (v < 1) throw new ModelException("config.json " + kind.label() + "." + key + " must be at least 1, got " + v);
        return v;
    }

    private static int index(Map<?, ?> section, Kind kind, String key) throws ModelException {
        if (!(section.get(key) instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue()) || n.intValue() < 0) {
            throw new ModelException("config.json " + kind.label() + "." + key + " must be a whole number of 0 or more, got " + section.get(key));
        }
        return n.intValue();
    }
}
