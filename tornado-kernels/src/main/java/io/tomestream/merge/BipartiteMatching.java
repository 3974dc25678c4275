package io.tomestream.merge;

import jdk.incubator.vector.FloatVector;
import io.tomestream.simd.Vectors;
import jdk.incubator.vector.VectorSpecies;

/**
 * ToMe's bipartite soft matching for one image, the {@code tome} {@link TokenReducer}. Tokens
 * alternate into sets A (even positions) and B (odd positions); each A token finds its most similar
 * B token by cosine of the keys, and the r A tokens with the strongest edges merge into their B
 * partners. One instance per thread: it keeps its scratch buffers so that matching allocates nothing.
 */
public final class BipartiteMatching implements TokenReducer {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private float[] unit = new float[0];
    private float[] nodeMax = new float[0];
    private int[] nodeIdx = new int[0], order = new int[0], sortScratch = new int[0];
    private boolean[] isSrc = new boolean[0];

    /** r after ToMe's cap: at most half of the tokens that may merge. */
    public static int cap(int r, int tokens, boolean classToken, boolean distToken) {
        return TokenReducer.cap(r, tokens, classToken, distToken);
    }

    @Override
    public String name() {
        return "tome";
    }

    @Override
    public Signal signal() {
        return Signal.KEYS;
    }

    /** The A·Bᵀ cosine similarities. */
    @Override
    public double flops(int tokens, int prefix, int dim, int headDim) {
        return 2.0 * ((tokens + 1) / 2) * (tokens / 2) * headDim;
    }

    /**
     * Plans the merge of {@code r} tokens (already capped) of one image, whose rows are the keys
     * averaged over heads.
     */
    @Override
    public void plan(TokenReducer.TokenRows rows, int r, MergePlan plan) {
        float[] metric = rows.signal();
        int offset = rows.offset(), tokens = rows.count(), dim = rows.width();
        boolean classToken = rows.classToken(), distToken = rows.distToken();
        int nA = (tokens + 1) / 2, nB = tokens / 2;
        ensure(tokens, dim);
        normalize(metric, offset, tokens, dim);

        for (int a = 0; a < nA; a++) {
            float best = Float.NEGATIVE_INFINITY;
            int bestIdx = 0;
            if (!(classToken && a == 0)) { // the class token is never a source
                int rowA = 2 * a * dim;
                for (int b = distToken ? 1 : 0; b < nB; b++) { // the distillation token is never a destination
                    float s = dot(unit, rowA, (2 * b + 1) * dim, dim);
                    if (s > best) { // strict: ties keep the lowest B index
                        best = s;
                        bestIdx = b;
                    }
                }
            }
            nodeMax[a] = best;
            nodeIdx[a] = bestIdx;
            order[a] = a;
        }
        IndexSort.descending(order, nA, nodeMax, sortScratch);

        java.util.Arrays.fill(isSrc, 0, nA, false);
        plan.weighted = false;
        plan.merged = r;
        for (int i = 0; i < r; i++) isSrc[order[i]] = true;

        // Unmerged A tokens keep their order, then all of B; with a distillation token it moves
        // right after the class token, as ToMe's output order has it.
        int next = 0;
        if (distToken) {
            plan.target[0] = next++; // class token (A0) is never merged
            plan.target[1] = next++; // distillation token (B0)
        }
        for (int a = distToken ? 1 : 0; a < nA; a++) {
            if (!isSrc[a]) plan.target[2 * a] = next++;
        }
        for (int b = distToken ? 1 : 0; b < nB; b++) plan.target[2 * b + 1] = next++;
        for (int i = 0; i < r; i++) {
            int a = order[i];
            int src = 2 * a, dst = 2 * nodeIdx[a] + 1;
            plan.target[src] = plan.target[dst];
            plan.src[i] = src;
            plan.dst[i] = dst;
        }
        plan.outTokens = next;
    }

    private void ensure(int tokens, int dim) {
        if (unit.length < tokens * dim) unit = new float[tokens * dim];
        if (nodeMax.length < tokens) {
            nodeMax = new float[tokens];
            nodeIdx = new int[tokens];
            order = new int[tokens];
            sortScratch = new int[tokens];
            isSrc = new boolean[tokens];
        }
    }

    private void normalize(float[] metric, int offset, int tokens, int dim) {
        for (int t = 0; t < tokens; t++) {
            int from = offset + t * dim, to = t * dim;
            float norm = (float) Math.sqrt(dot(metric, from, metric, from, dim));
            for (int d = 0; d < dim; d++) unit[to + d] = metric[from + d] / norm;
        }
    }

    private float dot(float[] a, int i, int j, int n) {
        return dot(a, i, a, j, n);
    }

    /** a[i..i+n) · b[j..j+n), in a fixed order. */
    static float dot(float[] a, int i, float[] b, int j, int n) {
        int d = 0;
        float sum = 0;
        if (n >= S.length()) {
            FloatVector acc = FloatVector.zero(S);
            for (; d <= n - S.length(); d += S.length()) {
                acc = FloatVector.fromArray(S, a, i + d).fma(FloatVector.fromArray(S, b, j + d), acc);
            }
            sum = Vectors.sum(acc);
        }
        for (; d < n; d++) sum += a[i + d] * b[j + d];
        return sum;
    }
}
