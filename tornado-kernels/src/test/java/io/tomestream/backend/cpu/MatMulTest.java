package io.tomestream.backend.cpu;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

class MatMulTest {

    @Test
    void matchesNaiveProductForAwkwardShapes() {
        SplittableRandom rnd = new SplittableRandom(1);
        int[][] shapes = {{1, 1, 1}, {3, 5, 7}, {4, 16, 16}, {67, 33, 300}, {130, 10, 64}, {9, 1152, 384}};
        try (WorkerPool pool = new WorkerPool(3)) {
            for (int[] s : shapes) {
                int m = s[0], n = s[1], k = s[2];
                float[] a = random(rnd, m * k), w = random(rnd, n * k), bias = random(rnd, n), c0 = random(rnd, m * n);
                PackedMatrix pw = new PackedMatrix(w, bias, n, k);
                for (boolean accumulate : new boolean[] {false, true}) {
                    for (MatMul.Epilogue ep : MatMul.Epilogue.values()) {
                        float[] c = c0.clone();
                        MatMul.run(pool, a, 0, m, pw, c, 0, accumulate, ep);
                        for (int i = 0; i < m; i++) {
                            for (int j = 0; j < n; j++) {
                                double ref = bias[j] + (accumulate ? c0[i * n + j] : 0);
                                for (int kk = 0; kk < k; kk++) ref += (double) a[i * k + kk] * w[j * k + kk];
                                if (ep == MatMul.Epilogue.GELU) ref = Activations.gelu((float) ref);
                                assertEquals(ref, c[i * n + j], 1e-4 * Math.max(1, Math.abs(ref)),
                                        "shape " + m + "x" + n + "x" + k + " at " + i + "," + j);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void geluMatchesErfDefinition() {
        float[] xs = new float[101];
        for (int i = 0; i < xs.length; i++) xs[i] = -6 + 0.12f * i;
        float[] v = xs.clone();
        Activations.gelu(v, 0, v.length);
        for (int i = 0; i < xs.length; i++) {
            double x = xs[i];
            double ref = 0.5 * x * (1 + erf(x / Math.sqrt(2)));
            assertEquals(ref, v[i], 2e-6 * Math.max(1, Math.abs(ref)), "gelu(" + x + ")");
        }
    }

    /** erf by its Taylor series, exact enough in double for |x| <= 4.3. */
    private static double erf(double x) {
        double sum = 0, term = x;
        for (int n = 0; n < 200; n++) {
            sum += term / (2 * n + 1);
            term *= -x * x / (n + 1);
        }
        return 2 / Math.sqrt(Math.PI) * sum;
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        return a;
    }
}
