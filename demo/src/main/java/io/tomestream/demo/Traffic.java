package io.tomestream.demo;

import io.tomestream.demo.DemoEvents.BadKind;
import io.tomestream.demo.DemoEvents.Planned;
import io.tomestream.schema.Classification;
import io.tomestream.schema.DeadLetter;
import io.tomestream.schema.ImageEvent;
import io.tomestream.schema.SingleObjectSerde;
import io.tomestream.topology.SingleObjectAvroSerde;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Deserializer;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The demo's traffic: a producer thread sends the planned events (all at once, or at a rate), while
 * a read_committed consumer reads the classifications and dead letters back and checks each event
 * got exactly one result, the result its plan expects.
 */
final class Traffic {
    /** Gives up when no result has arrived for this long. */
    private static final Duration STALL_TIMEOUT = Duration.ofSeconds(60);

    /** What came back. */
    record Results(int produced, int classified, int deadLettered, int duplicates, int missing,
                   Map<String, Integer> dlqByReason, int unexpectedDlq, long[] latenciesMs,
                   int labelled, int correct, double seconds, Map<String, Integer> byBudget) {
        boolean complete() {
            return missing == 0 && duplicates == 0;
        }
    }

    private final String bootstrap, input, output, dlq;
    private final double rate;
    private final PrintStream err;

    /** @param rate events per second; 0 sends them all at once */
    Traffic(String bootstrap, String input, String output, String dlq, double rate, PrintStream err) {
        this.bootstrap = bootstrap;
        this.input = input;
        this.output = output;
        this.dlq = dlq;
        this.rate = rate;
        this.err = err;
    }

    /** Sends the plan and reads every result back; stops early on a send or stream failure, or a stall. */
    Results run(List<Planned> plan, AtomicReference<Throwable> streamError) throws InterruptedException {
        Map<String, Planned> byId = new HashMap<>();
        for (Planned p : plan) byId.put(p.id(), p);
        AtomicInteger sent = new AtomicInteger();
        AtomicReference<Throwable> sendError = new AtomicReference<>();
        long start = System.nanoTime();
        Thread producer = new Thread(() -> produce(plan, sent, sendError, start), "tomestream-demo-producer");
        producer.start();

        Deserializer<SpecificRecord> values = new SingleObjectAvroSerde().deserializer();
        Map<String, Integer> seen = new HashMap<>();
        Map<String, Integer> byReason = new TreeMap<>();
        List<Long> latencies = new ArrayList<>();
        Map<String, Integer> byBudget = new TreeMap<>();
        int classified = 0, dead = 0, duplicates = 0, unexpectedDlq = 0, labelled = 0, correct = 0;
        long lastResult = System.nanoTime(), lastProgress = 0;
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "tomestream-demo-reader");
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : List.of(output, dlq)) {
                consumer.partitionsFor(topic, Duration.ofSeconds(30)).forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            while (seen.size() < plan.size()) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    lastResult = System.nanoTime();
                    SpecificRecord value = values.deserialize(r.topic(), r.value());
                    String id = r.key() == null ? null : new String(r.key(), StandardCharsets.UTF_8);
                    if (id != null && seen.merge(id, 1, Integer::sum) > 1) duplicates++;
                    Planned p = id == null ? null : byId.get(id);
                    if (value instanceof Classification c) {
                        classified++;
                        byBudget.merge(String.valueOf(c.getTomeSpec()), 1, Integer::sum);
                        latencies.add(c.getProcessingTime().toEpochMilli() - c.getEventTime().toEpochMilli());
                        if (p != null && p.label() >= 0) {
                            labelled++;
                            if (!c.getTopK().isEmpty() && c.getTopK().getFirst().getIndex() == p.label()) correct++;
                        }
                    } else if (value instanceof DeadLetter d) {
                        dead++;
                        byReason.merge(d.getReason().name(), 1, Integer::sum);
                        if (p == null || p.bad() == null || p.bad().expected != d.getReason()) unexpectedDlq++;
                    }
                }
                long now = System.nanoTime();
                if (now - lastProgress > 200_000_000L) {
                    lastProgress = now;
                    progress(sent.get(), plan.size(), classified, dead, (now - start) / 1e9);
                }
                if (sendError.get() != null || streamError.get() != null || !producer.isAlive() && sent.get() < plan.size()) break;
                if (now - lastResult > STALL_TIMEOUT.toNanos() && !producer.isAlive()) break;
            }
        } finally {
            if (producer.isAlive()) producer.interrupt();
            producer.join(30_000);
        }
        double seconds = (lastResult - start) / 1e9;
        progress(sent.get(), plan.size(), classified, dead, seconds);
        err.println();
        if (sendError.get() != null) err.println("tomestream demo: producing failed: " + sendError.get());
        if (streamError.get() != null) err.println("tomestream demo: Kafka Streams failed: " + streamError.get());
        int missing = plan.size() - (int) plan.stream().filter(p -> seen.containsKey(p.id())).count();
        long[] lat = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
        return new Results(sent.get(), classified, dead, duplicates, missing, byReason, unexpectedDlq, lat, labelled, correct, seconds, byBudget);
    }

    private void produce(List<Planned> plan, AtomicInteger sent, AtomicReference<Throwable> error, long start) {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        props.put(ProducerConfig.CLIENT_ID_CONFIG, "tomestream-demo-producer");
        SingleObjectSerde<ImageEvent> events = SingleObjectSerde.imageEvents();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < plan.size(); i++) {
                if (rate > 0) {
                    long due = start + (long) (i * 1e9 / rate);
                    long wait = due - System.nanoTime();
                    if (wait > 0) Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                }
                Planned p = plan.get(i);
                byte[] value = p.bad() == BadKind.NOT_AVRO ? p.image() : events.encode(p.event());
                producer.send(new ProducerRecord<>(input, p.id().getBytes(StandardCharsets.UTF_8), value), (md, e) -> {
                    if (e != null) error.compareAndSet(null, e);
                    else sent.incrementAndGet();
                });
            }
            producer.flush();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            error.compareAndSet(null, e);
        }
    }

    private void progress(int sent, int total, int classified, int dead, double seconds) {
        err.printf(Locale.ROOT, "\rtomestream demo: sent %d/%d, classified %d, dead letters %d, %.1f s, %.0f events/s   ",
                sent, total, classified, dead, seconds, seconds > 0 ? (classified + dead) / seconds : 0.0);
        err.flush();
    }
}
