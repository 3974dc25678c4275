package io.tomestream.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.concurrent.CountDownLatch;

/**
 * This CPU's peak float32 FMA rate, measured: each thread runs independent chains of vector FMAs,
 * enough of them to hide the FMA latency on both pipes, with no memory traffic.
 */
final class FmaPeak {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static volatile float sink;

    private FmaPeak() {
    }

    /** GFLOP/s over {@code threads} threads (an FMA counts as 2 flops). */
    static double measure(int threads, double seconds) throws InterruptedException {
        chains(2_000_000); // compile before timing
        long iterations = 20_000_000;
        long t0 = System.nanoTime();
        chains(iterations);
        double perIteration = (System.nanoTime() - t0) / (double) iterations;
        long n = (long) (seconds * 1e9 / perIteration);

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
        return threads * n * 12.0 * S.length() * 2 / elapsed / 1e9;
    }

    /** 12 independent accumulators: latency 4 × 2 FMA pipes needs at least 8. */
    private static void chains(long n) {
        FloatVector m = FloatVector.broadcast(S, 0.999999f), a = FloatVector.broadcast(S, 1e-7f);
        FloatVector c0 = FloatVector.broadcast(S, 1f), c1 = c0.add(1), c2 = c0.add(2), c3 = c0.add(3),
                c4 = c0.add(4), c5 = c0.add(5), c6 = c0.add(6), c7 = c0.add(7), c8 = c0.add(8),
                c9 = c0.add(9), c10 = c0.add(10), c11 = c0.add(11);
        for (long i = 0; i < n; i++) {
            c0 = c0.fma(m, a); c1 = c1.fma(m, a); c2 = c2.fma(m, a); c3 = c3.fma(m, a);
            c4 = c4.fma(m, a); c5 = c5.fma(m, a); c6 = c6.fma(m, a); c7 = c7.fma(m, a);
            c8 = c8.fma(m, a); c9 = c9.fma(m, a); c10 = c10.fma(m, a); c11 = c11.fma(m, a);
        }
        sink = c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11).lane(0);
    }
}
