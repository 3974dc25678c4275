package io.tomestream.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * One attention head of one image, softmax(q·kᵀ·scale + log size)·v, as two small GEMMs. Keys and
 * values are packed into panels of 16 columns, so that, like {@link MatMul}, a 4-row micro-kernel
 * keeps 8 accumulators in registers and streams one panel with unit stride. One instance per
 * thread: it owns the packing buffers.
 */
final class Attention {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final int NR = 2 * L; // columns per panel
    private static final int MR = 4;     // query rows per micro-kernel

    private final int headDim, dimPanels;
    private final float[] q, keys, values, probs;
    private final int maxPadded;

    Attention(int maxTokens, int headDim) {
        this.headDim = headDim;
        this.dimPanels = (headDim + NR - 1) / NR;
        this.maxPadded = (maxTokens + NR - 1) / NR * NR;
        q = new float[maxTokens * headDim];
        keys = new float[maxPadded * headDim];          // [token panel][d][NR]
        values = new float[dimPanels * maxPadded * NR]; // [d panel][token][NR]
        probs = new float[MR * maxPadded];
    }

    /**
     * @param qkv      rows of [q | k | v] for every token, {@code stride} floats apart, from {@code base}
     * @param head     offset of this head inside each of q, k and v
     * @param dim      the model width: k starts {@code dim} after q, v {@code 2·dim}
     * @param logSize  log of each token's size (proportional attention), or null before any merge
     * @param out      receives each token's head output at {@code outBase + t·outStride}
     */
    void run(float[] qkv, int base, int stride, int dim, int head, int tokens, float scale,
             float[] logSize, int sizeBase, float[] out, int outBase, int outStride) {
        int padded = (tokens + NR - 1) / NR * NR;
        pack(qkv, base, stride, dim, head, tokens, padded, scale);
        for (int i = 0; i < tokens; i += MR) {
            int rows = Math.min(MR, tokens - i);
            for (int j = 0; j < padded; j += NR) scores(i, rows, j, padded);
            for (int r = 0; r < rows; r++) {
                int at = r * padded;
                if (logSize != null) {
                    for (int j = 0; j < tokens; j++) probs[at + j] += logSize[sizeBase + j];
                }
                Activations.softmax(probs, at, tokens);
            }
            for (int p = 0; p < dimPanels; p++) weightedValues(i, rows, p, tokens, padded, out, outBase, outStride);
        }
    }

    /** Scaled queries as rows; keys and values into zero-padded panels. */
    private void pack(float[] qkv, int base, int stride, int dim, int head, int tokens, int padded, float scale) {
        for (int t = 0; t < tokens; t++) {
            int row = base + t * stride + head;
            for (int d = 0; d < headDim; d++) q[t * headDim + d] = qkv[row + d] * scale;
            int kAt = (t / NR) * headDim * NR + t % NR;
            for (int d = 0; d < headDim; d++) keys[kAt + d * NR] = qkv[row + dim + d];
            for (int d = 0; d < headDim; d++) {
                values[((d / NR) * maxPadded + t) * NR + d % NR] = qkv[row + 2 * dim + d];
            }
        }
        for (int t = tokens; t < padded; t++) {
            int kAt = (t / NR) * headDim * NR + t % NR;
            for (int d = 0; d < headDim; d++) keys[kAt + d * NR] = 0f;
        }
        for (int p = 0; p < dimPanels; p++) {
            for (int t = 0; t < tokens; t++) {
                for (int d = headDim - p * NR; d < NR; d++) values[(p * maxPadded + t) * NR + d] = 0f;
            }
        }
    }

    /** probs[r][j..j+NR) = q_{i+r} · k_j for up to 4 rows. */
    private void scores(int i, int rows, int j, int padded) {
        int panel = (j / NR) * headDim * NR;
        int q0 = i * headDim, q1 = q0 + headDim * Math.min(1, rows - 1), q2 = q0 + headDim * Math.min(2, rows - 1),
                q3 = q0 + headDim * Math.min(3, rows - 1);
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        for (int d = 0; d < headDim; d++) {
            FloatVector k0 = FloatVector.fromArray(S, keys, panel + d * NR);
            FloatVector k1 = FloatVector.fromArray(S, keys, panel + d * NR + L);
            FloatVector x = FloatVector.broadcast(S, q[q0 + d]);
            a00 = x.fma(k0, a00);
            a01 = x.fma(k1, a01);
            x = FloatVector.broadcast(S, q[q1 + d]);
            a10 = x.fma(k0, a10);
            a11 = x.fma(k1, a11);
            x = FloatVector.broadcast(S, q[q2 + d]);
            a20 = x.fma(k0, a20);
            a21 = x.fma(k1, a21);
            x = FloatVector.broadcast(S, q[q3 + d]);
            a30 = x.fma(k0, a30);
            a31 = x.fma(k1, a31);
        }
        a00.intoArray(probs, j);
        a01.intoArray(probs, j + L);
        if (rows > 1) {
            a10.intoArray(probs, padded + j);
            a11.intoArray(probs, padded + j + L);
        }
        if (rows > 2) {
            a20.intoArray(probs, 2 * padded + j);
            a21.intoArray(probs, 2 * padded + j + L);
        }
        if (rows > 3) {
            a30.intoArray(probs, 3 * padded + j);
            a31.intoArray(probs, 3 * padded + j + L);
        }
    }

    /** out_{i+r}[panel] = Σ_j probs[r][j] · v_j[panel] for up to 4 rows. */
    private void weightedValues(int i, int rows, int p, int tokens, int padded, float[] out, int outBase, int outStride) {
        int panel = p * maxPadded * NR;
        int p0 = 0, p1 = padded * Math.min(1, rows - 1), p2 = padded * Math.min(2, rows - 1), p3 = padded * Math.min(3, rows - 1);
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        for (int j = 0; j < tokens; j++) {
            FloatVector v0 = FloatVector.fromArray(S, values, panel + j * NR);
            FloatVector v1 = FloatVector.fromArray(S, values, panel + j * NR + L);
            FloatVector x = FloatVector.broadcast(S, probs[p0 + j]);
            a00 = x.fma(v0, a00);
            a01 = x.fma(v1, a01);
            x = FloatVector.broadcast(S, probs[p1 + j]);
            a10 = x.fma(v0, a10);
            a11 = x.fma(v1, a11);
            x = FloatVector.broadcast(S, probs[p2 + j]);
            a20 = x.fma(v0, a20);
            a21 = x.fma(v1, a21);
            x = FloatVector.broadcast(S, probs[p3 + j]);
            a30 = x.fma(v0, a30);
            a31 = x.fma(v1, a31);
        }
        int d0 = p * NR, width = Math.min(NR, headDim - d0);
        store(a00, a01, out, outBase + i * outStride + d0, width);
        if (rows > 1) store(a10, a11, out, outBase + (i + 1) * outStride + d0, width);
        if (rows > 2) store(a20, a21, out, outBase + (i + 2) * outStride + d0, width);
        if (rows > 3) store(a30, a31, out, outBase + (i + 3) * outStride + d0, width);
    }

    private static void store(FloatVector lo, FloatVector hi, float[] out, int at, int width) {
        if (width == NR) {
            lo.intoArray(out, at);
            hi.intoArray(out, at + L);
        } else { // a head width that isn't a multiple of 16: only the valid lanes
            for (int c = 0; c < width; c++) out[at + c] = c < L ? lo.lane(c) : hi.lane(c - L);
        }
    }
}
