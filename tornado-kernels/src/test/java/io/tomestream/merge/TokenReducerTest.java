package io.tomestream.merge;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The three reducers behind one interface: token counts, protected tokens, determinism and small worked examples. */
class TokenReducerTest {

    private static final boolean[][] PREFIXES = {{true, false}, {true, true}, {false, false}};

    private static int width(TokenReducer reducer) {
        return switch (reducer.signal()) {
            case KEYS -> 8;
            case CLASS_ATTENTION -> 1;
            case FEATURES -> 12;
        };
    }

    /** A random signal of the reducer's kind; class attention is a probability row. */
    private static float[] signal(TokenReducer reducer, int tokens, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int w = width(reducer);
        float[] s = new float[tokens * w];
        for (int i = 0; i < s.length; i++) s[i] = (float) rnd.nextGaussian();
        if (reducer.signal() == TokenReducer.Signal.CLASS_ATTENTION) {
            double sum = 0;
            for (int i = 0; i < tokens; i++) sum += s[i] = (float) Math.exp(2 * s[i]);
            for (int i = 0; i < tokens; i++) s[i] /= (float) sum;
        }
        return s;
    }

    private static float[] sizes(int tokens, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed ^ 0x5eed);
        float[] s = new float[tokens];
        for (int i = 0; i < tokens; i++) s[i] = 1 + rnd.nextInt(4);
        return s;
    }

    private static MergePlan plan(TokenReducer reducer, float[] signal, float[] size, int tokens, int r, boolean cls, boolean dist) {
        MergePlan plan = new MergePlan(tokens);
        reducer.plan(new TokenReducer.TokenRows(signal, 0, width(reducer), size, 0, tokens, cls, dist), r, plan);
        return plan;
    }

    @Test
    void everyReducerEndsAtTheBudgetAndKeepsTheProtectedTokens() {
        for (Reducer name : Reducer.values()) {
            TokenReducer reducer = name.create();
            assertEquals(name.label(), reducer.name());
            for (boolean[] prefix : PREFIXES) {
                boolean cls = prefix[0], dist = prefix[1];
                if (reducer.unsupported(cls, dist) != null) continue;
                int protectedTokens = (cls ? 1 : 0) + (dist ? 1 : 0);
                for (int tokens : new int[] {4, 5, 17, 50, 197}) {
                    int max = TokenReducer.cap(Integer.MAX_VALUE, tokens, cls, dist);
                    for (int r = 1; r <= max; r += Math.max(1, max / 7)) {
                        String what = name + " cls=" + cls + " dist=" + dist + " T=" + tokens + " r=" + r;
                        long seed = 31L * tokens + r;
                        float[] size = sizes(tokens, seed);
                        MergePlan p = plan(reducer, signal(reducer, tokens, seed), size, tokens, r, cls, dist);
                        assertEquals(tokens - r, p.outTokens, what + ": tokens out");
                        assertEquals(r, p.merged, what + ": listed merges");
                        int[] members = new int[p.outTokens];
                        for (int t = 0; t < tokens; t++) {
                            assertTrue(p.target[t] >= 0 && p.target[t] < p.outTokens, what + ": target of " + t);
                            members[p.target[t]]++;
                        }
                        for (int q = 0; q < p.outTokens; q++) assertTrue(members[q] > 0, what + ": output " + q + " is empty");
                        for (int t = 0; t < protectedTokens; t++) {
                            assertEquals(t, p.target[t], what + ": protected token " + t + " moved");
                            assertEquals(1, members[t], what + ": something merged into protected token " + t);
                        }
                        for (int i = 0; i < p.merged; i++) {
                            assertTrue(p.src[i] >= protectedTokens && p.target[p.src[i]] == p.target[p.dst[i]], what + ": merge " + i);
                        }
                        // the shared apply step: sizes add up, protected tokens come through unchanged
                        float[] x = signal(Reducer.POOL.create(), tokens, seed + 1);
                        float[] out = new float[tokens * 12], sizeOut = new float[tokens];
                        p.apply(x, 0, size, 0, tokens, 12, out, 0, sizeOut, 0);
                        float in = 0, after = 0;
                        for (int t = 0; t < tokens; t++) in += size[t];
                        for (int q = 0; q < p.outTokens; q++) after += sizeOut[q];
                        assertEquals(in, after, 1e-3f, what + ": total size");
                        for (int t = 0; t < protectedTokens; t++) { // size·x / size: to rounding
                            assertArrayEquals(Arrays.copyOfRange(x, t * 12, t * 12 + 12), Arrays.copyOfRange(out, t * 12, t * 12 + 12), 1e-5f, what);
                        }
                    }
                }
            }
        }
    }

    @Test
    void plansAreDeterministicAndIndependentOfWhatTheInstanceDidBefore() {
        for (Reducer name : Reducer.values()) {
            TokenReducer used = name.create();
            plan(used, signal(used, 197, 99), sizes(197, 99), 197, 60, true, false); // grows and dirties the scratch
            for (int tokens : new int[] {65, 31}) {
                float[] s = signal(used, tokens, tokens), size = sizes(tokens, tokens);
                MergePlan a = plan(name.create(), s, size, tokens, 9, true, false);
                MergePlan b = plan(used, s, size, tokens, 9, true, false);
                MergePlan c = plan(used, s, size, tokens, 9, true, false);
                for (MergePlan other : new MergePlan[] {b, c}) {
                    assertArrayEquals(Arrays.copyOf(a.target, tokens), Arrays.copyOf(other.target, tokens), name.label());
                    assertArrayEquals(Arrays.copyOf(a.src, a.merged), Arrays.copyOf(other.src, other.merged), name.label());
                    assertArrayEquals(Arrays.copyOf(a.dst, a.merged), Arrays.copyOf(other.dst, other.merged), name.label());
                    assertEquals(a.weighted, other.weighted);
                    if (a.weighted) assertArrayEquals(Arrays.copyOf(a.weight, tokens), Arrays.copyOf(other.weight, tokens), name.label());
                }
            }
        }
    }

    /**
     * Class token, then six tokens the class token attends to with 0.5, 0.1, 0.3, 0.05, 0.02, 0.03.
     * Removing r = 2 fuses r + 1 = 3 tokens: the three least attended (4, 5, 6) become one token,
     * (0.05·x₄ + 0.02·x₅ + 0.03·x₆) / 0.1, after the kept tokens 1, 2, 3 in their order.
     */
    @Test
    void pruneKeepsTheMostAttendedTokensAndFusesTheRestByAttention() {
        float[] attention = {0.2f, 0.5f, 0.1f, 0.3f, 0.05f, 0.02f, 0.03f};
        float[] size = {1, 1, 2, 1, 1, 3, 1};
        MergePlan p = new MergePlan(7);
        new AttentivePruning().plan(new TokenReducer.TokenRows(attention, 0, 1, size, 0, 7, true, false), 2, p);
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 4, 4}, Arrays.copyOf(p.target, 7));
        assertEquals(5, p.outTokens);
        assertArrayEquals(new int[] {5, 6}, Arrays.copyOf(p.src, p.merged));
        assertArrayEquals(new int[] {4, 4}, Arrays.copyOf(p.dst, p.merged));

        float[] x = {9, 10, 20, 30, 40, 50, 60}; // one feature per token
        float[] out = new float[5], sizeOut = new float[5];
        p.apply(x, 0, size, 0, 7, 1, out, 0, sizeOut, 0);
        assertArrayEquals(new float[] {9, 10, 20, 30}, Arrays.copyOf(out, 4));
        assertEquals((0.05 * 40 + 0.02 * 50 + 0.03 * 60) / 0.1, out[4], 1e-4);
        assertArrayEquals(new float[] {1, 1, 2, 1, 5}, sizeOut);
    }

    @Test
    void pruneBreaksTiesTowardsLowerPositionsAndKeepsTheDistillationToken() {
        float[] attention = {0.5f, 0.3f, 0.05f, 0.05f, 0.05f, 0.05f};
        MergePlan p = new MergePlan(6);
        new AttentivePruning().plan(new TokenReducer.TokenRows(attention, 0, 1, new float[] {1, 1, 1, 1, 1, 1}, 0, 6, true, true), 1, p);
        // tokens 2..5 tie: 2 and 3 are kept, 4 and 5 fused, and the distillation token stays second
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 4}, Arrays.copyOf(p.target, 6));
        assertNotNull(new AttentivePruning().unsupported(false, false));
        assertNull(new AttentivePruning().unsupported(true, false));
    }

    /**
     * Class token, then 1-d features 0, 0.1, 5, 5.2, 10 of size 1; removing 2 leaves 3 clusters.
     * Initialisation: the weighted medoid of all is 5 (Σ distances 74.05, the least); the farthest
     * from it are 0 and 10 (25 each; the lower position wins), then 10. Each other token joins its
     * nearest medoid: 0.1 → 0 and 5.2 → 5. Output: class token, (0 + 0.1)/2, (5 + 5.2)/2, 10.
     */
    @Test
    void poolClustersNearbyTokensIntoSizeWeightedAverages() {
        float[] x = {7, 0, 0.1f, 5, 5.2f, 10};
        float[] size = {1, 1, 1, 1, 1, 1};
        MergePlan p = new MergePlan(6);
        new TokenPooling().plan(new TokenReducer.TokenRows(x, 0, 1, size, 0, 6, true, false), 2, p);
        assertArrayEquals(new int[] {0, 1, 1, 2, 2, 3}, Arrays.copyOf(p.target, 6));
        assertEquals(4, p.outTokens);
        // non-medoids into their medoids: 0.1 into 0 (position 1), 5.2 into 5 (position 3)
        assertArrayEquals(new int[] {2, 4}, Arrays.copyOf(p.src, p.merged));
        assertArrayEquals(new int[] {1, 3}, Arrays.copyOf(p.dst, p.merged));
        float[] out = new float[4], sizeOut = new float[4];
        p.apply(x, 0, size, 0, 6, 1, out, 0, sizeOut, 0);
        assertArrayEquals(new float[] {7, 0.05f, 5.1f, 10}, out, 1e-6f);
        assertArrayEquals(new float[] {1, 2, 2, 1}, sizeOut);
    }

    /**
     * The same tokens, with 5.2 holding 3 patches: the clusters are the same, but the medoid of
     * {5, 5.2} moves to 5.2 (weighted cost 1·0.04 against 3·0.04), and the merged token is
     * (5 + 3·5.2) / 4 = 5.15.
     */
    @Test
    void poolWeighsTokensBySize() {
        float[] x = {7, 0, 0.1f, 5, 5.2f, 10};
        float[] size = {1, 1, 1, 1, 3, 1};
        MergePlan p = new MergePlan(6);
        new TokenPooling().plan(new TokenReducer.TokenRows(x, 0, 1, size, 0, 6, true, false), 2, p);
        assertArrayEquals(new int[] {0, 1, 1, 2, 2, 3}, Arrays.copyOf(p.target, 6));
        assertArrayEquals(new int[] {2, 3}, Arrays.copyOf(p.src, p.merged));
        assertArrayEquals(new int[] {1, 4}, Arrays.copyOf(p.dst, p.merged));
        float[] out = new float[4], sizeOut = new float[4];
        p.apply(x, 0, size, 0, 6, 1, out, 0, sizeOut, 0);
        assertEquals(5.15f, out[2], 1e-6f);
        assertArrayEquals(new float[] {1, 2, 4, 1}, sizeOut);
    }

    @Test
    void poolOnIdenticalTokensStillEndsAtTheBudget() {
        float[] x = new float[10 * 4]; // ten identical tokens: every distance is 0
        float[] size = new float[10];
        Arrays.fill(size, 1);
        MergePlan p = new MergePlan(10);
        new TokenPooling().plan(new TokenReducer.TokenRows(x, 0, 4, size, 0, 10, false, false), 4, p);
        assertEquals(6, p.outTokens);
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 0, 0, 0, 0}, Arrays.copyOf(p.target, 10));
    }

    @Test
    void reducersByName() {
        assertEquals(Reducer.POOL, Reducer.of(" Pool "));
        assertEquals("tome", Reducer.TOME.label());
        assertInstanceOf(BipartiteMatching.class, Reducer.TOME.create());
        assertInstanceOf(AttentivePruning.class, Reducer.PRUNE.create());
        assertInstanceOf(TokenPooling.class, Reducer.POOL.create());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Reducer.of("evit"));
        assertEquals("unknown reducer 'evit' (available: tome, prune, pool)", e.getMessage());
        assertEquals(BipartiteMatching.cap(13, 197, true, false), TokenReducer.cap(13, 197, true, false));
    }
}
