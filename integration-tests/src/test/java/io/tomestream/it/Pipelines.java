package io.tomestream.it;

import io.tomestream.config.Settings;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

import io.tomestream.classify.Classifier;
import io.tomestream.classify.Outcome;
import io.tomestream.model.ModelException;
import io.tomestream.schema.ImageEvent;

/**
 * What the topology tests share: the fixture model and images with their expected top-1, producers,
 * read_committed readers, and the consumer group's view of the application.
 */
final class Pipelines {
    static final Path ROOT = Path.of(System.getProperty("tomestream.it.project.root", "..")).toAbsolutePath().normalize();
    static final Path FIXTURES = ROOT.resolve("tornado-kernels/src/test/resources/fixtures");
    static final Path MODEL = FIXTURES.resolve("vit-tiny-rand");
    static final int IMAGES = 8;
    /** The ToMe spec every topology test runs with (the README's first command uses it too). */
    static final String TOME = "8";
    static final Path WORK = Path.of(System.getProperty("tomestream.it.work.dir", "target")).toAbsolutePath().resolve("it-work");

    /** What the engine says about one fixture image: its top-3 classes, best first, and the top-1 probability. */
    record Expected(List<Integer> top3, float p1) {
        /** Fails unless {@code c} is this image's classification: same top-3 order, same top-1 probability (to 1e-3). */
        void assertMatches(io.tomestream.schema.Classification c, String key) {
            if (!top3.equals(topIndices(c)) || Math.abs(c.getTopK().getFirst().getScore() - p1) > 1e-3) {
                throw new AssertionError(key + ": expected top-3 " + top3 + " with p1 " + p1 + ", got " + c.getTopK());
            }
        }
    }

    private static volatile List<Expected> expected;

    private Pipelines() {
    }

    static byte[] image(int i) {
        try {
            return Files.readAllBytes(FIXTURES.resolve("images/img" + i + ".png"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The top-3 classes, best first, of each fixture image, computed once with the engine's own API (one
     * batch of all eight, the topology's ToMe spec). The engine's results don't depend on the batch an
     * image is in. Seven of the eight random-init predictions share their top-1, so the tests compare
     * the top-3 order and the top-1 probability too, which tell the images apart.
     */
    static synchronized List<Expected> expected() {
        if (expected == null) {
            try (Classifier c = Classifier.open(MODEL.toString(), Classifier.Options.defaults().withBudget(TOME).withThreads(1).withTopK(3))) {
                List<byte[]> images = new ArrayList<>();
                for (int i = 0; i < IMAGES; i++) images.add(image(i));
                List<Expected> top = new ArrayList<>();
                List<Outcome> outcomes = c.classify(images);
                for (int i = 0; i < IMAGES; i++) {
                    var p = ((Outcome.Classified) outcomes.get(i)).prediction();
                    top.add(new Expected(p.top().stream().map(s -> s.index()).toList(), p.best().score()));
                    System.out.printf("[tomestream-it] img%d: top-3 %s, p %s%n", i, top.getLast().top3(),
                            p.top().stream().map(s -> String.format("%.4f", s.score())).toList());
                }
                expected = List.copyOf(top);
            } catch (ModelException e) {
                throw new IllegalStateException(e);
            }
        }
        return expected;
    }

    /** The top-k class indices of a Classification, best first. */
    static List<Integer> topIndices(io.tomestream.schema.Classification c) {
        return c.getTopK().stream().map(io.tomestream.schema.ClassScore::getIndex).toList();
    }

    static ImageEvent event(String id, byte[] image, String contentType) {
        return ImageEvent.newBuilder()
                .setEventId(id)
                .setEventTime(Instant.now())
                .setSource("it-camera")
                .setContentType(contentType)
                .setImage(ByteBuffer.wrap(image))
                .setWidth(null)
                .setHeight(null)
                .setAttributes(Map.of())
                .build();
    }

    /**
     * Settings for the topology run in this JVM with Apicurio's serde against {@code registryUrl}
     * (Confluent format, auto-registering its output schemas, generated classes when reading): the
     * fixture model, top-3, 100 ms batches, no metrics port, exactly-once.
     */
    static Map<String, String> apicurioTopologySettings(String bootstrap, String registryUrl, String app, String input, String output, String dlq) {
        Map<String, String> values = new HashMap<>();
        values.put(Settings.MODEL_DIR, MODEL.toString());
        values.put(Settings.BUDGET_ALIAS, TOME);
        values.put(Settings.TOP_K, "3");
        values.put(Settings.BATCH_MAX_WAIT_MS, "100");
        values.put(Settings.METRICS_PORT, "0");
        values.put(Settings.TOPIC_INPUT, input);
        values.put(Settings.TOPIC_OUTPUT, output);
        values.put(Settings.TOPIC_DLQ, dlq);
        values.put(Settings.VALUE_SERDE, "io.apicurio.registry.serde.avro.AvroSerde");
        // The serde gets every non-app setting: the Confluent-format settings, auto-registration of the
        // output schemas, and generated classes (ImageEvent) when reading.
        RegistrySerdeConfig.serializer(registryUrl, true).forEach((k, v) -> values.put(k, String.valueOf(v)));
        values.put("apicurio.registry.use-specific-avro-reader", "true");
        values.put("bootstrap.servers", bootstrap);
        values.put("application.id", app);
        values.put("state.dir", WORK.resolve(app).toString());
        values.put("processing.guarantee", "exactly_once_v2");
        return values;
    }

    /** A short unique suffix, so names never clash with an earlier run against the same broker. */
    static String unique() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    static KafkaProducer<String, byte[]> producer(String bootstrap) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        // As PacedProducer: a fresh partition may refuse the first batch and take the next (see there).
        p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "1");
        return new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
    }

    static KafkaConsumer<String, byte[]> consumer(String bootstrap, boolean readCommitted) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, readCommitted ? "read_committed" : "read_uncommitted");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        return new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
    }

    /**
     * Every record of {@code topic} up to its end as this isolation level sees it now (for read_committed,
     * the last stable offset: records of open transactions are not waited for).
     */
    static List<ConsumerRecord<String, byte[]>> readAll(String bootstrap, String topic, boolean readCommitted) {
        try (KafkaConsumer<String, byte[]> consumer = consumer(bootstrap, readCommitted)) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, Duration.ofSeconds(30));
            List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                if (System.nanoTime() > deadline) throw new IllegalStateException("could not read " + topic + " to " + end);
                consumer.poll(Duration.ofMillis(100)).forEach(out::add);
            }
            return out;
        }
    }

    /** How often each key occurs. */
    static Map<String, Integer> countByKey(Collection<ConsumerRecord<String, byte[]>> records) {
        Map<String, Integer> counts = new HashMap<>();
        for (ConsumerRecord<String, byte[]> r : records) counts.merge(r.key(), 1, Integer::sum);
        return counts;
    }

    /** Sum of the group's committed offsets on {@code topic}; 0 before the first commit. */
    static long committed(Admin admin, String group, String topic) {
        try {
            Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
            return offsets.entrySet().stream().filter(e -> e.getKey().topic().equals(topic) && e.getValue() != null)
                    .mapToLong(e -> e.getValue().offset()).sum();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof GroupIdNotFoundException) return 0;
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException | TimeoutException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Sum of the end offsets of {@code topic}'s partitions. */
    static long endOffsets(Admin admin, String topic) {
        try {
            var description = admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic);
            Map<TopicPartition, OffsetSpec> request = description.partitions().stream()
                    .collect(Collectors.toMap(p -> new TopicPartition(topic, p.partition()), p -> OffsetSpec.latest()));
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> result = admin.listOffsets(request).all().get(30, TimeUnit.SECONDS);
            return result.values().stream().mapToLong(ListOffsetsResult.ListOffsetsResultInfo::offset).sum();
        } catch (ExecutionException | InterruptedException | TimeoutException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The group as the coordinator describes it now. */
    static ConsumerGroupDescription group(Admin admin, String group) {
        try {
            return admin.describeConsumerGroups(List.of(group)).all().get(30, TimeUnit.SECONDS).get(group);
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException | TimeoutException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Which input partitions each member (by client id) holds; empty unless the group is stable. */
    static Map<String, Set<Integer>> assignment(Admin admin, String group, String topic) {
        ConsumerGroupDescription d;
        try {
            d = group(admin, group);
        } catch (IllegalStateException e) {
            if (e.getCause() instanceof GroupIdNotFoundException) return Map.of(); // no member has joined yet
            throw e;
        }
        if (d.groupState() != GroupState.STABLE) return Map.of();
        Map<String, Set<Integer>> out = new HashMap<>();
        for (MemberDescription m : d.members()) {
            out.put(m.clientId(), m.assignment().topicPartitions().stream().filter(tp -> tp.topic().equals(topic))
                    .map(TopicPartition::partition).collect(Collectors.toSet()));
        }
        return out;
    }

    /**
     * Exactly once: {@code output} (read_committed) holds one classification for each of the events
     * {@code evt-0 ... evt-(events-1)} (single-object encoded, fixture image {@code i % IMAGES}), each with
     * that image's top-3, and {@code dlq} holds nothing.
     */
    static void assertEachClassifiedOnce(String bootstrap, String output, String dlq, int events) {
        List<ConsumerRecord<String, byte[]>> classified = readAll(bootstrap, output, true);
        Map<String, Integer> counts = countByKey(classified);
        if (counts.size() != events) throw new AssertionError("every event classified: " + counts.size() + " of " + events);
        if (!counts.values().stream().allMatch(n -> n == 1)) throw new AssertionError("each exactly once: " + counts);
        for (ConsumerRecord<String, byte[]> r : classified) {
            io.tomestream.schema.Classification c = io.tomestream.schema.SingleObjectSerde.classifications().decode(r.value());
            expected().get(Integer.parseInt(r.key().substring(4)) % IMAGES).assertMatches(c, r.key());
        }
        if (!readAll(bootstrap, dlq, true).isEmpty()) throw new AssertionError("dead letters in " + dlq);
    }

    /**
     * The sum of every series of {@code metric} on an app's {@code /metrics}: a Prometheus counter
     * such as {@code tomestream_events_dead_lettered_committed_total} summed over its reasons. With a
     * label in it ({@code jvm_memory_used_bytes{area="heap"}), the series whose labels start so.
     */
    static double metric(int metricsPort, String metric) {
        String page;
        try (java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient()) {
            page = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + metricsPort + "/metrics"))
                    .timeout(Duration.ofSeconds(5)).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        double sum = 0;
        boolean found = false;
        for (String line : page.split("\n")) {
            boolean match = metric.contains("{") ? line.startsWith(metric) : line.startsWith(metric + " ") || line.startsWith(metric + "{");
            if (match) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                found = true;
            }
        }
        if (!found) throw new AssertionError(metric + " not on /metrics of :" + metricsPort);
        return sum;
    }

    /**
     * The app's committed counters agree with what read_committed consumers of its output topics saw,
     * and its attempt counters are at least as high (an aborted transaction counts there only).
     */
    static void assertCommittedCounts(int metricsPort, int classified, int deadLettered) {
        double committed = metric(metricsPort, "tomestream_events_classified_committed_total");
        double committedDead = metric(metricsPort, "tomestream_events_dead_lettered_committed_total");
        double attempted = metric(metricsPort, "tomestream_events_classified_total");
        System.out.printf("[tomestream-it] counters: %.0f classifications committed (%.0f attempted), %.0f dead letters committed%n",
                committed, attempted, committedDead);
        if (committed != classified) throw new AssertionError("committed classifications " + committed + ", the topic holds " + classified);
        if (committedDead != deadLettered) throw new AssertionError("committed dead letters " + committedDead + ", the topic holds " + deadLettered);
        if (attempted < committed) throw new AssertionError("attempts " + attempted + " below commits " + committed);
    }

    /**
     * Waits for {@code producer} to have delivered all its events and for {@code events} distinct
     * results, with {@code instance} alive throughout; returns the seconds it took.
     */
    static double awaitAllResults(PacedProducer producer, OutputWatcher watcher, AppProcess instance, int events) throws InterruptedException {
        long t0 = System.nanoTime();
        producer.join(180_000);
        if (producer.failure.get() != null) throw new AssertionError("the producer delivered everything", producer.failure.get());
        await(Duration.ofSeconds(180), () -> {
            instance.assertAlive();
            return watcher.distinct() >= events;
        }, () -> events + " results, have " + watcher.distinct());
        return (System.nanoTime() - t0) / 1e9;
    }

    /** Polls {@code condition} every 100 ms until it holds; fails with {@code what} after {@code timeout}. */
    static void await(Duration timeout, BooleanSupplier condition, Supplier<String> what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("not within " + timeout + ": " + what.get());
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for: " + what.get());
            }
        }
    }
}
