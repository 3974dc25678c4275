package io.tomestream.merge;

/**
 * One training-free way to remove tokens between attention and MLP: it looks at one image's tokens
 * through a {@link Signal} and plans where each token goes ({@link MergePlan}); the backend computes
 * the signal, applies the plan ({@link MergePlan#apply}) and switches on proportional attention.
 *
 * <p>Every reducer removes exactly {@link #cap} tokens in a block, so a {@link Schedule} is a budget
 * that means the same token counts, and nearly the same FLOPs, for each of them. The class token and
 * the distillation token are never removed or merged into other tokens.
 *
 * <p>Instances keep scratch buffers, so that planning allocates nothing once they have grown: use one
 * per thread (the CPU backend keeps one per image of a batch).
 */
public interface TokenReducer {

    /** What a reducer looks at, one row per token of the image. */
    enum Signal {
        /** The attention keys averaged over heads (ToMe's metric); rows of head-dim floats. */
        KEYS,
        /** The class token's attention probabilities over all tokens, averaged over heads; one float per token. */
        CLASS_ATTENTION,
        /** The tokens themselves, after the attention residual; rows of model-dim floats. */
        FEATURES
    }

    /**
     * The tokens a block really removes for a budget of {@code r}: at most half of the tokens that
     * may merge (ToMe's cap), the same for every reducer.
     */
    static int cap(int r, int tokens, boolean classToken, boolean distToken) {
        int protectedTokens = (classToken ? 1 : 0) + (distToken ? 1 : 0);
        return Math.max(0, Math.min(r, (tokens - protectedTokens) / 2));
    }

    String name();

    Signal signal();

    /**
     * Whether the reducer works on this model; the message says why not. Pruning ranks tokens by the
     * class token's attention, so it needs a class token.
     */
    default String unsupported(boolean classToken, boolean distToken) {
        return null;
    }

    /**
     * One image's tokens as a reducer sees them: {@code count} rows of {@code width} floats of the
     * {@link #signal()} from {@code offset}, each token's size (the patches it holds) from
     * {@code sizeOffset}, and whether a class token and a distillation token lead the rows.
     */
    record TokenRows(float[] signal, int offset, int width, float[] size, int sizeOffset, int count,
                     boolean classToken, boolean distToken) {
        /** The class and distillation tokens, which are never removed. */
        public int prefix() {
            return (classToken ? 1 : 0) + (distToken ? 1 : 0);
        }
    }

    /**
     * Plans the removal of {@code r} tokens (already {@link #cap capped}, at least 1) of one image:
     * {@code plan} ends with {@code tokens.count() − r} output tokens, the class token first and the
     * distillation token second.
     */
    void plan(TokenRows tokens, int r, MergePlan plan);

    /**
     * Multiply-adds ×2 that one plan costs beyond the forward pass, for {@code tokens} tokens, of which
     * {@code prefix} are class/distillation tokens, in a model {@code dim} wide with heads {@code headDim} wide.
     */
    double flops(int tokens, int prefix, int dim, int headDim);
}
