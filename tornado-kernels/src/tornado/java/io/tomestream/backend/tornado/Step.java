package io.tomestream.backend.tornado;

import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * What changes from one launch to the next (batch, layer, token counts, r), as a small int array that
 * goes to the device with every execution: kernels read their live sizes from it, so they are compiled
 * once for any batch and any token count.
 */
final class Step {
    static final int BATCH = 0, LAYER = 1, TOKENS = 2, R = 3, OUT_TOKENS = 4, PROPORTIONAL = 5;
    private static final int SLOTS = 6;

    final IntArray values = new IntArray(SLOTS);

    void set(int batch, int layer, int tokens, int r, int outTokens, boolean proportional) {
        values.set(BATCH, batch);
        values.set(LAYER, layer);
        values.set(TOKENS, tokens);
        values.set(R, r);
        values.set(OUT_TOKENS, outTokens);
        values.set(PROPORTIONAL, proportional ? 1 : 0);
    }
}
