package io.tomestream.serving;

import io.tomestream.classify.Outcome;
import io.tomestream.classify.Prediction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shared batcher with a fake engine whose "logit" is the image's first byte, so every submitter
 * can check it got its own images' outcomes back, in order. The engine blocks on a latch where a test
 * needs submissions to pile up behind a running batch; no test sleeps.
 */
class EngineBatcherTest {
    private final List<List<Integer>> batches = Collections.synchronizedList(new ArrayList<>());
    private final List<String> rungs = Collections.synchronizedList(new ArrayList<>());
    private final ExecutorService pool = Executors.newFixedThreadPool(4);
    private EngineBatcher batcher;

    @AfterEach
    void close() {
        if (batcher != null) batcher.close();
        pool.shutdownNow();
    }

    private static byte[] image(int id) {
        return new byte[] {(byte) id};
    }

    private static List<byte[]> images(int from, int n) {
        List<byte[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(image(from + i));
        return out;
    }

    private static int id(Outcome o) {
        return (int) ((Outcome.Classified) o).prediction().logits()[0];
    }

    private EngineBatcher.Engine fake(CountDownLatch gate) {
        return (images, r) -> {
            try {
                if (gate != null) gate.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            List<Integer> ids = new ArrayList<>();
            List<Outcome> out = new ArrayList<>();
            for (byte[] b : images) {
                ids.add((int) b[0]);
                out.add(new Outcome.Classified(new Prediction(new float[] {b[0]}, List.of(), new int[] {1}, null, null, 0)));
            }
            batches.add(ids);
            return new EngineBatcher.Timed(out, 1.0 * images.size(), 2.0 * images.size());
        };
    }

    private EngineBatcher start(EngineBatcher.Engine engine, BudgetController controller, int maxBatch, long coalesceMs, AtomicLong lag) {
        batcher = new EngineBatcher(engine, controller, maxBatch, coalesceMs, lag::get, rung -> rungs.add(rung.spec()));
        return batcher;
    }

    private static BudgetController fixed() {
        return new BudgetController(List.of(Rung.of("0", 4)), new CostModel(new double[] {1}), 1000, System::currentTimeMillis);
    }

    @Test
    void oneSubmitterGetsItsOwnOutcomesInOrder() {
        start(fake(null), fixed(), 8, 0, new AtomicLong());
        EngineBatcher.Result r = batcher.classify(images(10, 5), 0);
        assertEquals(List.of(10, 11, 12, 13, 14), r.outcomes().stream().map(EngineBatcherTest::id).toList());
        assertEquals("0", r.rung().spec());
        assertEquals(List.of(List.of(10, 11, 12, 13, 14)), batches);
    }

    @Test
    void submissionsThatArriveWhileABatchRunsShareTheNextForwardPass() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        start(fake(gate), fixed(), 8, 0, new AtomicLong());
        Future<EngineBatcher.Result> first = pool.submit(() -> batcher.classify(images(0, 2), 0));
        awaitQueued(0); // the first batch is running, blocked on the gate
        List<Future<EngineBatcher.Result>> later = new ArrayList<>();
        for (int t = 1; t <= 3; t++) {
            int from = t * 10;
            later.add(pool.submit(() -> batcher.classify(images(from, 2), 0)));
        }
        awaitQueued(6);
        gate.countDown();
        assertEquals(List.of(0, 1), first.get(10, TimeUnit.SECONDS).outcomes().stream().map(EngineBatcherTest::id).toList());
        for (int t = 1; t <= 3; t++) {
            assertEquals(List.of(t * 10, t * 10 + 1), later.get(t - 1).get(10, TimeUnit.SECONDS).outcomes().stream()
                    .map(EngineBatcherTest::id).toList(), "submitter " + t + " got its own outcomes");
        }
        assertEquals(2, batches.size(), "three tasks' submissions coalesced into one forward pass: " + batches);
        assertEquals(6, batches.get(1).size());
    }

    @Test
    void aBatchNeverExceedsTheMaximumAndNoSubmissionIsSplit() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        start(fake(gate), fixed(), 8, 0, new AtomicLong());
        Future<?> first = pool.submit(() -> batcher.classify(images(0, 1), 0));
        awaitQueued(0);
        Future<?> a = pool.submit(() -> batcher.classify(images(10, 5), 0));
        awaitQueued(5);
        Future<?> b = pool.submit(() -> batcher.classify(images(20, 5), 0));
        awaitQueued(10);
        gate.countDown();
        first.get(10, TimeUnit.SECONDS);
        a.get(10, TimeUnit.SECONDS);
        b.get(10, TimeUnit.SECONDS);
        assertEquals(List.of(List.of(0), List.of(10, 11, 12, 13, 14), List.of(20, 21, 22, 23, 24)), batches);
    }

    @Test
    void theControllerSeesTheQueueAndTheLagBehindEachBatch() {
        List<Rung> ladder = Rung.ladder("0;16:-1", 4);
        AtomicLong lag = new AtomicLong();
        // 10 ms an image on r=0, 1 ms on 16:-1, against a 200 ms target; the events are brand new
        BudgetController controller = new BudgetController(ladder, new CostModel(new double[] {10, 1}), 200, System::currentTimeMillis);
        start(fake(null), controller, 8, 0, lag);
        assertEquals("0", batcher.classify(images(0, 8), System.currentTimeMillis()).rung().spec(), "80 ms, and 80 ms more for what arrives meanwhile, fit");
        lag.set(100);
        assertEquals("16:-1", batcher.classify(images(0, 8), System.currentTimeMillis()).rung().spec(), "108 events behind do not");
        assertEquals(List.of("0", "16:-1"), rungs, "each batch's schedule is reported");
        // The cost model learned the preparation cost the fake engine reports (1 ms an image).
        assertTrue(controller.costs().prepareMsPerImage() > 0);
    }

    @Test
    void anEngineFailureReachesEverySubmitterOfThatBatchAndTheNextBatchStillRuns() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        EngineBatcher.Engine good = fake(gate);
        AtomicLong calls = new AtomicLong();
        start((images, r) -> {
            if (calls.incrementAndGet() == 2) throw new IllegalStateException("device lost");
            if (calls.get() == 3) throw new StackOverflowError();
            return good.classify(images, r);
        }, fixed(), 8, 0, new AtomicLong());
        Future<?> first = pool.submit(() -> batcher.classify(images(0, 1), 0));
        awaitQueued(0);
        Future<EngineBatcher.Result> a = pool.submit(() -> batcher.classify(images(10, 1), 0));
        Future<EngineBatcher.Result> b = pool.submit(() -> batcher.classify(images(20, 1), 0));
        awaitQueued(2);
        gate.countDown();
        first.get(10, TimeUnit.SECONDS);
        for (Future<EngineBatcher.Result> f : List.of(a, b)) {
            Throwable cause = assertThrows(java.util.concurrent.ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS)).getCause();
            assertEquals("device lost", cause.getMessage());
        }
        assertThrows(StackOverflowError.class, () -> batcher.classify(images(30, 1), 0), "an Error goes back to its submitter");
        assertEquals(List.of(40), batcher.classify(images(40, 1), 0).outcomes().stream().map(EngineBatcherTest::id).toList());
    }

    @Test
    void aClosedBatcherRefusesWork() {
        start(fake(null), fixed(), 8, 0, new AtomicLong());
        batcher.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> batcher.classify(images(0, 1), 0));
        assertTrue(e.getMessage().contains("closed"));
        assertSame(0, batcher.classify(List.of(), 0).outcomes().size());
    }

    /** Waits, without sleeping, until a batch is running and {@code n} more images are queued behind it. */
    private void awaitQueued(long n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (batcher.queuedImages() != n || !batcher.busy()) {
            if (System.nanoTime() > deadline) throw new AssertionError("queue never reached " + n + " (" + batcher.queuedImages() + ")");
            Thread.onSpinWait();
        }
    }
}
