package io.tomestream.backend.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.collections.VectorFloat8;
import uk.ac.manchester.tornado.api.types.vectors.Float8;

/**
 * The device kernels of the ViT forward pass with ToMe: the matmuls as register tiles over a 2-D grid
 * ({@link #matmul}), the rest one work item per output element (or per row, image or token where a
 * whole row is needed). Grids are sized once for the largest batch and the
 * input token count; the live batch and token counts come from the {@link Step} array each launch,
 * and items past them return at once, so no kernel is ever recompiled for a new count.
 *
 * <p>The arithmetic follows {@link io.tomestream.backend.cpu.CpuBackend}: the same formulas (exact-erf
 * GELU by Abramowitz and Stegun, LayerNorm with the biased variance, proportional attention), and in
 * the merge the same order of additions, so the merge decisions are the CPU backend's.
 */
final class VitKernels {
    static final float LN_EPS = 1e-6f;
    /** The register tile of {@link #matmul} and {@link #patchEmbed}: rows × output features per work item. */
    static final int ROWS = 4, LANES = 8;
    /** {@link #matmul}'s work items take this many vectors of {@link #LANES} output features each. */
    static final int VECTORS = 2;
    /** What {@link #matmul} does with a result. */
    static final int PLAIN = 0, RESIDUAL = 1;
    // Abramowitz & Stegun 7.1.26, as Activations.erf
    private static final float P = 0.3275911f;
    private static final float A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f,
            A4 = -1.453152027f, A5 = 1.061405429f;
    private static final float INV_SQRT2 = 0.70710678118654752f;

    private VitKernels() {
    }

    // ------------------------------------------------------------------ embedding

    /**
     * x[b, prefix + n, j] = conv(pixels)[b, n, j] + bias[j] + pos[prefix + n, j], as a matmul of the
     * patches (read straight from the pixels) with the transposed weight: like {@link #matmul}, a work
     * item computes {@link #ROWS} patches × {@link #LANES} output features.
     */
    static void patchEmbed(KernelContext ctx, FloatArray pixels, VectorFloat8 weight, FloatArray bias, FloatArray pos,
                           FloatArray x, IntArray step, int img, int chans, int patch, int dim, int prefix, int inputTokens) {
        int grid = img / patch;
        int patches = grid * grid;
        int rows = step.get(Step.BATCH) * patches;
        int row = ctx.globalIdy * ROWS;
        if (row >= rows) return;
        int n8 = dim / LANES;
        int c8 = ctx.globalIdx;
        if (c8 >= n8) return;
        int p0 = pixelBase(Math.min(row, rows - 1), patches, grid, chans, img, patch);
        int p1 = pixelBase(Math.min(row + 1, rows - 1), patches, grid, chans, img, patch);
        int p2 = pixelBase(Math.min(row + 2, rows - 1), patches, grid, chans, img, patch);
        int p3 = pixelBase(Math.min(row + 3, rows - 1), patches, grid, chans, img, patch);
        Float8 acc0 = zero(), acc1 = zero(), acc2 = zero(), acc3 = zero();
        int kk = 0;
        for (int c = 0; c < chans; c++) {
            for (int ky = 0; ky < patch; ky++) {
                int off = (c * img + ky) * img;
                for (int kx = 0; kx < patch; kx++) {
                    Float8 wv = weight.get(kk * n8 + c8);
                    acc0 = Float8.add(acc0, Float8.mult(wv, splat(pixels.get(p0 + off + kx))));
                    acc1 = Float8.add(acc1, Float8.mult(wv, splat(pixels.get(p1 + off + kx))));
                    acc2 = Float8.add(acc2, Float8.mult(wv, splat(pixels.get(p2 + off + kx))));
                    acc3 = Float8.add(acc3, Float8.mult(wv, splat(pixels.get(p3 + off + kx))));
                    kk++;
                }
            }
        }
        int j = c8 * LANES;
        storePatch(x, acc0, bias, pos, row, j, patches, rows, dim, prefix, inputTokens);
        storePatch(x, acc1, bias, pos, row + 1, j, patches, rows, dim, prefix, inputTokens);
        storePatch(x, acc2, bias, pos, row + 2, j, patches, rows, dim, prefix, inputTokens);
        storePatch(x, acc3, bias, pos, row + 3, j, patches, rows, dim, prefix, inputTokens);
    }

    /** Where patch {@code row} (image b, patch n) starts in the pixels. */
    private static int pixelBase(int row, int patches, int grid, int chans, int img, int patch) {
        int b = row / patches, n = row % patches;
        int py = n / grid, px = n % grid;
        return (b * chans * img + py * patch) * img + px * patch;
    }

    private static void storePatch(FloatArray x, Float8 acc, FloatArray bias, FloatArray pos, int row, int j, int patches,
                                   int rows, int dim, int prefix, int inputTokens) {
        if (row >= rows) return;
        int b = row / patches, t = prefix + row % patches;
        int at = (b * inputTokens + t) * dim + j;
        int p = t * dim + j;
        x.set(at, (acc.getS0() + bias.get(j)) + pos.get(p));
        x.set(at + 1, (acc.getS1() + bias.get(j + 1)) + pos.get(p + 1));
        x.set(at + 2, (acc.getS2() + bias.get(j + 2)) + pos.get(p + 2));
        x.set(at + 3, (acc.getS3() + bias.get(j + 3)) + pos.get(p + 3));
        x.set(at + 4, (acc.getS4() + bias.get(j + 4)) + pos.get(p + 4));
        x.set(at + 5, (acc.getS5() + bias.get(j + 5)) + pos.get(p + 5));
        x.set(at + 6, (acc.getS6() + bias.get(j + 6)) + pos.get(p + 6));
        x.set(at + 7, (acc.getS7() + bias.get(j + 7)) + pos.get(p + 7));
    }

    /** The class and distillation tokens, every token's size 1, and each input token in its own slot. */
    static void prefixTokens(KernelContext ctx, FloatArray cls, FloatArray dist, FloatArray pos, FloatArray x,
                             FloatArray size, IntArray tokenOf, IntArray step, int dim, int classToken, int distToken, int inputTokens) {
        int i = ctx.globalIdx;
        if (i >= step.get(Step.BATCH) * inputTokens) return;
        int t = i % inputTokens;
        size.set(i, 1f);
        tokenOf.set(i, t);
        int at = i * dim;
        if (t == 0 && classToken == 1) {
            for (int d = 0; d < dim; d++) x.set(at + d, cls.get(d) + pos.get(d));
        }
        if (t == 1 && distToken == 1) {
            for (int d = 0; d < dim; d++) x.set(at + d, dist.get(d) + pos.get(dim + d));
        }
    }

    // ------------------------------------------------------------------ block

    /** out[row] = LayerNorm(in[row]) of the block's {@code tokensSlot} rows per image, with this layer's weights. */
    static void layerNorm(KernelContext ctx, FloatArray in, FloatArray out, FloatArray weight, FloatArray bias,
                          IntArray step, int tokensSlot, int dim) {
        int row = ctx.globalIdx;
        if (row >= step.get(Step.BATCH) * step.get(tokensSlot)) return;
        int off = step.get(Step.LAYER) * dim;
        int at = row * dim;
        float sum = 0f;
        for (int d = 0; d < dim; d++) sum += in.get(at + d);
        float mean = sum / dim;
        float sq = 0f;
        for (int d = 0; d < dim; d++) {
            float v = in.get(at + d) - mean;
            sq += v * v;
        }
        float inv = 1f / TornadoMath.sqrt(sq / dim + LN_EPS);
        for (int d = 0; d < dim; d++) {
            out.set(at + d, (in.get(at + d) - mean) * inv * weight.get(off + d) + bias.get(off + d));
        }
    }

    /**
     * out[row, j] = a[row] · W[j] + bias[j] with this layer's W, then the epilogue: {@link #PLAIN} stores it,
     * {@link #RESIDUAL} adds γ[j] times it to out (a residual branch with layer scale; γ = 1 without).
     *
     * <p>A register tile: the 2-D grid is (output features / 16, rows / {@link #ROWS}), and each work item
     * keeps {@link #ROWS} rows × 16 features in eight vector accumulators. Per input feature it loads two
     * vectors of the transposed weight (neighbouring items: neighbouring vectors, so coalesced on a GPU,
     * SIMD loads on a CPU) and one activation per row (the same address for every item of a row block: a
     * broadcast), so each weight is used {@link #ROWS} times and each activation 16 times from registers.
     * Eight independent accumulators rather than four because PoCL doesn't fuse TornadoVM's separate
     * vector multiply and add, and four add chains left it waiting on the add latency (4 × 16 ran 15 to
     * 30 % faster than 4 × 8 and the same as 8 × 8 in a stand-alone test on PoCL). Row blocks past the
     * live rows return at once, so a grid sized for the input token count costs little once ToMe has merged
     * tokens away. The sum over k runs in order, as before.
     */
    static void matmul(KernelContext ctx, FloatArray a, VectorFloat8 weight, FloatArray bias, FloatArray gamma,
                       FloatArray out, IntArray step, int tokensSlot, int k, int n, int epilogue) {
        int rows = step.get(Step.BATCH) * step.get(tokensSlot);
        int row = ctx.globalIdy * ROWS;
        if (row >= rows) return;
        int n8 = n / LANES;
        int c8 = ctx.globalIdx * VECTORS;
        if (c8 >= n8) return;
        // with an odd number of vectors the last item's second vector repeats its first, and isn't stored
        int c8hi = Math.min(c8 + 1, n8 - 1);
        int rowsHi = rows * Math.min(1, n8 - 1 - c8); // 0 then; arithmetic because a ternary here broke TornadoVM's code generation
        int layer = step.get(Step.LAYER);
        int w0 = layer * k * n8;
        int a0 = Math.min(row, rows - 1) * k, a1 = Math.min(row + 1, rows - 1) * k;
        int a2 = Math.min(row + 2, rows - 1) * k, a3 = Math.min(row + 3, rows - 1) * k;
        Float8 lo0 = zero(), lo1 = zero(), lo2 = zero(), lo3 = zero();
        Float8 hi0 = zero(), hi1 = zero(), hi2 = zero(), hi3 = zero();
        for (int d = 0; d < k; d++) {
            Float8 wLo = weight.get(w0 + d * n8 + c8);
            Float8 wHi = weight.get(w0 + d * n8 + c8hi);
            Float8 x0 = splat(a.get(a0 + d)), x1 = splat(a.get(a1 + d)), x2 = splat(a.get(a2 + d)), x3 = splat(a.get(a3 + d));
            lo0 = Float8.add(lo0, Float8.mult(wLo, x0));
            hi0 = Float8.add(hi0, Float8.mult(wHi, x0));
            lo1 = Float8.add(lo1, Float8.mult(wLo, x1));
            hi1 = Float8.add(hi1, Float8.mult(wHi, x1));
            lo2 = Float8.add(lo2, Float8.mult(wLo, x2));
            hi2 = Float8.add(hi2, Float8.mult(wHi, x2));
            lo3 = Float8.add(lo3, Float8.mult(wLo, x3));
            hi3 = Float8.add(hi3, Float8.mult(wHi, x3));
        }
        int j = layer * n + c8 * LANES;
        int at = row * n + c8 * LANES;
        storeQuad(out, row, rows, at, lo0.getS0(), lo0.getS1(), lo0.getS2(), lo0.getS3(), bias, gamma, j, epilogue);
        storeQuad(out, row, rows, at + 4, lo0.getS4(), lo0.getS5(), lo0.getS6(), lo0.getS7(), bias, gamma, j + 4, epilogue);
        storeQuad(out, row, rowsHi, at + 8, hi0.getS0(), hi0.getS1(), hi0.getS2(), hi0.getS3(), bias, gamma, j + 8, epilogue);
        storeQuad(out, row, rowsHi, at + 12, hi0.getS4(), hi0.getS5(), hi0.getS6(), hi0.getS7(), bias, gamma, j + 12, epilogue);
        storeQuad(out, row + 1, rows, at + n, lo1.getS0(), lo1.getS1(), lo1.getS2(), lo1.getS3(), bias, gamma, j, epilogue);
        storeQuad(out, row + 1, rows, at + n + 4, lo1.getS4(), lo1.getS5(), lo1.getS6(), lo1.getS7(), bias, gamma, j + 4, epilogue);
        storeQuad(out, row + 1, rowsHi, at + n + 8, hi1.getS0(), hi1.getS1(), hi1.getS2(), hi1.getS3(), bias, gamma, j + 8, epilogue);
        storeQuad(out, row + 1, rowsHi, at + n + 12, hi1.getS4(), hi1.getS5(), hi1.getS6(), hi1.getS7(), bias, gamma, j + 12, epilogue);
        storeQuad(out, row + 2, rows, at + 2 * n, lo2.getS0(), lo2.getS1(), lo2.getS2(), lo2.getS3(), bias, gamma, j, epilogue);
        storeQuad(out, row + 2, rows, at + 2 * n + 4, lo2.getS4(), lo2.getS5(), lo2.getS6(), lo2.getS7(), bias, gamma, j + 4, epilogue);
        storeQuad(out, row + 2, rowsHi, at + 2 * n + 8, hi2.getS0(), hi2.getS1(), hi2.getS2(), hi2.getS3(), bias, gamma, j + 8, epilogue);
        storeQuad(out, row + 2, rowsHi, at + 2 * n + 12, hi2.getS4(), hi2.getS5(), hi2.getS6(), hi2.getS7(), bias, gamma, j + 12, epilogue);
        storeQuad(out, row + 3, rows, at + 3 * n, lo3.getS0(), lo3.getS1(), lo3.getS2(), lo3.getS3(), bias, gamma, j, epilogue);
        storeQuad(out, row + 3, rows, at + 3 * n + 4, lo3.getS4(), lo3.getS5(), lo3.getS6(), lo3.getS7(), bias, gamma, j + 4, epilogue);
        storeQuad(out, row + 3, rowsHi, at + 3 * n + 8, hi3.getS0(), hi3.getS1(), hi3.getS2(), hi3.getS3(), bias, gamma, j + 8, epilogue);
        storeQuad(out, row + 3, rowsHi, at + 3 * n + 12, hi3.getS4(), hi3.getS5(), hi3.getS6(), hi3.getS7(), bias, gamma, j + 12, epilogue);
    }

    /**
     * Four features of one row of a {@link #matmul} tile, called straight from the kernel: TornadoVM refuses
     * to inline a method of more than 600 graph nodes (its own callees included), and eight outputs came
     * to more.
     */
    private static void storeQuad(FloatArray out, int row, int rows, int at, float v0, float v1, float v2, float v3, FloatArray bias,
                                  FloatArray gamma, int j, int epilogue) {
        if (row >= rows) return;
        finish(out, at, v0, bias, gamma, j, epilogue);
        finish(out, at + 1, v1, bias, gamma, j + 1, epilogue);
        finish(out, at + 2, v2, bias, gamma, j + 2, epilogue);
        finish(out, at + 3, v3, bias, gamma, j + 3, epilogue);
    }

    // epilogue is a compile-time constant of each task (TornadoVM specialises scalar arguments), so only one branch is left
    private static void finish(FloatArray out, int at, float dot, FloatArray bias, FloatArray gamma, int j, int epilogue) {
        float v = dot + bias.get(j);
        if (epilogue == RESIDUAL) {
            out.set(at, out.get(at) + gamma.get(j) * v);
        } else {
            out.set(at, v);
        }
    }

    /**
     * a[i] = GELU(a[i]). Apart from {@link #matmul} because a kernel with no loop and no early exit is one
     * that a CPU OpenCL device (PoCL) vectorizes across work items, exp included: GELU in the matmul's
     * epilogue ran one scalar exp per output and cost twice the fc1 matmul on PoCL, and with an early
     * return for the rows past the live ones PoCL left it scalar. So every item runs: the backend sizes
     * this grid to the live rows at each launch (rounded up to a work group), and the few items past them
     * work on a clamped index and write entries nothing reads. On a GPU it is one more cheap elementwise pass.
     */
    static void geluInPlace(KernelContext ctx, FloatArray a, IntArray step, int tokensSlot, int n) {
        int i = ctx.globalIdx;
        int live = step.get(Step.BATCH) * step.get(tokensSlot) * n;
        a.set(i, gelu(a.get(Math.min(i, live - 1))));
    }

    // ------------------------------------------------------------------ attention

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
     * proportional attention). A tile of {@link #ROWS} queries × {@link #LANES} keys per work item, on a
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
     * device vectorizes it (see {@link #geluInPlace}; the grid is sized to the live rows at each launch);
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
     * out[b, q, h·headDim + d] = Σ_j (p_j · inv) · v_j[d]: a tile of {@link #ROWS} queries × {@link #LANES}
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

    // ------------------------------------------------------------------ ToMe

    /** unit[b, t] = the keys of token t averaged over heads, divided by their norm. */
    static void keyMetric(KernelContext ctx, FloatArray qkv, FloatArray unit, IntArray step, int heads, int headDim) {
        int i = ctx.globalIdx;
        if (step.get(Step.R) == 0) return;
        if (i >= step.get(Step.BATCH) * step.get(Step.TOKENS)) return;
        int dim = heads * headDim;
        int k = i * 3 * dim + dim;
        int m = i * headDim;
        float sq = 0f;
        for (int d = 0; d < headDim; d++) {
            float sum = 0f;
            for (int h = 0; h < heads; h++) sum += qkv.get(k + h * headDim + d);
            float v = sum / heads;
            unit.set(m + d, v);
            sq += v * v;
        }
        float norm = TornadoMath.sqrt(sq);
        for (int d = 0; d < headDim; d++) unit.set(m + d, unit.get(m + d) / norm);
    }

    /**
     * For each A token (even positions) its most similar B token (odd positions) by cosine: ties keep
     * the lowest B index; the class token is never a source, the distillation token never a destination.
     */
    static void match(KernelContext ctx, FloatArray unit, FloatArray nodeMax, IntArray nodeIdx, IntArray step,
                      int headDim, int classToken, int distToken, int maxTokens) {
        int i = ctx.globalIdx;
        int tokens = step.get(Step.TOKENS);
        int nA = (tokens + 1) / 2, nB = tokens / 2;
        if (step.get(Step.R) == 0) return;
        if (i >= step.get(Step.BATCH) * nA) return;
        int b = i / nA, a = i % nA;
        float best = Float.NEGATIVE_INFINITY;
        int bestIdx = 0;
        int classTokenHere = a == 0 ? classToken : 0; // never a source; a flag, not !(a && b), as rank explains
        if (classTokenHere == 0) {
            int rowA = (b * tokens + 2 * a) * headDim;
            for (int c = distToken; c < nB; c++) {
                float s = dot(unit, rowA, unit, (b * tokens + 2 * c + 1) * headDim, headDim);
                if (s > best) {
                    best = s;
                    bestIdx = c;
                }
            }
        }
        nodeMax.set(b * maxTokens + a, best);
        nodeIdx.set(b * maxTokens + a, bestIdx);
    }

    /**
     * The place of each A token in the order of edge strength, strongest first, equal scores by index
     * and NaN last: the stable sort of the CPU backend, as a count of the edges that come before.
     */
    static void rank(KernelContext ctx, FloatArray nodeMax, IntArray order, IntArray step, int maxTokens) {
        int i = ctx.globalIdx;
        int nA = (step.get(Step.TOKENS) + 1) / 2;
        if (step.get(Step.R) == 0) return;
        if (i >= step.get(Step.BATCH) * nA) return;
        int b = i / nA, a = i % nA;
        float mine = nodeMax.get(b * maxTokens + a);
        int mineNaN = mine != mine ? 1 : 0;
        int before = 0;
        // Arithmetic on 0/1 flags rather than && and ||: TornadoVM 5.2's OpenCL code generator negates
        // compound conditions wrongly (it turned "x == y && o < a" into "x != y && o >= a").
        for (int o = 0; o < nA; o++) {
            float other = nodeMax.get(b * maxTokens + o);
            int otherNaN = other != other ? 1 : 0;
            int greater = other > mine ? 1 : 0;
            int equal = other == mine ? 1 : 0;
            int lower = o < a ? 1 : 0;
            before += (1 - otherNaN) * (mineNaN + (1 - mineNaN) * (greater + equal * lower)) + otherNaN * mineNaN * lower;
        }
        order.set(b * maxTokens + before, a);
    }

    /**
     * One image's plan, as BipartiteMatching: the output slot of every token (unmerged A tokens in
     * order, then B; the distillation token second), each input token's new holder, and for each output
     * slot the list of tokens that average into it, in ascending position as the CPU adds them.
     */
    static void plan(KernelContext ctx, IntArray order, IntArray nodeIdx, IntArray target, IntArray members,
                     IntArray memberStart, IntArray tokenOf, IntArray step, int distToken, int inputTokens, int maxTokens) {
        int b = ctx.globalIdx;
        int r = step.get(Step.R);
        if (r == 0) return;
        if (b >= step.get(Step.BATCH)) return;
        int tokens = step.get(Step.TOKENS);
        int nA = (tokens + 1) / 2, nB = tokens / 2;
        int t0 = b * maxTokens;
        // mark merged A tokens with -1 first
        for (int p = 0; p < tokens; p++) target.set(t0 + p, 0);
        for (int i = 0; i < r; i++) target.set(t0 + 2 * order.get(t0 + i), -1);
        int next = 0;
        if (distToken == 1) {
            target.set(t0, next++);
            target.set(t0 + 1, next++);
        }
        for (int a = distToken; a < nA; a++) {
            if (target.get(t0 + 2 * a) != -1) target.set(t0 + 2 * a, next++);
        }
        for (int c = distToken; c < nB; c++) target.set(t0 + 2 * c + 1, next++);
        for (int i = 0; i < r; i++) {
            int a = order.get(t0 + i);
            target.set(t0 + 2 * a, target.get(t0 + 2 * nodeIdx.get(t0 + a) + 1));
        }
        int outTokens = next;
        for (int t = 0; t < inputTokens; t++) {
            int at = b * inputTokens + t;
            tokenOf.set(at, target.get(t0 + tokenOf.get(at)));
        }
        // members of each output slot, by counting sort: stable, so ascending input position
        int s0 = b * (maxTokens + 1);
        for (int q = 0; q <= outTokens; q++) memberStart.set(s0 + q, 0);
        for (int p = 0; p < tokens; p++) {
            int q = target.get(t0 + p);
            memberStart.set(s0 + q + 1, memberStart.get(s0 + q + 1) + 1);
        }
        for (int q = 0; q < outTokens; q++) memberStart.set(s0 + q + 1, memberStart.get(s0 + q + 1) + memberStart.get(s0 + q));
        // the members array doubles as the fill cursor: fill from each slot's start, then restore the starts
        for (int p = 0; p < tokens; p++) {
            int q = target.get(t0 + p);
            int at = memberStart.get(s0 + q);
            members.set(t0 + at, p);
            memberStart.set(s0 + q, at + 1);
        }
        for (int q = outTokens; q > 0; q--) memberStart.set(s0 + q, memberStart.get(s0 + q - 1));
        memberStart.set(s0, 0);
    }

    /** Each output token: the size-weighted average of its members, and their summed size. */
    static void mergeTokens(KernelContext ctx, FloatArray x, FloatArray size, FloatArray xOut, FloatArray sizeOut,
                            IntArray members, IntArray memberStart, IntArray step, int dim, int maxTokens) {
        int i = ctx.globalIdx;
        int outTokens = step.get(Step.OUT_TOKENS);
        if (step.get(Step.R) == 0) return;
        if (i >= step.get(Step.BATCH) * outTokens * dim) return;
        int d = i % dim;
        int q = (i / dim) % outTokens;
        int b = i / (dim * outTokens);
        int tokens = step.get(Step.TOKENS);
        int s0 = b * (maxTokens + 1);
        float acc = 0f, total = 0f;
        for (int m = memberStart.get(s0 + q); m < memberStart.get(s0 + q + 1); m++) {
            int p = members.get(b * maxTokens + m);
            float s = size.get(b * tokens + p);
            acc += s * x.get((b * tokens + p) * dim + d);
            total += s;
        }
        xOut.set(i, acc / total);
        if (d == 0) sizeOut.set(b * outTokens + q, total);
    }

    /** The merged tokens back into the block's buffers, which the other graphs share. */
    static void copyMerged(KernelContext ctx, FloatArray xOut, FloatArray sizeOut, FloatArray x, FloatArray size,
                           IntArray step, int dim) {
        int i = ctx.globalIdx;
        int rows = step.get(Step.BATCH) * step.get(Step.OUT_TOKENS);
        if (step.get(Step.R) == 0) return;
        if (i >= rows * dim) return;
        x.set(i, xOut.get(i));
        if (i % dim == 0) size.set(i / dim, sizeOut.get(i / dim));
    }

    // ------------------------------------------------------------------ head

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

    // ---------------------------------------------------------------- helpers

    private static float dot(FloatArray a, int i, FloatArray b, int j, int n) {
        float s = 0f;
        for (int d = 0; d < n; d++) s += a.get(i + d) * b.get(j + d);
        return s;
    }

    private static Float8 zero() {
        return new Float8(0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f); // the no-argument constructor fails TornadoVM's code generation
    }

    // a vector times a vector: Float8.mult(Float8, float) comes out of TornadoVM as eight scalar products
    private static Float8 splat(float v) {
        return new Float8(v, v, v, v, v, v, v, v);
    }

    private static float gelu(float v) {
        float z = v * INV_SQRT2;
        float az = TornadoMath.abs(z);
        float t = 1f / (1f + P * az);
        float poly = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t;
        float r = 1f - poly * TornadoMath.exp(-az * az);
        float erf = z < 0f ? -r : r;
        return 0.5f * v * (1f + erf);
    }

    private static float mean(FloatArray x, int at, int n) {
        float s = 0f;
        for (int d = 0; d < n; d++) s += x.get(at + d);
        return s / n;
    }

    private static float invStd(FloatArray x, int at, int n, float mean) {
        float sq = 0f;
        for (int d = 0; d < n; d++) {
            float v = x.get(at + d) - mean;
            sq += v * v;
        }
        return 1f / TornadoMath.sqrt(sq / n + LN_EPS);
    }

    private static void normOrCopy(FloatArray x, int at, FloatArray out, int to, FloatArray norm, int dim, int hasNorm) {
        if (hasNorm == 1) {
            float mean = mean(x, at, dim);
            float inv = invStd(x, at, dim, mean);
            for (int d = 0; d < dim; d++) out.set(to + d, (x.get(at + d) - mean) * inv * norm.get(d) + norm.get(dim + d));
        } else {
            for (int d = 0; d < dim; d++) out.set(to + d, x.get(at + d));
        }
    }
}
