package io.tomestream.metrics;

/** Nearest-rank percentiles of measured latencies, as the demo's and bench-stream's summaries report them. */
public final class Percentile {
    private Percentile() {
    }

    /** The value at rank ceil(p * n) of {@code sorted}; null when there are none. */
    public static Long nearestRank(long[] sorted, double p) {
        if (sorted.length == 0) return null;
        int rank = (int) Math.ceil(p * sorted.length);
        return sorted[Math.clamp(rank - 1, 0, sorted.length - 1)];
    }
}
