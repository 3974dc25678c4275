package io.tomestream.backend.cpu;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class WorkerPoolTest {

    @Test
    void runsEveryIndexExactlyOnceAcrossManyLoops() {
        try (WorkerPool pool = new WorkerPool(4)) {
            for (int loop = 0; loop < 2000; loop++) {
                int n = 1 + loop % 37;
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                pool.run(n, hits::incrementAndGet);
                for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "loop " + loop + " index " + i);
            }
        }
    }

    /** Loops that grow from 2 to many indices: a worker late from the small loop must not claim an index of the big one. */
    @Test
    void aLateWorkerNeverClaimsAnIndexOfTheNextLoop() {
        try (WorkerPool pool = new WorkerPool(3)) {
            for (int loop = 0; loop < 20_000; loop++) {
                int n = loop % 2 == 0 ? 2 : 48;
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                pool.run(n, hits::incrementAndGet);
                for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "loop " + loop + " index " + i);
            }
        }
    }

    @Test
    void failureReachesTheCallerAndThePoolKeepsWorking() {
        try (WorkerPool pool = new WorkerPool(3)) {
            assertThrows(IllegalStateException.class, () -> pool.run(10, i -> {
                if (i == 7) throw new IllegalStateException("boom");
            }));
            AtomicIntegerArray hits = new AtomicIntegerArray(5);
            pool.run(5, hits::incrementAndGet);
            for (int i = 0; i < 5; i++) assertEquals(1, hits.get(i));
        }
    }
}
