package io.tomestream.simd;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Reductions and exp with the same bits in every JIT tier. The Vector API's {@code reduceLanes} and
 * {@code lanewise(EXP)} may round differently once C2 intrinsifies them, so the same image could get
 * logits one ulp apart between an early and a late call. These use only IEEE-exact operations in a
 * fixed order.
 */
public final class Vectors {
    public static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    // adding 1.5·2²³ rounds a float to an integer and leaves that integer in the low mantissa bits
    private static final float ROUNDER = 12582912f;
    private static final int ROUNDER_BITS = Float.floatToRawIntBits(ROUNDER);
    private static final float MIN_ARG = -87.3f, MAX_ARG = 88.0f;
    // Cephes expf minimax coefficients on [-ln2/2, ln2/2]
    private static final float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f,
            P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    private Vectors() {
    }

    /** Sum of the lanes, left to right. */
    public static float sum(FloatVector v) {
        float s = 0;
        for (int i = 0; i < S.length(); i++) s += v.lane(i);
        return s;
    }

    /** e^x per lane, within 2 ulp; 0 below -87.3, and arguments above 88 are clamped. */
    public static FloatVector exp(FloatVector x) {
        FloatVector c = x.max(MIN_ARG).min(MAX_ARG);
        FloatVector t = c.fma(FloatVector.broadcast(S, LOG2E), FloatVector.broadcast(S, ROUNDER));
        IntVector n = t.reinterpretAsInts().sub(ROUNDER_BITS);
        FloatVector k = t.sub(ROUNDER);
        FloatVector r = k.fma(FloatVector.broadcast(S, -LN2_HI), c);
        r = k.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector p = r.fma(FloatVector.broadcast(S, P0), FloatVector.broadcast(S, P1));
        p = p.fma(r, FloatVector.broadcast(S, P2));
        p = p.fma(r, FloatVector.broadcast(S, P3));
        p = p.fma(r, FloatVector.broadcast(S, P4));
        p = p.fma(r, FloatVector.broadcast(S, P5));
        FloatVector y = p.fma(r.mul(r), r).add(1f);
        FloatVector scale = n.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector e = y.mul(scale);
        return e.blend(0f, x.compare(VectorOperators.LT, MIN_ARG));
    }

    /** The scalar twin of {@link #exp(FloatVector)}, bit for bit, for loop tails. */
    public static float exp(float x) {
        if (x < MIN_ARG) return 0f;
        float c = Math.min(x, MAX_ARG);
        float t = Math.fma(c, LOG2E, ROUNDER);
        int n = Float.floatToRawIntBits(t) - ROUNDER_BITS;
        float k = t - ROUNDER;
        float r = Math.fma(k, -LN2_HI, c);
        r = Math.fma(k, -LN2_LO, r);
        float p = Math.fma(r, P0, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        float y = Math.fma(p, r * r, r) + 1f;
        return y * Float.intBitsToFloat((n + 127) << 23);
    }

    /** dst[di..di+n) += alpha · src[si..si+n). */
    public static void axpy(float alpha, float[] src, int si, float[] dst, int di, int n) {
        int i = 0, lanes = S.length();
        FloatVector a = FloatVector.broadcast(S, alpha);
        for (; i <= n - lanes; i += lanes) {
            FloatVector.fromArray(S, src, si + i).fma(a, FloatVector.fromArray(S, dst, di + i)).intoArray(dst, di + i);
        }
        for (; i < n; i++) dst[di + i] += alpha * src[si + i];
    }

    /** a[off..off+n) /= by, element by element (a true division, not a multiply by 1/by, as torch does). */
    public static void divide(float[] a, int off, int n, float by) {
        for (int i = 0; i < n; i++) a[off + i] /= by;
    }
}
