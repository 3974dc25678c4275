package io.tomestream.backend.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.collections.VectorFloat8;
import uk.ac.manchester.tornado.api.types.vectors.Float8;

import static io.tomestream.backend.tornado.KernelMath.*;

/**
 * Attention as seven kernels rather than one loop nest per query: two layout kernels, two register-tiled products and the three steps of a stable softmax, with proportional attention (log size) once tokens have merged.
 * See {@link KernelMath} for what the kernels share and {@link TornadoBackend} for the graphs that run them.
 */
final class AttentionKernels {
    private AttentionKernels() {
    }

    /*
     * Attention as seven kernels rather than one loop nest per query: two layout kernels, two register
     * tiles like matmul (q·kᵀ over eight keys, p·v over eight features) and three row passes for the
     * softmax, the one with exp elementwise so that a CPU device vectorizes it. Scores and probabilities
     * are rows of keyStride (the input token count rounded up to 8) per (image, head, query); every sum
     * runs in the order of the single-kernel version (q·k over d, the softmax sum and p·v over keys).
     */

    /** Each token's values as vectors, [image][head][token][headDim / 8], and its log size. */
    static void tokenLayout(KernelContext ctx, FloatArray qkv, FloatArray size, VectorFloat8 values, FloatArray logSize,
                            IntArray step, int heads, int headDim, int maxTokens, int keyStride) {
        int i = ctx.globalIdx;
        int tokens = step.get(Step.TOKENS);
        if (i >= step.get(Step.BATCH) * tokens) return;
        int b = i / tokens, j = i % tokens;
        int dim = heads * headDim, hd8 = headDim / LANES;
        int src = i * 3 * dim + 2 * dim;
        for (int c = 0; c < dim / LANES; c++) {
            int h = c / hd8, d8 = c % hd8;
            int at = src + c * LANES;
            values.set(((b * heads + h) * maxTokens + j) * hd8 + d8, new Float8(qkv.get(at), qkv.get(at + 1), qkv.get(at + 2),
                    qkv.get(at + 3), qkv.get(at + 4), qkv.get(at + 5), qkv.get(at + 6), qkv.get(at + 7)));
        }
        logSize.set(b * keyStride + j, TornadoMath.log(size.get(i)));
    }

    /** The keys transposed, [image][head][d][keyStride / 8]: eight keys' d-th features per vector. */
    static void keysTransposed(KernelContext ctx, FloatArray qkv, VectorFloat8 keys, IntArray step, int heads, int headDim,
                               int keyStride) {
        int i = ctx.globalIdx;
        int groups = keyStride / LANES;
        if (i >= step.get(Step.BATCH) * heads * headDim * groups) return;
        int tokens = step.get(Step.TOKENS);
        int g = i % groups;
        int d = (i / groups) % headDim;
        int bh = i / (groups * headDim);
        int b = bh / heads, h = bh % heads;
        int dim = heads * headDim, stride = 3 * dim;
        int at = b * tokens * stride + dim + h * headDim + d;
        int j = g * LANES, last = tokens - 1;
        // keys past the live tokens repeat the last one: finite, and their scores are never stored
        keys.set(i, new Float8(qkv.get(at + Math.min(j, last) * stride), qkv.get(at + Math.min(j + 1, last) * stride),
                qkv.get(at + Math.min(j + 2, last) * stride), qkv.get(at + Math.min(j + 3, last) * stride),
                qkv.get(at + Math.min(j + 4, last) * stride), qkv.get(at + Math.min(j + 5, last) * stride),
                qkv.get(at + Math.min(j + 6, last) * stride), qkv.get(at + Math.min(j + 7, last) * stride)));
    }

    /**
     * scores[b, h, q, j] = (q·scale)·k_j + log size_j (the log size only once tokens have merged:
     * proportional attention). A tile of {@link KernelMath#ROWS} queries × {@link KernelMath#LANES} keys per work item, on a
     * grid of (key groups, image × head × query blocks).
     */
    static void attentionScores(KernelContext ctx, FloatArray qkv, VectorFloat8 keys, FloatArray logSize, FloatArray scores,
                                IntArray step, int heads, int headDim, int keyStride, float scale) {
        int tokens = step.get(Step.TOKENS);
        int qBlocks = (tokens + ROWS - 1) / ROWS;
        int y = ctx.globalIdy;
        if (y >= step.get(Step.BATCH) * heads * qBlocks) return;
        int g = ctx.globalIdx;
        if (g * LANES >= tokens) return;
        int groups = keyStride / LANES;
        int bh = y / qBlocks, q = (y % qBlocks) * ROWS;
        int b = bh / heads, h = bh % heads;
        int stride = 3 * heads * headDim, last = tokens - 1;
        int at = b * tokens * stride + h * headDim;
        int q0 = at + Math.min(q, last) * stride, q1 = at + Math.min(q + 1, last) * stride;
        int q2 = at + Math.min(q + 2, last) * stride, q3 = at + Math.min(q + 3, last) * stride;
        Float8 acc0 = zero(), acc1 = zero(), acc2 = zero(), acc3 = zero();
        int k0 = bh * headDim * groups + g;
        for (int d = 0; d < headDim; d++) {
            Float8 kv = keys.get(k0 + d * groups);
            acc0 = Float8.add(acc0, Float8.mult(splat(qkv.get(q0 + d) * scale), kv));
            acc1 = Float8.add(acc1, Float8.mult(splat(qkv.get(q1 + d) * scale), kv));
            acc2 = Float8.add(acc2, Float8.mult(splat(qkv.get(q2 + d) * scale), kv));
            acc3 = Float8.add(acc3, Float8.mult(splat(qkv.get(q3 + d) * scale), kv));
        }
        float proportional = step.get(Step.PROPORTIONAL);
        int j = g * LANES;
        int row = (bh * tokens + q) * keyStride + j;
        int ls = b * keyStride + j;
        storeScores(scores, logSize, proportional, q, tokens, row, ls, j, acc0.getS0(), acc0.getS1(), acc0.getS2(), acc0.getS3());
        storeScores(scores, logSize, proportional, q, tokens, row + 4, ls + 4, j + 4,
                acc0.getS4(), acc0.getS5(), acc0.getS6(), acc0.getS7());
        row += keyStride;
        storeScores(scores, logSize, proportional, q + 1, tokens, row, ls, j,
                acc1.getS0(), acc1.getS1(), acc1.getS2(), acc1.getS3());
        storeScores(scores, logSize, proportional, q + 1, tokens, row + 4, ls + 4, j + 4,
                acc1.getS4(), acc1.getS5(), acc1.getS6(), acc1.getS7());
        row += keyStride;
        storeScores(scores, logSize, proportional, q + 2, tokens, row, ls, j,
                acc2.getS0(), acc2.getS1(), acc2.getS2(), acc2.getS3());
        storeScores(scores, logSize, proportional, q + 2, tokens, row + 4, ls + 4, j + 4,
                acc2.getS4(), acc2.getS5(), acc2.getS6(), acc2.getS7());
        row += keyStride;
        storeScores(scores, logSize, proportional, q + 3, tokens, row, ls, j,
                acc3.getS0(), acc3.getS1(), acc3.getS2(), acc3.getS3());
        storeScores(scores, logSize, proportional, q + 3, tokens, row + 4, ls + 4, j + 4,
                acc3.getS4(), acc3.getS5(), acc3.getS6(), acc3.getS7());
    }

    /** Four scores of one query, keys j..j+3, those of live keys only. */
    private static void storeScores(FloatArray scores, FloatArray logSize, float proportional, int q, int tokens, int at, int ls,
                                    int j, float s0, float s1, float s2, float s3) {
        if (q >= tokens) return;
        if (j < tokens) scores.set(at, s0 + proportional * logSize.get(ls));
        if (j + 1 < tokens) scores.set(at + 1, s1 + proportional * logSize.get(ls + 1));
        if (j + 2 < tokens) scores.set(at + 2, s2 + proportional * logSize.get(ls + 2));
        if (j + 3 < tokens) scores.set(at + 3, s3 + proportional * logSize.get(ls + 3));
    }

    /** The largest score of each (image, head, query) row. */
    static void rowMax(KernelContext ctx, FloatArray scores, FloatArray rowMax, IntArray step, int heads, int keyStride) {
        int row = ctx.globalIdx;
        int tokens = step.get(Step.TOKENS);
        if (row >= step.get(Step.BATCH) * heads * tokens) return;
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < tokens; j++) max = TornadoMath.max(max, scores.get(row * keyStride + j));
        rowMax.set(row, max);
    }

    /**
     * probs = exp(scores − row max), elementwise over the whole grid with no early exit, so that a CPU
     * device vectorizes it (see {@link BlockKernels#geluInPlace}; the grid is sized to the live rows at each launch);
     * out of place, so items past the live rows, which read a clamped index, race with nobody. Entries
     * past a row's live keys are never read.
     */
    static void softmaxExp(KernelContext ctx, FloatArray scores, FloatArray rowMax, FloatArray probs, IntArray step, int heads,
                           int keyStride) {
        int i = ctx.globalIdx;
        int live = step.get(Step.BATCH) * heads * step.get(Step.TOKENS) * keyStride;
        int at = Math.min(i, live - 1);
        probs.set(i, TornadoMath.exp(scores.get(at) - rowMax.get(at / keyStride)));
    }

    /** 1 / the sum of each row's probabilities, summed in key order. */
    static void rowInverseSum(KernelContext ctx, FloatArray probs, FloatArray rowInv, IntArray step, int heads, int keyStride) {
        int row = ctx.globalIdx;
        int tokens = step.get(Step.TOKENS);
        if (row >= step.get(Step.BATCH) * heads * tokens) return;
        float sum = 0f;
        for (int j = 0; j < tokens; j++) sum += probs.get(row * keyStride + j);
        rowInv.set(row, 1f / sum);
    }

    /**
     * out[b, q, h·headDim + d] = Σ_j (p_j · inv) · v_j[d]: a tile of {@link KernelMath#ROWS} queries × {@link KernelMath#LANES}
     * features per work item, on a grid of (headDim / 8, image × head × query blocks).
     */
    static void attentionValues(KernelContext ctx, FloatArray probs, FloatArray rowInv, VectorFloat8 values, FloatArray out,
                                IntArray step, int heads, int headDim, int maxTokens, int keyStride) {
        int tokens = step.get(Step.TOKENS);
        int qBlocks = (tokens + ROWS - 1) / ROWS;
        int y = ctx.globalIdy;
        if (y >= step.get(Step.BATCH) * heads * qBlocks) return;
        int hd8 = headDim / LANES;
        int d8 = ctx.globalIdx;
        if (d8 >= hd8) return;
        int bh = y / qBlocks, q = (y % qBlocks) * ROWS;
        int b = bh / heads, h = bh % heads;
        int last = bh * tokens + tokens - 1;
        int r0 = Math.min(bh * tokens + q, last), r1 = Math.min(bh * tokens + q + 1, last);
        int r2 = Math.min(bh * tokens + q + 2, last), r3 = Math.min(bh * tokens + q + 3, last);
        float inv0 = rowInv.get(r0), inv1 = rowInv.get(r1), inv2 = rowInv.get(r2), inv3 = rowInv.get(r3);
        Float8 acc0 = zero(), acc1 = zero(), acc2 = zero(), acc3 = zero();
        int v0 = bh * maxTokens * hd8 + d8;
        for (int j = 0; j < tokens; j++) {
            Float8 vv = values.get(v0 + j * hd8);
            acc0 = Float8.add(acc0, Float8.mult(splat(probs.get(r0 * keyStride + j) * inv0), vv));
            acc1 = Float8.add(acc1, Float8.mult(splat(probs.get(r1 * keyStride + j) * inv1), vv));
            acc2 = Float8.add(acc2, Float8.mult(splat(probs.get(r2 * keyStride + j) * inv2), vv));
            acc3 = Float8.add(acc3, Float8.mult(splat(probs.get(r3 * keyStride + j) * inv3), vv));
        }
        int dim = heads * headDim;
        int at = (b * tokens + q) * dim + h * headDim + d8 * LANES;
        storeEight(out, q, tokens, at, acc0);
        storeEight(out, q + 1, tokens, at + dim, acc1);
        storeEight(out, q + 2, tokens, at + 2 * dim, acc2);
        storeEight(out, q + 3, tokens, at + 3 * dim, acc3);
    }

    private static void storeEight(FloatArray out, int q, int tokens, int at, Float8 v) {
        if (q >= tokens) return;
        out.set(at, v.getS0());
        out.set(at + 1, v.getS1());
        out.set(at + 2, v.getS2());
        out.set(at + 3, v.getS3());
        out.set(at + 4, v.getS4());
        out.set(at + 5, v.getS5());
        out.set(at + 6, v.getS6());
        out.set(at + 7, v.getS7());
    }
}
