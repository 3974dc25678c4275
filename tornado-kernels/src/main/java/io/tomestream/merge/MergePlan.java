package io.tomestream.merge;

/**
 * Where each token of one image goes in one reduction step. Tokens that share a target are
 * averaged, weighted by their sizes, and their sizes add up. Buffers are sized once and reused.
 */
public final class MergePlan {
    /** For each input position, its output position. */
    public int[] target;
    /** Number of output tokens. */
    public int outTokens;
    /** The merged pairs, for tests and tracing: src[i] went into dst[i] (input positions). */
    public int[] src, dst;
    public int merged;

    public MergePlan(int maxTokens) {
        target = new int[maxTokens];
        src = new int[maxTokens];
        dst = new int[maxTokens];
    }
}
