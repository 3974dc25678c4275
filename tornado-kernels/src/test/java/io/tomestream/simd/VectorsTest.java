package io.tomestream.simd;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VectorsTest {

    @Test
    void expIsAccurateAndScalarMatchesVectorBitForBit() {
        int lanes = Vectors.S.length();
        float[] xs = new float[lanes];
        float[] out = new float[lanes];
        double worst = 0;
        for (float x0 = -90f; x0 < 88f; x0 += 0.0137f * lanes) {
            for (int i = 0; i < lanes; i++) xs[i] = x0 + 0.0137f * i;
            Vectors.exp(FloatVector.fromArray(Vectors.S, xs, 0)).intoArray(out, 0);
            for (int i = 0; i < lanes; i++) {
                float x = xs[i];
                assertEquals(Float.floatToIntBits(Vectors.exp(x)), Float.floatToIntBits(out[i]), "exp(" + x + ")");
                if (x < -87.3f) {
                    assertEquals(0f, out[i]);
                } else if (x > -80f && x <= 88f) {
                    worst = Math.max(worst, Math.abs(out[i] / Math.exp(x) - 1));
                }
            }
        }
        assertTrue(worst < 3e-7, "max relative error " + worst);
    }

    @Test
    void sumAddsLanesInOrder() {
        float[] xs = new float[Vectors.S.length()];
        float want = 0;
        for (int i = 0; i < xs.length; i++) {
            xs[i] = 1f / (i + 3);
            want += xs[i];
        }
        assertEquals(want, Vectors.sum(FloatVector.fromArray(Vectors.S, xs, 0)));
    }
}
