package io.tomestream.merge;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class BipartiteMatchingTest {

    /** Tokens as 2-d keys: positions 0..5 are A0 B0 A1 B1 A2 B2. */
    private static MergePlan plan(float[][] keys, int r, boolean cls, boolean dist) {
        float[] metric = new float[keys.length * 2];
        for (int t = 0; t < keys.length; t++) {
            metric[2 * t] = keys[t][0];
            metric[2 * t + 1] = keys[t][1];
        }
        MergePlan plan = new MergePlan(keys.length);
        new BipartiteMatching().plan(new TokenReducer.TokenRows(metric, 0, 2, null, 0, keys.length, cls, dist), r, plan);
        return plan;
    }

    @Test
    void strongestEdgesMergeAndOutputKeepsUnmergedAThenB() {
        float[][] keys = {
                {1, 0},   // A0 (class token)
                {0, 1},   // B0
                {1, 1},   // A1: equally close to B0 and B1 -> lowest B index wins
                {1, 0.01f}, // B1
                {0.01f, 1}, // A2: almost B0
                {-1, 0},  // B2
        };
        MergePlan p = plan(keys, 1, true, false);
        assertEquals(1, p.merged);
        assertEquals(4, p.src[0]); // A2 has the strongest edge
        assertEquals(1, p.dst[0]); // into B0
        // output: A0, A1, then B0 B1 B2; A2 lands in B0
        assertArrayEquals(new int[] {0, 2, 1, 3, 2, 4}, java.util.Arrays.copyOf(p.target, 6));
        assertEquals(5, p.outTokens);
    }

    @Test
    void classTokenIsNeverASource() {
        float[][] keys = {{0, 1}, {0, 1}, {1, 0}, {-1, 0.2f}};
        MergePlan p = plan(keys, 1, true, false);
        assertEquals(2, p.src[0]); // A1, though A0 matches B0 exactly
    }

    @Test
    void distillationTokenIsNeverADestination() {
        float[][] keys = {{1, 0}, {0, 1}, {0, 1}, {1, 0.5f}, {0.3f, 1}, {1, 1}};
        MergePlan p = plan(keys, 2, true, true);
        for (int i = 0; i < p.merged; i++) {
            assertEquals(true, p.dst[i] != 1, "merged into the distillation token");
            assertEquals(true, p.src[i] != 0, "merged the class token");
        }
        // class token first, distillation token second
        assertEquals(0, p.target[0]);
        assertEquals(1, p.target[1]);
    }

    @Test
    void tiesBreakTowardsLowerIndices() {
        float[][] keys = {{1, 0}, {1, 0}, {1, 0}, {1, 0}, {1, 0}, {1, 0}, {1, 0}};
        MergePlan p = plan(keys, 2, false, false);
        // every edge ties: sources are A0, A1 in order, each into B0
        assertArrayEquals(new int[] {0, 2}, java.util.Arrays.copyOf(p.src, 2));
        assertArrayEquals(new int[] {1, 1}, java.util.Arrays.copyOf(p.dst, 2));
    }

    @Test
    void capIsHalfOfTheMergeableTokens() {
        assertEquals(98, BipartiteMatching.cap(200, 197, true, false));
        assertEquals(98, BipartiteMatching.cap(200, 198, true, true));
        assertEquals(13, BipartiteMatching.cap(13, 197, true, false));
        assertEquals(0, BipartiteMatching.cap(5, 2, true, true));
    }
}
