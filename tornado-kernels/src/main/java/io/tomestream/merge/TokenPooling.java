package io.tomestream.merge;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The {@code pool} {@link TokenReducer}: Token Pooling (Marin et al., WACV 2023), without training.
 * The tokens (all but the class and distillation tokens) are clustered by weighted K-medoids on their
 * features, with each token weighted by its size, into as many clusters as the block keeps; each
 * cluster becomes one token, the size-weighted average of its members.
 *
 * <p>Deterministic and cheap: squared Euclidean distances between all pairs (about n²·dim/2
 * multiply-adds for n tokens, the same order as ToMe's similarity matrix), a greedy initialisation
 * (the weighted medoid of all tokens, then repeatedly the token farthest from the chosen medoids,
 * weighted by size), then at most {@value #ITERATIONS} rounds of assigning each token to its nearest
 * medoid and moving each medoid to the member with the least weighted distance to the rest. Ties go
 * to the lower position, and a medoid stays put unless another member is strictly better. Output
 * order: the class (and distillation) token, then one token per cluster, ordered by the cluster's
 * first position.
 */
public final class TokenPooling implements TokenReducer {
    static final int ITERATIONS = 3;
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    private float[] dist = new float[0];
    private float[] nearest = new float[0];
    private int[] medoid = new int[0], slotOf = new int[0], cluster = new int[0], outIdx = new int[0],
            start = new int[0], members = new int[0];

    @Override
    public String name() {
        return "pool";
    }

    @Override
    public Signal signal() {
        return Signal.FEATURES;
    }

    @Override
    public void plan(TokenReducer.TokenRows rows, int r, MergePlan plan) {
        float[] x = rows.signal(), size = rows.size();
        int offset = rows.offset(), dim = rows.width(), sizeOffset = rows.sizeOffset(), tokens = rows.count();
        boolean classToken = rows.classToken(), distToken = rows.distToken();
        int prefix = (classToken ? 1 : 0) + (distToken ? 1 : 0);
        int n = tokens - prefix, k = n - r;
        if (r < 1 || k < 1) throw new IllegalArgumentException("can't pool " + n + " tokens into " + k);
        ensure(n);
        distances(x, offset + prefix * dim, dim, n);
        int w = sizeOffset + prefix; // size[w + i] is token i's weight
        initialise(size, w, n, k);
        assign(n, k);
        for (int it = 0; it < ITERATIONS; it++) {
            if (!update(size, w, n, k)) break;
            assign(n, k);
        }

        int next = 0;
        for (int p = 0; p < prefix; p++) plan.target[p] = next++;
        java.util.Arrays.fill(outIdx, 0, k, -1);
        int merged = 0;
        for (int i = 0; i < n; i++) {
            int c = cluster[i];
            if (outIdx[c] < 0) outIdx[c] = next++;
            plan.target[prefix + i] = outIdx[c];
            if (medoid[c] != i) {
                plan.src[merged] = prefix + i;
                plan.dst[merged] = prefix + medoid[c];
                merged++;
            }
        }
        plan.merged = merged;
        plan.outTokens = next;
        plan.weighted = false;
    }

    /** The pairwise squared distances between the n tokens from {@code at}. */
    private void distances(float[] x, int at, int dim, int n) {
        for (int i = 0; i < n; i++) {
            dist[i * n + i] = 0f;
            for (int j = i + 1; j < n; j++) {
                float d = squaredDistance(x, at + i * dim, at + j * dim, dim);
                dist[i * n + j] = d;
                dist[j * n + i] = d;
            }
        }
    }

    private static float squaredDistance(float[] x, int a, int b, int n) {
        int d = 0;
        float sum = 0;
        if (n >= L) {
            FloatVector acc = FloatVector.zero(S);
            for (; d <= n - L; d += L) {
                FloatVector diff = FloatVector.fromArray(S, x, a + d).sub(FloatVector.fromArray(S, x, b + d));
                acc = diff.fma(diff, acc);
            }
            sum = io.tomestream.simd.Vectors.sum(acc);
        }
        for (; d < n; d++) {
            float diff = x[a + d] - x[b + d];
            sum += diff * diff;
        }
        return sum;
    }

    /** The weighted medoid of all tokens, then k − 1 times the token farthest (× size) from the chosen ones. */
    private void initialise(float[] size, int w, int n, int k) {
        java.util.Arrays.fill(slotOf, 0, n, -1);
        int first = 0;
        float best = Float.POSITIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            float c = cost(i, size, w, n, null, 0, n);
            if (c < best) {
                best = c;
                first = i;
            }
        }
        choose(0, first);
        for (int i = 0; i < n; i++) nearest[i] = dist[i * n + first];
        for (int c = 1; c < k; c++) {
            int far = -1;
            float farthest = 0;
            for (int i = 0; i < n; i++) {
                if (slotOf[i] >= 0) continue;
                float v = size[w + i] * nearest[i];
                if (far < 0 || v > farthest) {
                    far = i;
                    farthest = v;
                }
            }
            choose(c, far);
            for (int i = 0; i < n; i++) nearest[i] = Math.min(nearest[i], dist[i * n + far]);
        }
    }

    private void choose(int slot, int token) {
        medoid[slot] = token;
        slotOf[token] = slot;
    }

    /** Each medoid to its own cluster, every other token to its nearest medoid. */
    private void assign(int n, int k) {
        for (int i = 0; i < n; i++) {
            if (slotOf[i] >= 0) {
                cluster[i] = slotOf[i];
                continue;
            }
            int bestSlot = 0;
            float best = dist[i * n + medoid[0]];
            for (int c = 1; c < k; c++) {
                float d = dist[i * n + medoid[c]];
                if (d < best) {
                    best = d;
                    bestSlot = c;
                }
            }
            cluster[i] = bestSlot;
        }
    }

    /** Moves each medoid to the member closest (weighted) to its cluster; whether any moved. */
    private boolean update(float[] size, int w, int n, int k) {
        java.util.Arrays.fill(start, 0, k + 1, 0);
        for (int i = 0; i < n; i++) start[cluster[i] + 1]++;
        for (int c = 0; c < k; c++) start[c + 1] += start[c];
        for (int i = 0; i < n; i++) members[start[cluster[i]]++] = i; // start[c] now ends cluster c
        boolean moved = false;
        int from = 0;
        for (int c = 0; c < k; c++) {
            int to = start[c];
            if (to - from > 1) {
                int m = medoid[c];
                float best = cost(m, size, w, n, members, from, to);
                for (int j = from; j < to; j++) {
                    int candidate = members[j];
                    if (candidate == m) continue;
                    float v = cost(candidate, size, w, n, members, from, to);
                    if (v < best) {
                        best = v;
                        m = candidate;
                    }
                }
                if (m != medoid[c]) {
                    slotOf[medoid[c]] = -1;
                    choose(c, m);
                    moved = true;
                }
            }
            from = to;
        }
        return moved;
    }

    /** Σ size·distance from token {@code i} to {@code members[from..to)}, or to every token when members is null. */
    private float cost(int i, float[] size, int w, int n, int[] members, int from, int to) {
        float sum = 0;
        for (int j = from; j < to; j++) {
            int t = members == null ? j : members[j];
            sum += size[w + t] * dist[i * n + t];
        }
        return sum;
    }

    /** The pairwise distances. */
    @Override
    public double flops(int tokens, int prefix, int dim, int headDim) {
        double n = tokens - prefix;
        return n * (n - 1) * dim;
    }

    private void ensure(int n) {
        if (nearest.length < n) {
            dist = new float[n * n];
            nearest = new float[n];
            medoid = new int[n];
            slotOf = new int[n];
            cluster = new int[n];
            outIdx = new int[n];
            start = new int[n + 1];
            members = new int[n];
        }
    }
}
