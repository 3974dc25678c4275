package io.tomestream.backend;

import io.tomestream.merge.MergePlan;

/** Sees each merge as it happens: which positions merged, and the sizes that came out. */
@FunctionalInterface
public interface MergeTrace {
    void merged(int layer, int image, MergePlan plan, float[] sizesAfter, int sizesOffset, int tokensAfter);
}
