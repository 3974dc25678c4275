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

    @Test
    void aLightLoadRunsWithoutMerging() {
        // 8 fresh events, nothing behind them: 8 x 40 ms = 320 ms, under 500
        assertEquals(0, controller(500).choose(8, 0, now.get()));
    }

    @Test
    void aBacklogPicksTheLeastMergingRungThatStillMeetsTheTarget() {
        BudgetController c = controller(500);
        // 8 + 16 queued: r=0 needs 960 ms, 8:-1 480 ms
        assertEquals(1, c.choose(8, 16, now.get()));
        // 8 + 32 queued: 8:-1 needs 800 ms, 16:-1 400 ms
        assertEquals(2, c.choose(8, 32, now.get()));
    }

    @Test
    void theAgeOfTheOldestEventCounts() {
        BudgetController c = controller(500);
        long eventTime = now.get();
        now.addAndGet(250); // the batch's oldest event has waited 250 ms already
        // 8 x 40 = 320 ms more would make 570 ms; 8 x 20 = 160 makes 410
        assertEquals(1, c.choose(8, 0, eventTime));
    }

    @Test
    void whenNothingMeetsTheTargetTheMostMergingRungDrainsFastest() {
        BudgetController c = controller(500);
        assertEquals(2, c.choose(8, 10_000, now.get()));
        long old = now.get();
        now.addAndGet(60_000);
        assertEquals(2, c.choose(1, 0, old));
    }

    @Test
    void itFallsBackToNoMergingOnceTheBacklogHasCleared() {
        BudgetController c = controller(500);
        assertEquals(2, c.choose(8, 40, now.get()));
        assertEquals(0, c.choose(8, 0, now.get()));
    }

    @Test
    void theCostModelFollowsRealBatches() {
        CostModel costs = new CostModel(COSTS);
        BudgetController c = new BudgetController(LADDER, costs, 500, now::get);
        assertEquals(0, c.choose(8, 0, now.get()));
        // Decoding turns out to cost 30 ms an image, which no warm-up saw: r=0 no longer fits 8 images in 500 ms.
        for (int i = 0; i < 30; i++) costs.observe(0, 8, 8 * 30, 8 * 40);
        assertEquals(30, costs.prepareMsPerImage(), 0.5);
        assertEquals(40, costs.forwardMsPerImage()[0], 1e-9);
        // r=0: 8 x (40 + 30) = 560 ms; 8:-1: 8 x (20 + 30) = 400 ms
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
