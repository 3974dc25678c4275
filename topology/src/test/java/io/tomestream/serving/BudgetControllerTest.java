package io.tomestream.serving;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The load-adaptive budget on a fake clock and made-up costs: no model and no waiting. */
class BudgetControllerTest {
    private static final List<Rung> LADDER = Rung.ladder("0;8:-1;16:-1", 12);
    /** ms per image for each rung: r=0 is four times the most merging one. */
    private static final double[] COSTS = {40, 20, 10};

    private final AtomicLong now = new AtomicLong(1_000_000);

    private BudgetController controller(long targetMs) {
        return new BudgetController(LADDER, new CostModel(COSTS), targetMs, now::get);
    }

    // expected latency = age + cost x (batch + backlog) + cost x batch (the events arriving meanwhile wait for this batch)

    @Test
    void aLightLoadRunsWithoutMerging() {
        // 8 fresh events, nothing behind them: 8 x 40 + 8 x 40 = 640 ms, under 1000
        assertEquals(0, controller(1000).choose(8, 0, now.get()));
    }

    @Test
    void aBacklogPicksTheLeastMergingRungThatStillMeetsTheTarget() {
        BudgetController c = controller(1000);
        // 8 + 16 queued: r=0 needs 24 x 40 + 320 = 1280 ms, 8:-1 24 x 20 + 160 = 640 ms
        assertEquals(1, c.choose(8, 16, now.get()));
        // 8 + 40 queued: 8:-1 needs 48 x 20 + 160 = 1120 ms, 16:-1 48 x 10 + 80 = 560 ms
        assertEquals(2, c.choose(8, 40, now.get()));
    }

    @Test
    void theAgeOfTheOldestEventCounts() {
        BudgetController c = controller(1000);
        long eventTime = now.get();
        now.addAndGet(400); // the batch's oldest event has waited 400 ms already
        // r=0: 400 + 640 = 1040 ms; 8:-1: 400 + 320 = 720 ms
        assertEquals(1, c.choose(8, 0, eventTime));
    }

    @Test
    void whenNothingMeetsTheTargetTheMostMergingRungDrainsFastest() {
        BudgetController c = controller(1000);
        assertEquals(2, c.choose(8, 10_000, now.get()));
        long old = now.get();
        now.addAndGet(60_000);
        assertEquals(2, c.choose(1, 0, old));
    }

    @Test
    void itFallsBackToNoMergingOnceTheBacklogHasCleared() {
        BudgetController c = controller(1000);
        assertEquals(2, c.choose(8, 40, now.get()));
        assertEquals(0, c.choose(8, 0, now.get()));
    }

    @Test
    void theCostModelFollowsRealBatches() {
        CostModel costs = new CostModel(COSTS);
        BudgetController c = new BudgetController(LADDER, costs, 1000, now::get);
        assertEquals(0, c.choose(8, 0, now.get()));
        // Decoding turns out to cost 30 ms an image, which no warm-up saw: r=0 no longer fits.
        for (int i = 0; i < 30; i++) costs.observe(0, 8, 8 * 30, 8 * 40);
        assertEquals(30, costs.prepareMsPerImage(), 0.5);
        assertEquals(40, costs.forwardMsPerImage()[0], 1e-9);
        // r=0: 2 x 8 x (40 + 30) = 1120 ms; 8:-1: 2 x 8 x (20 + 30) = 800 ms
        assertEquals(1, c.choose(8, 0, now.get()));
    }

    @Test
    void aFixedBudgetIsALadderOfOne() {
        BudgetController c = new BudgetController(List.of(Rung.of("8", 12)), new CostModel(new double[] {100}), 10, now::get);
        assertEquals(0, c.choose(16, 1000, now.get() - 10_000));
    }

    @Test
    void laddersGoFromLeastToMostMerging() {
        assertArrayEquals(new int[12], LADDER.getFirst().rPerBlock());
        assertTrue(LADDER.get(2).meanR() > LADDER.get(1).meanR());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Rung.ladder("16:-1;0", 12));
        assertTrue(e.getMessage().contains("least to most merging"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Rung.ladder(" ; ", 12));
        assertThrows(IllegalArgumentException.class, () -> new BudgetController(LADDER, new CostModel(COSTS), 0, now::get));
        assertThrows(IllegalArgumentException.class, () -> new CostModel(new double[] {Double.NaN}));
    }
}
