package io.tomestream.serving;

import io.tomestream.merge.Schedule;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One schedule the load-adaptive budget can pick: its spec as the user wrote it, and the tokens it
 * removes in each block of this model.
 *
 * @param spec      a {@link Schedule} spec, recorded in each Classification made with it
 * @param rPerBlock tokens removed per block, before the backend's cap
 */
public record Rung(String spec, int[] rPerBlock) {

    /** Mean r per block: the number a gauge shows and the benchmark reports. */
    public double meanR() {
        return Arrays.stream(rPerBlock).average().orElse(0);
    }

    public static Rung of(String spec, int depth) {
        Schedule s = Schedule.parse(spec);
        return new Rung(s.toString(), s.perLayer(depth));
    }

    /**
     * Parses a ladder, {@code 0;4:-1;8:-1;16:-1}: schedules separated by ';', from the least merging
     * to the most. Each must remove at least as many tokens in total as the one before.
     */
    public static List<Rung> ladder(String specs, int depth) {
        List<Rung> rungs = new ArrayList<>();
        for (String spec : specs.split(";")) {
            if (spec.isBlank()) continue;
            Rung r = of(spec.strip(), depth);
            if (!rungs.isEmpty() && total(r) < total(rungs.getLast())) {
                throw new IllegalArgumentException("the ladder must go from least to most merging: '" + r.spec()
                        + "' removes fewer tokens than '" + rungs.getLast().spec() + "' before it");
            }
            rungs.add(r);
        }
        if (rungs.isEmpty()) throw new IllegalArgumentException("the ladder needs at least one schedule");
        return List.copyOf(rungs);
    }

    private static int total(Rung r) {
        return Arrays.stream(r.rPerBlock).sum();
    }

    @Override
    public String toString() {
        return spec;
    }
}
