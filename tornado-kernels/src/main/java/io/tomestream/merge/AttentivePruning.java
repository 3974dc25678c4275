package io.tomestream.merge;

/**
 * The {@code prune} {@link TokenReducer}: EViT's attentive token reorganisation (Liang et al., ICLR 2022),
 * without training. The tokens the class token attends to most (its attention row, averaged over heads)
 * are kept, and the rest are fused into one extra token, their average weighted by that attention.
 * To remove r tokens, r + 1 tokens are fused. The class and distillation tokens are always kept.
 *
 * <p>Output order: the class (and distillation) token, the kept tokens in their input order, then the
 * fused token. Ties in attention keep the lower position. EViT's fused token is the attention-weighted
 * <em>sum</em>, whose scale its fine-tuning learns; a model that wasn't trained for it needs the
 * weighted <em>mean</em>, which keeps the token at the scale of the others.
 */
public final class AttentivePruning implements TokenReducer {
    private int[] order = new int[0], scratch = new int[0];
    private float[] score = new float[0];
    private boolean[] keep = new boolean[0];

    @Override
    public String name() {
        return "prune";
    }

    @Override
    public Signal signal() {
        return Signal.CLASS_ATTENTION;
    }

    @Override
    public String unsupported(boolean classToken, boolean distToken) {
        return classToken ? null : "the prune reducer ranks tokens by the class token's attention, and this model has no class token";
    }

    @Override
    public void plan(TokenReducer.TokenRows rows, int r, MergePlan plan) {
        float[] signal = rows.signal(), size = rows.size();
        int offset = rows.offset(), width = rows.width(), sizeOffset = rows.sizeOffset(), tokens = rows.count();
        boolean classToken = rows.classToken(), distToken = rows.distToken();
        int prefix = (classToken ? 1 : 0) + (distToken ? 1 : 0);
        int n = tokens - prefix, fuse = r + 1, kept = n - fuse;
        if (r < 1 || kept < 0) throw new IllegalArgumentException("can't prune " + r + " of " + n + " tokens");
        ensure(n);
        for (int i = 0; i < n; i++) {
            order[i] = i;
            score[i] = signal[offset + (prefix + i) * width];
            keep[i] = false;
        }
        IndexSort.descending(order, n, score, scratch);
        for (int i = 0; i < kept; i++) keep[order[i]] = true;

        int next = 0;
        for (int p = 0; p < prefix; p++) {
            plan.target[p] = next++;
            plan.weight[p] = 1f;
        }
        for (int i = 0; i < n; i++) if (keep[i]) plan.target[prefix + i] = next++;
        int fused = next++;
        int first = -1, merged = 0;
        for (int i = 0; i < n; i++) {
            int p = prefix + i;
            if (keep[i]) {
                plan.weight[p] = 1f; // alone in its slot: copied exactly
                continue;
            }
            plan.target[p] = fused;
            // a probability that underflowed still counts a little, so the fused token is never 0/0
            plan.weight[p] = Math.max(score[i], Float.MIN_NORMAL);
            if (first < 0) {
                first = p;
            } else {
                plan.src[merged] = p;
                plan.dst[merged] = first;
                merged++;
            }
        }
        plan.merged = merged;
        plan.outTokens = next;
        plan.weighted = true;
    }

    /** The class token's attention row, computed again for the ranking. */
    @Override
    public double flops(int tokens, int prefix, int dim, int headDim) {
        return 2.0 * tokens * dim;
    }

    private void ensure(int n) {
        if (order.length < n) {
            order = new int[n];
            scratch = new int[n];
            score = new float[n];
            keep = new boolean[n];
        }
    }
}
