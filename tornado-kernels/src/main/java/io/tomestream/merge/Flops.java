package io.tomestream.merge;

import io.tomestream.model.LearnedReducer;
import io.tomestream.model.ModelConfig;
import io.tomestream.model.MsVit;

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
        return perImage(c, distilled, tokens, reducer, 0);
    }

    /**
     * With the model's learned token reducer, when it has one.
     *
     * @param moduleTokens the tokens the learned reducer was given (the tokens its block's MLP saw)
     */
    public static double perImage(ModelConfig c, boolean distilled, int[] tokens, Reducer reducer, int moduleTokens) {
        TokenReducer r = reducer.create();
        LearnedReducer learned = c.learned();
        if (learned != null && moduleTokens <= 0) {
            throw new IllegalArgumentException("a model with a " + learned.kind().label() + " needs the tokens it was given");
        }
        int prefix = (c.classToken() ? 1 : 0) + (distilled ? 1 : 0);
        long d = c.embedDim(), h = c.mlpHidden(), hd = c.headDim();
        double f = 2.0 * c.numPatches() * d * c.inChans() * c.patchSize() * c.patchSize();
        for (int l = 0; l < c.depth(); l++) {
            long t = tokens[l], after = learned != null && l == learned.afterBlock() ? moduleTokens : tokens[l + 1];
            f += 2.0 * t * d * 3 * d;        // qkv
            f += 2.0 * 2 * t * t * d;        // q·kᵀ and attention·v
            f += 2.0 * t * d * d;            // proj
            if (after < t) f += r.flops((int) t, prefix, (int) d, (int) hd); // planning the reduction
            f += 2.0 * 2 * after * d * h;    // MLP on the remaining tokens
        }
        if (learned != null) f += learned(learned, d, moduleTokens, prefix);
        MsVit m = c.msvit();
        if (m != null) {
            // the coarse tokens' patch embedding, and the gate's two layers on each of them
            f += 2.0 * m.regions() * d * c.inChans() * c.patchSize() * c.patchSize();
            f += 2.0 * m.regions() * (d * m.gateHidden() + m.gateHidden());
        }
        f += 2.0 * d * c.numClasses() * (distilled ? 2 : 1);
        return f;
    }

    /** A learned reducer given {@code tokens} tokens: its scores, and the weighted sums of the patch tokens (LayerNorm and softmax left out, as elsewhere). */
    private static double learned(LearnedReducer m, long dim, long tokens, int prefix) {
        long s = m.tokens(), n = tokens - prefix;
        double scores = m.kind() == LearnedReducer.Kind.TOKEN_LEARNER ? 2.0 * tokens * dim * m.hidden() + 2.0 * tokens * m.hidden() * s
                : 2.0 * tokens * dim * s;
        return scores + 2.0 * s * n * dim;
    }
}
