package io.tomestream.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * A Linear weight [n, k] repacked for {@link MatMul}: columns of the output are grouped into panels
 * of {@link #NR} (two SIMD vectors), and each panel stores its k rows contiguously. The kernel then
 * streams one panel with unit stride while the activations are broadcast, with no transposes.
 */
public final class PackedMatrix {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    public static final int NR = 2 * S.length();

    final int n, k, panels;
    final float[] data;
    final float[] bias; // length n, never null

    /** Packs a row-major [n, k] weight (timm's Linear layout) and its bias (null for none). */
    public PackedMatrix(float[] weight, float[] bias, int n, int k) {
        if (weight.length != n * k) throw new IllegalArgumentException("weight has " + weight.length + " values, not " + n + "x" + k);
        this.n = n;
        this.k = k;
        this.panels = (n + NR - 1) / NR;
        this.data = new float[panels * k * NR];
        for (int col = 0; col < n; col++) {
            int panel = col / NR, lane = col % NR;
            int base = panel * k * NR + lane;
            for (int kk = 0; kk < k; kk++) data[base + kk * NR] = weight[col * k + kk];
        }
        this.bias = bias == null ? new float[n] : bias.clone();
    }

    public int rows() {
        return n;
    }

    public int cols() {
        return k;
    }
}
