package io.tomestream.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * C[m, n] = A[m, k] · Wᵀ + bias (or C += that), for a {@link PackedMatrix} W. The work is cut into
 * tiles of rows × panels that threads take one at a time; inside a tile, k is blocked so that the
 * panel slice stays in L1 while a 4-row micro-kernel keeps 8 accumulators in registers.
 */
public final class MatMul {
    private static final VectorSpecies<Float> S = PackedMatrix.S;
    private static final int L = S.length();
    private static final int NR = PackedMatrix.NR;
    private static final int MR = 4;
    private static final int ROWS_PER_TILE = 64;
    private static final int PANELS_PER_TILE = 4;
    private static final int KC = 384;

    public enum Epilogue { NONE, GELU }

    /** One product: C[cOff..] (+)= A[aOff..][m × k] · Wᵀ + bias, then the epilogue. */
    private record Product(float[] a, int aOff, int m, PackedMatrix w, float[] c, int cOff, boolean accumulate,
                           Epilogue epilogue, int rowTiles) {
    }

    private MatMul() {
    }

    /** Runs one product on the pool. {@code accumulate} adds into C (a fused residual). */
    public static void run(WorkerPool pool, float[] a, int aOff, int m, PackedMatrix w, float[] c, int cOff,
                           boolean accumulate, Epilogue epilogue) {
        int rowTiles = (m + ROWS_PER_TILE - 1) / ROWS_PER_TILE;
        int panelTiles = (w.panels + PANELS_PER_TILE - 1) / PANELS_PER_TILE;
        Product p = new Product(a, aOff, m, w, c, cOff, accumulate, epilogue, rowTiles);
        pool.run(rowTiles * panelTiles, tile -> tile(p, tile));
    }

    private static void tile(Product pr, int tile) {
        PackedMatrix w = pr.w();
        int rt = tile % pr.rowTiles(), pt = tile / pr.rowTiles();
        int i0 = rt * ROWS_PER_TILE, i1 = Math.min(pr.m(), i0 + ROWS_PER_TILE);
        int p0 = pt * PANELS_PER_TILE, p1 = Math.min(w.panels, p0 + PANELS_PER_TILE);
        int k = w.k;
        for (int k0 = 0; k0 < k; k0 += KC) {
            int k1 = Math.min(k, k0 + KC);
            boolean first = k0 == 0;
            for (int p = p0; p < p1; p++) {
                int col = p * NR;
                if (col + NR <= w.n) {
                    int i = i0;
                    for (; i + MR <= i1; i += MR) kernel4(pr, i, p, col, k0, k1, first);
                    for (; i < i1; i++) kernel1(pr, i, p, col, k0, k1, first);
                } else {
                    for (int i = i0; i < i1; i++) kernel1Masked(pr, i, p, col, k0, k1, first);
                }
            }
        }
        if (pr.epilogue() == Epilogue.GELU) {
            int c0 = p0 * NR, c1 = Math.min(w.n, p1 * NR);
            for (int i = i0; i < i1; i++) Activations.gelu(pr.c(), pr.cOff() + i * w.n + c0, c1 - c0);
        }
    }

    private static FloatVector start(Product pr, int row, int col, boolean first) {
        int at = pr.cOff() + row * pr.w().n + col;
        if (!first || pr.accumulate()) {
            FloatVector acc = FloatVector.fromArray(S, pr.c(), at);
            return first ? acc.add(FloatVector.fromArray(S, pr.w().bias, col)) : acc;
        }
        return FloatVector.fromArray(S, pr.w().bias, col);
    }

    private static void kernel4(Product pr, int i, int p, int col, int k0, int k1, boolean first) {
        float[] a = pr.a(), c = pr.c(), wd = pr.w().data;
        int lda = pr.w().k;
        int r0 = pr.aOff() + i * lda, r1 = r0 + lda, r2 = r1 + lda, r3 = r2 + lda;
        FloatVector c00 = start(pr, i, col, first), c01 = start(pr, i, col + L, first);
        FloatVector c10 = start(pr, i + 1, col, first), c11 = start(pr, i + 1, col + L, first);
        FloatVector c20 = start(pr, i + 2, col, first), c21 = start(pr, i + 2, col + L, first);
        FloatVector c30 = start(pr, i + 3, col, first), c31 = start(pr, i + 3, col + L, first);
        int wp = p * lda * NR;
        for (int kk = k0; kk < k1; kk++) {
            FloatVector b0 = FloatVector.fromArray(S, wd, wp + kk * NR);
            FloatVector b1 = FloatVector.fromArray(S, wd, wp + kk * NR + L);
            FloatVector x0 = FloatVector.broadcast(S, a[r0 + kk]);
            c00 = x0.fma(b0, c00);
            c01 = x0.fma(b1, c01);
            FloatVector x1 = FloatVector.broadcast(S, a[r1 + kk]);
            c10 = x1.fma(b0, c10);
            c11 = x1.fma(b1, c11);
            FloatVector x2 = FloatVector.broadcast(S, a[r2 + kk]);
            c20 = x2.fma(b0, c20);
            c21 = x2.fma(b1, c21);
            FloatVector x3 = FloatVector.broadcast(S, a[r3 + kk]);
            c30 = x3.fma(b0, c30);
            c31 = x3.fma(b1, c31);
        }
        int n = pr.w().n, at = pr.cOff() + i * n + col;
        c00.intoArray(c, at);
        c01.intoArray(c, at + L);
        c10.intoArray(c, at + n);
        c11.intoArray(c, at + n + L);
        c20.intoArray(c, at + 2 * n);
        c21.intoArray(c, at + 2 * n + L);
        c30.intoArray(c, at + 3 * n);
        c31.intoArray(c, at + 3 * n + L);
    }

    private static void kernel1(Product pr, int i, int p, int col, int k0, int k1, boolean first) {
        float[] a = pr.a(), wd = pr.w().data;
        int r0 = pr.aOff() + i * pr.w().k;
        FloatVector c0 = start(pr, i, col, first), c1 = start(pr, i, col + L, first);
        int wp = p * pr.w().k * NR;
        for (int kk = k0; kk < k1; kk++) {
            FloatVector x = FloatVector.broadcast(S, a[r0 + kk]);
            c0 = x.fma(FloatVector.fromArray(S, wd, wp + kk * NR), c0);
            c1 = x.fma(FloatVector.fromArray(S, wd, wp + kk * NR + L), c1);
        }
        int at = pr.cOff() + i * pr.w().n + col;
        c0.intoArray(pr.c(), at);
        c1.intoArray(pr.c(), at + L);
    }

    /** The last panel of a matrix whose width isn't a multiple of NR: masked loads and stores. */
    private static void kernel1Masked(Product pr, int i, int p, int col, int k0, int k1, boolean first) {
        float[] a = pr.a(), c = pr.c(), wd = pr.w().data, bias = pr.w().bias;
        int n = pr.w().n, at = pr.cOff() + i * n + col;
        VectorMask<Float> m0 = S.indexInRange(col, n), m1 = S.indexInRange(col + L, n);
        FloatVector c0, c1;
        if (!first || pr.accumulate()) {
            c0 = FloatVector.fromArray(S, c, at, m0);
            c1 = FloatVector.fromArray(S, c, at + L, m1);
            if (first) {
                c0 = c0.add(FloatVector.fromArray(S, bias, col, m0));
                c1 = c1.add(FloatVector.fromArray(S, bias, col + L, m1));
            }
        } else {
            c0 = FloatVector.fromArray(S, bias, col, m0);
            c1 = FloatVector.fromArray(S, bias, col + L, m1);
        }
        int r0 = pr.aOff() + i * pr.w().k;
        int wp = p * pr.w().k * NR;
        for (int kk = k0; kk < k1; kk++) {
            FloatVector x = FloatVector.broadcast(S, a[r0 + kk]);
            c0 = x.fma(FloatVector.fromArray(S, wd, wp + kk * NR), c0);
            c1 = x.fma(FloatVector.fromArray(S, wd, wp + kk * NR + L), c1);
        }
        c0.intoArray(c, at, m0);
        c1.intoArray(c, at + L, m1);
    }
}
