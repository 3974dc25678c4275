package io.tomestream.backend.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import static io.tomestream.backend.tornado.KernelMath.*;

/**
 * Pooling (class token or the mean of the patch tokens), the classifier head(s), and each input token's final holder.
 * See {@link KernelMath} for what the kernels share and {@link TornadoBackend} for the graphs that run them.
 */
final class HeadKernels {
    private HeadKernels() {
    }

    /**
     * One image's pooled features: the class (and distillation) token after the final norm, or the mean
     * of the patch tokens, each normed first when the model has a final norm, then fc_norm if it has one.
     */
    static void pool(KernelContext ctx, FloatArray x, FloatArray pooled, FloatArray pooledDist,
                     FloatArray norm, FloatArray fcNorm, IntArray step, int dim, int prefix, int avg,
                     int hasNorm, int hasFcNorm, int distToken) {
        int b = ctx.globalIdx;
        if (b >= step.get(Step.BATCH)) return;
        int tokens = step.get(Step.TOKENS);
        int base = b * tokens * dim;
        if (avg == 1) {
            for (int d = 0; d < dim; d++) pooled.set(b * dim + d, 0f);
            for (int t = prefix; t < tokens; t++) {
                int at = base + t * dim;
                if (hasNorm == 1) {
                    float mean = mean(x, at, dim);
                    float inv = invStd(x, at, dim, mean);
                    for (int d = 0; d < dim; d++) {
                        pooled.set(b * dim + d, pooled.get(b * dim + d) + ((x.get(at + d) - mean) * inv * norm.get(d) + norm.get(dim + d)));
                    }
                } else {
                    for (int d = 0; d < dim; d++) pooled.set(b * dim + d, pooled.get(b * dim + d) + x.get(at + d));
                }
            }
            for (int d = 0; d < dim; d++) pooled.set(b * dim + d, pooled.get(b * dim + d) / (tokens - prefix));
            if (hasFcNorm == 1) {
                float mean = mean(pooled, b * dim, dim);
                float inv = invStd(pooled, b * dim, dim, mean);
                for (int d = 0; d < dim; d++) {
                    pooled.set(b * dim + d, (pooled.get(b * dim + d) - mean) * inv * fcNorm.get(d) + fcNorm.get(dim + d));
                }
            }
        } else {
            normOrCopy(x, base, pooled, b * dim, norm, dim, hasNorm);
            if (distToken == 1) normOrCopy(x, base + dim, pooledDist, b * dim, norm, dim, hasNorm);
        }
    }

    /** logits[b, c] = pooled[b] · W[c] + bias[c]; DeiT's eval output averages the two heads. */
    static void head(KernelContext ctx, FloatArray pooled, FloatArray pooledDist, FloatArray weight, FloatArray bias,
                     FloatArray weightDist, FloatArray biasDist, FloatArray logits, IntArray step, int dim, int classes, int distToken) {
        int i = ctx.globalIdx;
        if (i >= step.get(Step.BATCH) * classes) return;
        int b = i / classes, c = i % classes;
        float v = dot(pooled, b * dim, weight, c * dim, dim) + bias.get(c);
        if (distToken == 1) {
            float vd = dot(pooledDist, b * dim, weightDist, c * dim, dim) + biasDist.get(c);
            v = (v + vd) / 2f;
        }
        logits.set(i, v);
    }

    /** The final holder of each input token, copied out of the buffer the graphs share into the head's output. */
    static void sources(KernelContext ctx, IntArray tokenOf, IntArray sources, IntArray step, int inputTokens) {
        int i = ctx.globalIdx;
        if (i >= step.get(Step.BATCH) * inputTokens) return;
        sources.set(i, tokenOf.get(i));
    }
}
