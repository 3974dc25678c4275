package io.tomestream.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.concurrent.CountDownLatch;

/**
 * This CPU's peak float32 FMA rate, measured: each thread runs 10 independent chains of vector
 * FMAs (enough to cover a 5-cycle latency on two FMA pipes; 12 already spill registers on AVX2)
 * with no memory traffic. Shared hosts are noisy, so the best of several short trials counts.
 */
final class FmaPeak {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int CHAINS = 10;
    private static volatile float sink;

    private FmaPeak() {
    }

    /** GFLOP/s over {@code threads} threads (an FMA counts as 2 flops): the best of {@code trials}. */
    static double measure(int threads, int trials) throws InterruptedException {
        for (int i = 0; i < 300; i++) chains(20_000); // C2-compile the loop itself, not an OSR stub
        long t0 = System.nanoTime();
        chains(10_000_000);
        long n = (long) (0.3e9 / ((System.nanoTime() - t0) / 1e7)); // about 0.3 s a trial
        double best = 0;
        for (int trial = 0; trial < trials; trial++) best = Math.max(best, trial(threads, (int) n));
        return best;
    }

    private static double trial(int threads, int n) throws InterruptedException {
        CountDownLatch start = new CountDownLatch(1), done = new CountDownLatch(threads);
        for (int t = 0; t < threads; t++) {
            Thread.ofPlatform().daemon().start(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                chains(n);
                done.countDown();
            });
        }
        long begin = System.nanoTime();
        start.countDown();
        done.await();
        double elapsed = (System.nanoTime() - begin) / 1e9;
        return threads * (double) n * CHAINS * S.length() * 2 / elapsed / 1e9;
    }

    private static void chains(int n) {
        FloatVector m = FloatVector.broadcast(S, 0.999999f), a = FloatVector.broadcast(S, 1e-7f);
        FloatVector c0 = FloatVector.broadcast(S, 1f), c1 = c0.add(1), c2 = c0.add(2), c3 = c0.add(3),
                c4 = c0.add(4), c5 = c0.add(5), c6 = c0.add(6), c7 = c0.add(7), c8 = c0.add(8), c9 = c0.add(9);
        for (int i = 0; i < n; i++) {
            c0 = c0.fma(m, a); c1 = c1.fma(m, a); c2 = c2.fma(m, a); c3 = c3.fma(m, a); c4 = c4.fma(m, a);
            c5 = c5.fma(m, a); c6 = c6.fma(m, a); c7 = c7.fma(m, a); c8 = c8.fma(m, a); c9 = c9.fma(m, a);
        }
        sink = c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).lane(0);
    }
}
