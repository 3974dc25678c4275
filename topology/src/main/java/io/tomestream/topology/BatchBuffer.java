package io.tomestream.topology;

import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

import java.util.ArrayList;
import java.util.List;

/**
 * A task's micro-batch: the records waiting for the engine, in the changelogged state store (so that
 * they commit with the consumed offsets), and what decides a flush: how many there are and how long
 * the oldest has waited.
 */
final class BatchBuffer {
    private final KeyValueStore<Bytes, byte[]> store;
    private int size;
    private long oldestArrivalMs = Long.MAX_VALUE;
    /** Left by a previous owner of the task, or by this instance before a restart. */
    private boolean restored;

    /**
     * Kafka Streams opens the processor after restoring the store, so this counts what was left
     * behind. Those records flush at the first check: their arrival times, taken on another machine's
     * clock, mean nothing here.
     */
    BatchBuffer(KeyValueStore<Bytes, byte[]> store) {
        this.store = store;
        try (KeyValueIterator<Bytes, byte[]> it = store.all()) {
            for (; it.hasNext(); it.next()) size++;
        }
        restored = size > 0;
    }

    int size() {
        return size;
    }

    boolean restored() {
        return restored;
    }

    void add(BufferedRecord r, long arrivalMs) {
        store.put(r.storeKey(), r.encode());
        size++;
        oldestArrivalMs = Math.min(oldestArrivalMs, arrivalMs);
    }

    /** Whether the batch is due by time: restored records at once, others after {@code maxWaitMs}. */
    boolean due(long nowMs, long maxWaitMs) {
        return size > 0 && (restored || nowMs - oldestArrivalMs >= maxWaitMs);
    }

    /** Every entry, in offset order (the store key is the partition and the offset). */
    List<KeyValue<Bytes, byte[]>> entries() {
        List<KeyValue<Bytes, byte[]>> entries = new ArrayList<>(size);
        try (KeyValueIterator<Bytes, byte[]> it = store.all()) {
            it.forEachRemaining(entries::add);
        }
        return entries;
    }

    /** Deleted only after its result was forwarded: under exactly-once both are in the same transaction. */
    void remove(Bytes key) {
        store.delete(key);
    }

    /** After a flush removed every entry. */
    void emptied() {
        size = 0;
        oldestArrivalMs = Long.MAX_VALUE;
        restored = false;
    }
}
