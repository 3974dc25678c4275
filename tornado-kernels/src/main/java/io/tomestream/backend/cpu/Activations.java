package io.tomestream.backend.cpu;

import io.tomestream.simd.Vectors;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** The element-wise pieces of a ViT block: LayerNorm, exact GELU and softmax, over float rows. */
public final class Activations {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    // Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, the same formula PyTorch's vectorized CPU erf uses
    private static final float P = 0.3275911f;
    private static final float A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f,
            A4 = -1.453152027f, A5 = 1.061405429f;
    private static final float INV_SQRT2 = (float) (1 / Math.sqrt(2));
    private static final FloatVector ONE = FloatVector.broadcast(S, 1f);

    private Activations() {
    }

    /** In place: x = x · ½(1 + erf(x/√2)), timm's default (exact, not tanh) GELU. */
    public static void gelu(float[] x, int off, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, off + i);
            FloatVector z = v.mul(INV_SQRT2);
            FloatVector az = z.abs();
            FloatVector t = ONE.div(az.mul(P).add(1f));
            FloatVector poly = t.mul(A5).add(A4).mul(t).add(A3).mul(t).add(A2).mul(t).add(A1).mul(t);
            FloatVector e = Vectors.exp(az.mul(az).neg());
            FloatVector erfAbs = poly.mul(e).neg().add(1f);
            FloatVector erf = erfAbs.blend(erfAbs.neg(), z.compare(VectorOperators.LT, 0f));
            v.mul(0.5f).mul(erf.add(1f)).intoArray(x, off + i);
        }
        for (; i < n; i++) x[off + i] = gelu(x[off + i]);
    }

    public static float gelu(float x) {
        return 0.5f * x * (1f + erf(x * INV_SQRT2));
    }

    static float erf(float z) {
        float az = Math.abs(z);
        float t = 1f / (1f + P * az);
        float poly = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t;
        float r = 1f - poly * Vectors.exp(-az * az);
        return z < 0 ? -r : r;
    }

    /** out[row] = LayerNorm(x[row]) · weight + bias, for one row of n floats. */
    public static void layerNorm(float[] x, int xOff, float[] out, int outOff, int n,
                                 float[] weight, float[] bias, float eps) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) acc = acc.add(FloatVector.fromArray(S, x, xOff + i));
        float sum = Vectors.sum(acc);
        for (; i < n; i++) sum += x[xOff + i];
        float mean = sum / n;

        FloatVector m = FloatVector.broadcast(S, mean);
        acc = FloatVector.zero(S);
        i = 0;
        for (; i <= n - L; i += L) {
            FloatVector d = FloatVector.fromArray(S, x, xOff + i).sub(m);
            acc = d.fma(d, acc);
        }
        float sq = Vectors.sum(acc);
        for (; i < n; i++) {
            float d = x[xOff + i] - mean;
            sq += d * d;
        }
        float inv = (float) (1.0 / Math.sqrt(sq / n + eps));

        i = 0;
        for (; i <= n - L; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, xOff + i).sub(m).mul(inv);
            v.fma(FloatVector.fromArray(S, weight, i), FloatVector.fromArray(S, bias, i)).intoArray(out, outOff + i);
        }
        for (; i < n; i++) out[outOff + i] = (x[xOff + i] - mean) * inv * weight[i] + bias[i];
    }

    /** LayerNorm of {@code rows} rows of {@code n} floats, 16 rows per task of the pool. */
    static void layerNormRows(WorkerPool pool, float[] x, float[] out, int rows, int n, float[] weight, float[] bias, float eps) {
        int perTask = 16;
        pool.run((rows + perTask - 1) / perTask, task -> {
            int end = Math.min(rows, (task + 1) * perTask);
            for (int i = task * perTask; i < end; i++) layerNorm(x, i * n, out, i * n, n, weight, bias, eps);
        });
    }

    /** In place softmax of one row. */
    public static void softmax(float[] x, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]);
        FloatVector mx = FloatVector.broadcast(S, max);
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector e = Vectors.exp(FloatVector.fromArray(S, x, off + i).sub(mx));
            e.intoArray(x, off + i);
            acc = acc.add(e);
        }
        float sum = Vectors.sum(acc);
        for (; i < n; i++) {
            float e = Vectors.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        float inv = 1f / sum;
        i = 0;
        for (; i <= n - L; i += L) FloatVector.fromArray(S, x, off + i).mul(inv).intoArray(x, off + i);
        for (; i < n; i++) x[off + i] *= inv;
    }
}
