package io.tomestream.it;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;

/**
 * Follows output topics with a read_committed consumer in the background and counts the records per
 * key as they become visible, so a test can wait for progress. Exactly-once itself is checked at the
 * end with {@link Pipelines#readAll}, which reads the topics again from the start.
 */
final class OutputWatcher implements AutoCloseable {
    private final KafkaConsumer<String, byte[]> consumer;
    private final Map<String, Integer> counts = new ConcurrentHashMap<>();
    private final java.util.concurrent.LinkedBlockingQueue<Long> latencies = new java.util.concurrent.LinkedBlockingQueue<>();
    private final Thread thread;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean running = true;

    OutputWatcher(String bootstrap, String... topics) {
        consumer = Pipelines.consumer(bootstrap, true);
        List<TopicPartition> partitions = new ArrayList<>();
        for (String topic : topics) {
            consumer.partitionsFor(topic, Duration.ofSeconds(30)).forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
        }
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        thread = new Thread(this::run, "output-watcher-" + String.join(",", topics));
        thread.setDaemon(true);
        thread.start();
    }

    private void run() {
        try {
            while (running) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    if (counts.merge(r.key(), 1, Integer::sum) == 1) latencies.add(System.currentTimeMillis() - r.timestamp());
                }
            }
        } catch (WakeupException stopping) {
            // close()
        } catch (Throwable t) {
            failure.set(t);
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    /**
     * Milliseconds from each input record's timestamp (kept on its output) to its output being seen,
     * first sightings only, since the last call: event-to-result latency as a read_committed consumer has it.
     */
    List<Long> drainLatencies() {
        check();
        List<Long> drained = new ArrayList<>();
        latencies.drainTo(drained);
        return drained;
    }

    /** Distinct keys seen so far. */
    int distinct() {
        check();
        return counts.size();
    }

    boolean seen(String key) {
        return counts.containsKey(key);
    }

    private void check() {
        if (failure.get() != null) throw new IllegalStateException("the output watcher failed", failure.get());
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        consumer.wakeup();
        thread.join(10_000);
    }
}
