package io.tomestream.merge;

import io.tomestream.simd.Vectors;

import java.util.Arrays;

/**
 * Where each token of one image goes in one reduction step, as a {@link TokenReducer} plans it. Tokens
 * that share a target are averaged, weighted by their sizes (or by {@link #weight} when
 * {@link #weighted}), and their sizes add up. Buffers are sized once and reused.
 */
public final class MergePlan {

    /** For each input position, its output position. */
    public int[] target;
    /** Number of output tokens. */
    public int outTokens;
    /**
     * The tokens that lost their own slot, for tests and tracing: src[i] went into the token at input
     * position dst[i]. ToMe lists its merged pairs strongest edge first; pruning lists the fused tokens,
     * each into the first of them; pooling lists each cluster member into its medoid.
     */
    public int[] src, dst;
    public int merged;
    /** The averaging weight of each input position, used instead of its size when {@link #weighted}. */
    public float[] weight;
    public boolean weighted;

    private final float[] weightSum;

    public MergePlan(int maxTokens) {
        target = new int[maxTokens];
        src = new int[maxTokens];
        dst = new int[maxTokens];
        weight = new float[maxTokens];
        weightSum = new float[maxTokens];
    }

    /**
     * Applies the plan to one image: {@code tokens} rows of {@code dim} floats in {@code x} become
     * {@link #outTokens} rows in {@code out}, each the weighted average of the tokens sent to it, and
     * {@code sizeOut} gets the summed sizes. Allocates nothing.
     */
    public void apply(float[] x, int xOff, float[] size, int sizeOff, int tokens, int dim,
                      float[] out, int outOff, float[] sizeOut, int sizeOutOff) {
        int outT = outTokens;
        Arrays.fill(out, outOff, outOff + outT * dim, 0f);
        Arrays.fill(sizeOut, sizeOutOff, sizeOutOff + outT, 0f);
        if (!weighted) {
            for (int p = 0; p < tokens; p++) {
                int q = target[p];
                float sz = size[sizeOff + p];
                Vectors.axpy(sz, x, xOff + p * dim, out, outOff + q * dim, dim);
                sizeOut[sizeOutOff + q] += sz;
            }
            for (int q = 0; q < outT; q++) Vectors.divide(out, outOff + q * dim, dim, sizeOut[sizeOutOff + q]);
            return;
        }
        Arrays.fill(weightSum, 0, outT, 0f);
        for (int p = 0; p < tokens; p++) {
            int q = target[p];
            Vectors.axpy(weight[p], x, xOff + p * dim, out, outOff + q * dim, dim);
            weightSum[q] += weight[p];
            sizeOut[sizeOutOff + q] += size[sizeOff + p];
        }
        for (int q = 0; q < outT; q++) Vectors.divide(out, outOff + q * dim, dim, weightSum[q]);
    }

}
