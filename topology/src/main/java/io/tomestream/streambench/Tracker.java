package io.tomestream.streambench;

import io.tomestream.schema.Classification;
import io.tomestream.schema.DeadLetter;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Reads every result (read_committed, as a downstream consumer sees them) and matches it to the event
 * that was sent: the latency is this machine's receive time minus the event time, both on one clock.
 */
final class Tracker implements AutoCloseable {

    /** What was sent, keyed by event id (which is also the record key). */
    record Sent(String step, long eventTimeMs, int label) {
    }

    /** What came back for one event. */
    record Done(Sent sent, long receivedMs, String budget, int top1, boolean deadLettered) {
        long latencyMs() {
            return receivedMs - sent.eventTimeMs();
        }
    }

    private final Map<String, Sent> sent = new ConcurrentHashMap<>();
    private final Map<String, List<Done>> doneByStep = new ConcurrentHashMap<>();
    private final AtomicInteger done = new AtomicInteger();
    private final AtomicInteger duplicates = new AtomicInteger();
    private final Map<String, Boolean> seen = new ConcurrentHashMap<>();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final Thread reader;
    private volatile boolean stop;

    Tracker(String bootstrap, List<String> topics, Deserializer<SpecificRecord> values) {
        reader = Thread.ofPlatform().daemon().name("bench-stream-reader").start(() -> read(bootstrap, topics, values));
    }

    void sent(String id, Sent s) {
        sent.put(id, s);
    }

    int done() {
        return done.get();
    }

    int duplicates() {
        return duplicates.get();
    }

    Throwable failure() {
        return failure.get();
    }

    /** Results so far for one step's events. */
    int count(String step) {
        List<Done> d = doneByStep.get(step);
        return d == null ? 0 : d.size();
    }

    List<Done> results(String step) {
        List<Done> d = doneByStep.get(step);
        return d == null ? List.of() : new ArrayList<>(d);
    }

    private void read(String bootstrap, List<String> topics, Deserializer<SpecificRecord> values) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "bench-stream-reader");
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : topics) {
                consumer.partitionsFor(topic, Duration.ofSeconds(30)).forEach(i -> partitions.add(new TopicPartition(topic, i.partition())));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            while (!stop) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(20))) {
                    long now = System.currentTimeMillis();
                    String id = r.key() == null ? null : new String(r.key(), StandardCharsets.UTF_8);
                    Sent s = id == null ? null : sent.get(id);
                    if (s == null) continue;
                    if (seen.putIfAbsent(id, Boolean.TRUE) != null) {
                        duplicates.incrementAndGet();
                        continue;
                    }
                    SpecificRecord value = values.deserialize(r.topic(), r.value());
                    Done d = value instanceof Classification c
                            ? new Done(s, now, String.valueOf(c.getTomeSpec()), c.getTopK().isEmpty() ? -1 : c.getTopK().getFirst().getIndex(), false)
                            : new Done(s, now, null, -1, value instanceof DeadLetter);
                    doneByStep.computeIfAbsent(s.step(), k -> java.util.Collections.synchronizedList(new ArrayList<>())).add(d);
                    done.incrementAndGet();
                }
            }
        } catch (RuntimeException e) {
            failure.compareAndSet(null, e);
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop = true;
        reader.join(10_000);
    }
}
