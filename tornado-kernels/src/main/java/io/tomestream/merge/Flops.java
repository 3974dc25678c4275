package io.tomestream.merge;

import io.tomestream.model.ModelConfig;

/** Multiply-adds ×2 of one image's forward pass, given the tokens each block saw. */
public final class Flops {
    private Flops() {
    }

    /** With ToMe. @param tokens tokens entering block 1, then after each block (depth + 1 numbers) */
    public static double perImage(ModelConfig c, boolean distilled, int[] tokens) {
        return perImage(c, distilled, tokens, Reducer.TOME);
    }

    /**
     * @param tokens  tokens entering block 1, then after each block (depth + 1 numbers)
     * @param reducer the token reducer, whose planning is counted in the blocks that remove tokens
     */
    public static double perImage(ModelConfig c, boolean distilled, int[] tokens, Reducer reducer) {
        TokenReducer r = reducer.create();
        int prefix = (c.classToken() ? 1 : 0) + (distilled ? 1 : 0);
        long d = c.embedDim(), h = c.mlpHidden(), hd = c.headDim();
        double f = 2.0 * c.numPatches() * d * c.inChans() * c.patchSize() * c.patchSize();
        for (int l = 0; l < c.depth(); l++) {
            long t = tokens[l], after = tokens[l + 1];
            f += 2.0 * t * d * 3 * d;        // qkv
            f += 2.0 * 2 * t * t * d;        // q·kᵀ and attention·v
            f += 2.0 * t * d * d;            // proj
            if (after < t) f += r.flops((int) t, prefix, (int) d, (int) hd); // planning the reduction
            f += 2.0 * 2 * after * d * h;    // MLP on the remaining tokens
        }
        f += 2.0 * d * c.numClasses() * (distilled ? 2 : 1);
        return f;
    }
}
