package io.tomestream.merge;

/** Sorting of token indices by a score, with no allocation: the reducers' shared ordering rule. */
final class IndexSort {
    private IndexSort() {
    }

    /**
     * Stable merge sort of {@code idx[0..n)} by descending {@code key[idx[i]]}, so equal scores keep the
     * lower index first; NaN scores sort last. {@code scratch} holds at least {@code n} ints.
     */
    static void descending(int[] idx, int n, float[] key, int[] scratch) {
        for (int width = 1; width < n; width *= 2) {
            for (int lo = 0; lo < n - width; lo += 2 * width) {
                int mid = lo + width, hi = Math.min(lo + 2 * width, n);
                int i = lo, j = mid, k = lo;
                while (i < mid && j < hi) {
                    // take from the right only when strictly greater: that keeps the sort stable
                    scratch[k++] = greater(key[idx[j]], key[idx[i]]) ? idx[j++] : idx[i++];
                }
                while (i < mid) scratch[k++] = idx[i++];
                while (j < hi) scratch[k++] = idx[j++];
                System.arraycopy(scratch, lo, idx, lo, hi - lo);
            }
        }
    }

    /** NaN scores (a zero key) sort last, like -inf. */
    private static boolean greater(float x, float y) {
        if (Float.isNaN(x)) return false;
        if (Float.isNaN(y)) return true;
        return x > y;
    }
}
