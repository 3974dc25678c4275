package io.tomestream.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of threads that run the indices of one parallel loop, with the calling thread
 * taking part. A forward pass runs dozens of short loops per block, so starting one costs no more
 * than its task object, and workers spin briefly before parking: long enough to catch the next loop of a forward pass
 * (microseconds apart), short enough that an idle pool costs no CPU while the caller does other
 * work, such as decoding the next batch. Loops from one pool run one at a time.
 */
public final class WorkerPool implements AutoCloseable {

    /** The body of a parallel loop, usually a lambda over the loop's locals. */
    @FunctionalInterface
    public interface Task {
        void run(int index);
    }

    /** How long an idle thread spins before it parks. */
    private static final long SPIN_NANOS = 50_000;

    private final Thread[] workers;
    // generation in the high 32 bits, next index in the low 32 bits: a worker late from an old
    // loop can never claim an index of the new one
    private final AtomicLong cursor = new AtomicLong();
    private final AtomicInteger done = new AtomicInteger();
    private volatile Task task;
    private volatile int count;
    private volatile Thread caller;
    private volatile boolean closed;
    private volatile Throwable failure;
    private int generation;

    public WorkerPool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = Thread.ofPlatform().daemon().name("tomestream-cpu-" + (i + 1)).unstarted(this::workLoop);
            workers[i].start();
        }
    }

    public int threads() {
        return workers.length + 1;
    }

    /** Runs {@code task.run(i)} for every i in [0, n) across the pool, and returns when all are done. */
    public synchronized void run(int n, Task body) {
        if (n <= 0) return;
        if (workers.length == 0 || n == 1) {
            for (int i = 0; i < n; i++) body.run(i);
            return;
        }
        failure = null;
        done.set(0);
        task = body;
        count = n;
        caller = Thread.currentThread();
        generation++;
        cursor.set((long) generation << 32); // publishes task and count to the workers
        for (Thread w : workers) LockSupport.unpark(w);
        work(generation);
        long waitingSince = System.nanoTime();
        while (done.get() < n) {
            if (System.nanoTime() - waitingSince < SPIN_NANOS) Thread.onSpinWait();
            else LockSupport.parkNanos(this, 50_000);
        }
        // Close this generation before the next loop changes count and task: a worker that read the
        // cursor just before and reads the next loop's larger count would otherwise claim an index of
        // this generation, run it with the next loop's task, and count it towards that loop.
        cursor.set(((long) generation << 32) | Integer.MAX_VALUE);
        task = null;
        Throwable t = failure;
        if (t != null) {
            if (t instanceof RuntimeException re) throw re;
            if (t instanceof Error e) throw e;
            throw new IllegalStateException(t);
        }
    }

    private void work(int gen) {
        while (true) {
            long c = cursor.get();
            if ((int) (c >>> 32) != gen) return;
            int i = (int) c;
            int n = count;
            if (i >= n) return;
            if (!cursor.compareAndSet(c, c + 1)) continue;
            try {
                task.run(i);
            } catch (Throwable t) {
                if (failure == null) failure = t;
            }
            if (done.incrementAndGet() == n) LockSupport.unpark(caller);
        }
    }

    private void workLoop() {
        int seen = 0;
        long idleSince = System.nanoTime();
        while (!closed) {
            long c = cursor.get();
            int gen = (int) (c >>> 32);
            if (gen != seen && (int) c < count) {
                seen = gen;
                work(gen);
                idleSince = System.nanoTime();
            } else if (System.nanoTime() - idleSince < SPIN_NANOS) {
                Thread.onSpinWait();
            } else {
                LockSupport.park(this);
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
