package io.tomestream.serving;

import java.util.List;
import java.util.function.LongSupplier;

/**
 * The load-adaptive token budget ({@code budget=auto}). ToMe's r changes the cost of a forward pass
 * with no reload, so each micro-batch can run on its own schedule. Before each batch this picks the
 * least merging rung of the ladder under which the backlog is expected to clear within the latency
 * target:
 *
 * <pre>
 *   expected latency = age of the oldest event in the batch
 *                    + cost(rung, batch + backlog behind it)
 *                    + cost(rung, batch)
 * </pre>
 *
 * where the backlog is what waits behind this batch (consumer lag and other tasks' queued events), and
 * the cost comes from the {@link CostModel}. The last term is for the events that arrive while this batch
 * runs: they wait for it, and a rung is chosen only at batch boundaries, so without it the latency
 * overshoots the target by up to one batch whenever the load rises. When no rung meets the target, it takes the most merging
 * one, which drains the backlog fastest. At light load that is rung 0, full accuracy; under overload it
 * trades accuracy for staying on time, instead of letting the queue, and with it every event's
 * latency, grow without bound.
 */
public final class BudgetController {
    private final List<Rung> ladder;
    private final CostModel costs;
    private final long targetMs;
    private final LongSupplier clockMs;

    /** @param clockMs wall-clock milliseconds, in the same clock as the events' times */
    public BudgetController(List<Rung> ladder, CostModel costs, long targetMs, LongSupplier clockMs) {
        if (ladder.isEmpty()) throw new IllegalArgumentException("the ladder needs at least one schedule");
        if (targetMs <= 0) throw new IllegalArgumentException("the latency target must be positive, got " + targetMs);
        this.ladder = List.copyOf(ladder);
        this.costs = costs;
        this.targetMs = targetMs;
        this.clockMs = clockMs;
    }

    /**
     * @param images            the batch about to run
     * @param backlog           events waiting behind it
     * @param oldestEventTimeMs the event time of the batch's oldest event
     * @return the index of the rung to run it on
     */
    public int choose(int images, long backlog, long oldestEventTimeMs) {
        long age = Math.max(0, clockMs.getAsLong() - oldestEventTimeMs);
        long queued = images + Math.max(0, backlog);
        for (int rung = 0; rung < ladder.size(); rung++) {
            double expected = age + costs.batchMs(rung, (int) Math.min(queued, Integer.MAX_VALUE)) + costs.batchMs(rung, images);
            if (expected <= targetMs) return rung;
        }
        return ladder.size() - 1;
    }

    public List<Rung> ladder() {
        return ladder;
    }

    public CostModel costs() {
        return costs;
    }

    public long targetMs() {
        return targetMs;
    }
}
