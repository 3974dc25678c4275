package io.tomestream.backend.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.collections.VectorFloat8;
import uk.ac.manchester.tornado.api.types.vectors.Float8;

import static io.tomestream.backend.tornado.KernelMath.*;

/**
 * A transformer block's dense parts: LayerNorm, the register-tiled matmul (qkv, proj, fc1, fc2, with a fused residual and layer scale) and GELU.
 * See {@link KernelMath} for what the kernels share and {@link TornadoBackend} for the graphs that run them.
 */
final class BlockKernels {
    private BlockKernels() {
    }

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
     * out[row, j] = a[row] · W[j] + bias[j] with this layer's W, then the epilogue: {@link KernelMath#PLAIN} stores it,
     * {@link KernelMath#RESIDUAL} adds γ[j] times it to out (a residual branch with layer scale; γ = 1 without).
     *
     * <p>A register tile: the 2-D grid is (output features / 16, rows / {@link KernelMath#ROWS}), and each work item
     * keeps {@link KernelMath#ROWS} rows × 16 features in eight vector accumulators. Per input feature it loads two
     * vectors of the transposed weight (neighbouring items: neighbouring vectors, so coalesced on a GPU,
     * SIMD loads on a CPU) and one activation per row (the same address for every item of a row block: a
     * broadcast), so each weight is used {@link KernelMath#ROWS} times and each activation 16 times from registers.
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
}
