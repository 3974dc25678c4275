package io.tomestream.backend.tornado;

import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.vectors.Float8;

/**
 * What the device kernels of the ViT forward pass with ToMe share: their constants and small helpers.
 * The kernels are {@link EmbedKernels}, {@link BlockKernels}, {@link AttentionKernels}, {@link MergeKernels}
 * and {@link HeadKernels}: the matmuls as register tiles over a 2-D grid, the rest one work item per
 * output element (or per row, image or token where a whole row is needed). Grids are sized once for
 * the largest batch and the input token count; the live batch and token counts come from the
 * {@link Step} array each launch, and items past them return at once, so no kernel is ever recompiled
 * for a new count.
 *
 * <p>The arithmetic follows {@link io.tomestream.backend.cpu.CpuBackend}: the same formulas (exact-erf
 * GELU by Abramowitz and Stegun, LayerNorm with the biased variance, proportional attention), and in
 * the merge the same order of additions, so the merge decisions are the CPU backend's.
 */
final class KernelMath {
    static final float LN_EPS = 1e-6f;
    /** The register tile of {@link BlockKernels#matmul} and {@link EmbedKernels#patchEmbed}: rows × output features per work item. */
    static final int ROWS = 4, LANES = 8;
    /** {@link BlockKernels#matmul}'s work items take this many vectors of {@link #LANES} output features each. */
    static final int VECTORS = 2;
    /** What {@link BlockKernels#matmul} does with a result. */
    static final int PLAIN = 0, RESIDUAL = 1;
    // Abramowitz & Stegun 7.1.26, as Activations.erf
    static final float P = 0.3275911f;
    static final float A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f,
            A4 = -1.453152027f, A5 = 1.061405429f;
    static final float INV_SQRT2 = 0.70710678118654752f;

    private KernelMath() {
    }

    static float dot(FloatArray a, int i, FloatArray b, int j, int n) {
        float s = 0f;
        for (int d = 0; d < n; d++) s += a.get(i + d) * b.get(j + d);
        return s;
    }

    static Float8 zero() {
        return new Float8(0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f); // the no-argument constructor fails TornadoVM's code generation
    }

    // a vector times a vector: Float8.mult(Float8, float) comes out of TornadoVM as eight scalar products
    static Float8 splat(float v) {
        return new Float8(v, v, v, v, v, v, v, v);
    }

    static float gelu(float v) {
        float z = v * INV_SQRT2;
        float az = TornadoMath.abs(z);
        float t = 1f / (1f + P * az);
        float poly = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t;
        float r = 1f - poly * TornadoMath.exp(-az * az);
        float erf = z < 0f ? -r : r;
        return 0.5f * v * (1f + erf);
    }

    static float mean(FloatArray x, int at, int n) {
        float s = 0f;
        for (int d = 0; d < n; d++) s += x.get(at + d);
        return s / n;
    }

    static float invStd(FloatArray x, int at, int n, float mean) {
        float sq = 0f;
        for (int d = 0; d < n; d++) {
            float v = x.get(at + d) - mean;
            sq += v * v;
        }
        return 1f / TornadoMath.sqrt(sq / n + LN_EPS);
    }

    static void normOrCopy(FloatArray x, int at, FloatArray out, int to, FloatArray norm, int dim, int hasNorm) {
        if (hasNorm == 1) {
            float mean = mean(x, at, dim);
            float inv = invStd(x, at, dim, mean);
            for (int d = 0; d < dim; d++) out.set(to + d, (x.get(at + d) - mean) * inv * norm.get(d) + norm.get(dim + d));
        } else {
            for (int d = 0; d < dim; d++) out.set(to + d, x.get(at + d));
        }
    }
}
