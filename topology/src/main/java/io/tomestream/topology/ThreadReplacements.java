package io.tomestream.topology;

import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.InvalidTxnStateException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.TransactionAbortedException;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.function.LongSupplier;

/**
 * Which stream-thread failures a new stream thread can ride out. A broker failover can end a
 * transaction in a state Kafka Streams treats as fatal (a commit answered with an invalid
 * transaction state while the coordinator moves, a retriable error past its retries): the thread
 * dies, its open transaction is aborted, and a replacement takes its tasks back from their last
 * commit, so nothing is lost or doubled. At most {@value #MAX} replacements in {@value #WINDOW_MS}
 * ms, though: a fault that keeps coming back is not a failover, and the app exits for its platform
 * to restart it.
 */
final class ThreadReplacements {
    static final int MAX = 5;
    static final long WINDOW_MS = 300_000;

    private final LongSupplier clock;
    private final Deque<Long> recent = new ArrayDeque<>();

    ThreadReplacements(LongSupplier clock) {
        this.clock = clock;
    }

    /** Whether {@code failure} is a broker-side transient fault. */
    static boolean isTransient(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof InvalidTxnStateException || t instanceof TransactionAbortedException
                    || t instanceof InvalidProducerEpochException || t instanceof RetriableException) {
                return true;
            }
        }
        return false;
    }

    /** Records one replacement and says whether it is allowed: transient, and within the budget. */
    synchronized boolean allow(Throwable failure) {
        if (!isTransient(failure)) return false;
        long now = clock.getAsLong();
        while (!recent.isEmpty() && now - recent.peekFirst() > WINDOW_MS) recent.removeFirst();
        if (recent.size() >= MAX) return false;
        recent.addLast(now);
        return true;
    }
}
