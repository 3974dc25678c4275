package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.lifecycle.Startables;
import org.testcontainers.utility.MountableFile;
import org.yaml.snakeyaml.Yaml;

import io.apicurio.registry.serde.avro.AvroKafkaDeserializer;
import io.apicurio.registry.serde.avro.AvroKafkaSerializer;
import io.tomestream.schema.Classification;
import io.tomestream.schema.DeadLetter;
import io.tomestream.schema.DeadLetterReason;
import io.tomestream.schema.ImageEvent;
import io.tomestream.topology.DeadLetters;

/**
 * The pipeline through containers only: Kafka, Apicurio Registry and two tomestream containers from
 * the project's image on one network, configured by environment variables as compose.yaml configures
 * them (its {@code x-registry-serde} block: Apicurio's serde, Confluent framing through the registry).
 * 300 events go in, ten of them bad. One app container is killed with SIGKILL ({@code docker kill})
 * once some results, but not all, are out. Every good event must still be classified exactly once,
 * with its image's top-3, every bad one dead-lettered once with its reason, and the survivor must own
 * every input partition.
 */
class PipelineContainerIT {
    private static final int EVENTS = 300, PARTITIONS = 4, RATE_PER_S = 40;
    /** The producer holds back the rest of the events until the kill, however slowly the apps start. */
    private static final int KILL_AFTER_SENT = 150, KILL_AFTER_RESULTS = 60;
    private static final String INPUT = "image-events", OUTPUT = "classifications", DLQ = "image-events-dlq";

    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void twoAppContainersOneKilledMidStreamEveryEventGetsExactlyOneResult() throws Exception {
        Containers.assumeReady();
        List<Pipelines.Expected> expected = Pipelines.expected();
        String app = "containers-" + Pipelines.unique();
        int kafkaPort = ApicurioRegistry.freePort();
        try (Network network = Network.newNetwork();
             GenericContainer<?> kafka = Containers.kafka(network, kafkaPort);
             GenericContainer<?> registry = Containers.registry(network)) {
            long t0 = System.nanoTime();
            Startables.deepStart(kafka, registry).join();
            String bootstrap = "localhost:" + kafkaPort;
            String registryUrl = "http://localhost:" + registry.getMappedPort(8080) + "/apis/registry/v3";
            System.out.printf("[tomestream-it] containers: Kafka and Apicurio up in %.1f s%n", (System.nanoTime() - t0) / 1e9);
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
                admin.createTopics(List.of(new NewTopic(INPUT, PARTITIONS, (short) 1), new NewTopic(OUTPUT, 3, (short) 1),
                        new NewTopic(DLQ, 1, (short) 1))).all().get(60, TimeUnit.SECONDS);

                List<GenericContainer<?>> apps = List.of(app(network, app, "app-0"), app(network, app, "app-1"));
                try {
                    t0 = System.nanoTime();
                    Startables.deepStart(apps).join();
                    System.out.printf("[tomestream-it] containers: two app containers ready in %.1f s%n", (System.nanoTime() - t0) / 1e9);
                    Pipelines.await(Duration.ofSeconds(120), () -> {
                        Map<String, Set<Integer>> a = Pipelines.assignment(admin, app, INPUT);
                        return a.size() == 2 && a.values().stream().allMatch(p -> !p.isEmpty());
                    }, () -> "both apps sharing the input; group: " + Pipelines.group(admin, app));

                    AvroKafkaSerializer<ImageEvent> serializer = new AvroKafkaSerializer<>();
                    serializer.configure(RegistrySerdeConfig.serializer(registryUrl, true), false);
                    TestEvents events = TestEvents.withBadOnes(EVENTS, e -> serializer.serialize(INPUT, e));
                    serializer.close();

                    GenericContainer<?> victim = apps.getFirst();
                    runAndKill(bootstrap, events, victim);

                    Pipelines.await(Duration.ofSeconds(60), () -> Pipelines.committed(admin, app, INPUT) == EVENTS,
                            () -> "committed offsets " + Pipelines.committed(admin, app, INPUT) + " of " + EVENTS);
                    checkResults(bootstrap, registryUrl, events, expected);

                    Map<String, Set<Integer>> after = Pipelines.assignment(admin, app, INPUT);
                    System.out.printf("[tomestream-it] containers: assignment after the kill %s%n", after);
                    assertEquals(1, after.size(), "one member left: " + after);
                    assertTrue(after.keySet().iterator().next().startsWith("app-1-"), "the survivor: " + after);
                    assertEquals(Set.of(0, 1, 2, 3), new HashSet<>(after.values().iterator().next()), "the survivor owns every partition");
                } finally {
                    apps.forEach(GenericContainer::stop);
                }
            }
        }
    }

    private static GenericContainer<?> app(Network network, String applicationId, String name) throws Exception {
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("model.dir", "/models/vit-tiny-rand");
        settings.put("tome", Pipelines.TOME);
        settings.put("top.k", "3");
        settings.put("threads", "1");
        settings.put("batch.size", "16");
        settings.put("batch.max.wait.ms", "500");
        settings.put("warmup.seconds", "0");
        settings.put("application.id", applicationId);
        settings.put("client.id", name);
        // The killed member's partitions move within seconds (see AppProcess.settings).
        settings.put("session.timeout.ms", "6000");
        settings.put("heartbeat.interval.ms", "1000");
        settings.put("producer.transaction.timeout.ms", "5000");
        return Containers.tomestream(network, name, settings)
                .withEnv(composeRegistrySerde())
                .withCopyFileToContainer(MountableFile.forHostPath(Pipelines.MODEL), "/models/vit-tiny-rand");
    }

    /** compose.yaml's registry settings ({@code x-registry-serde}), which name kafka:9092 and registry:8080. */
    @SuppressWarnings("unchecked")
    private static Map<String, String> composeRegistrySerde() throws Exception {
        Map<String, Object> compose = new Yaml().load(Files.readString(Pipelines.ROOT.resolve("deploy/compose/compose.yaml")));
        Map<String, String> env = new LinkedHashMap<>();
        ((Map<String, Object>) compose.get("x-registry-serde")).forEach((k, v) -> env.put(k, String.valueOf(v)));
        assertEquals("kafka:9092", env.get("TOMESTREAM_KAFKA_BOOTSTRAP_SERVERS"));
        return env;
    }

    /** Sends the events at a steady rate, and SIGKILLs {@code victim} once some but not all results are out. */
    private static void runAndKill(String bootstrap, TestEvents events, GenericContainer<?> victim) throws Exception {
        AtomicReference<Throwable> sendFailure = new AtomicReference<>();
        AtomicInteger sent = new AtomicInteger();
        CountDownLatch killed = new CountDownLatch(1);
        Thread producerThread = new Thread(() -> {
            try (KafkaProducer<String, byte[]> producer = Pipelines.producer(bootstrap)) {
                long start = System.nanoTime();
                int i = 0;
                for (var e : events.values().entrySet()) {
                    if (i == KILL_AFTER_SENT) {
                        if (!killed.await(120, TimeUnit.SECONDS)) throw new IllegalStateException("no kill within 120 s");
                        start = System.nanoTime() - TimeUnit.SECONDS.toNanos(i) / RATE_PER_S;
                    }
                    long wait = start + TimeUnit.SECONDS.toNanos(i) / RATE_PER_S - System.nanoTime();
                    if (wait > 0) Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                    producer.send(new ProducerRecord<>(INPUT, e.getKey(), e.getValue()), (md, ex) -> {
                        if (ex != null) sendFailure.compareAndSet(null, ex);
                    });
                    sent.incrementAndGet();
                    i++;
                }
                producer.flush();
            } catch (Throwable t) {
                sendFailure.compareAndSet(null, t);
            }
        }, "containers-producer");
        try (OutputWatcher watcher = new OutputWatcher(bootstrap, OUTPUT, DLQ)) {
            producerThread.start();
            Pipelines.await(Duration.ofSeconds(120), () -> sent.get() >= KILL_AFTER_SENT && watcher.distinct() >= KILL_AFTER_RESULTS,
                    () -> KILL_AFTER_SENT + " sent and " + KILL_AFTER_RESULTS + " results before the kill, have " + sent.get()
                            + " and " + watcher.distinct());
            DockerClientFactory.instance().client().killContainerCmd(victim.getContainerId()).exec(); // SIGKILL
            long killedAt = System.nanoTime();
            int resultsAtKill = watcher.distinct();
            killed.countDown();
            System.out.printf("[tomestream-it] containers: docker kill %s with %d sent and %d results of %d%n",
                    victim.getNetworkAliases().getLast(), sent.get(), resultsAtKill, EVENTS);
            assertTrue(resultsAtKill < EVENTS, "the kill must come mid-stream");
            Pipelines.await(Duration.ofSeconds(10), () -> !Boolean.TRUE.equals(DockerClientFactory.instance().client()
                    .inspectContainerCmd(victim.getContainerId()).exec().getState().getRunning()), () -> "the victim stopped");
            producerThread.join(60_000);
            assertNull(sendFailure.get());
            Pipelines.await(Duration.ofSeconds(180), () -> watcher.distinct() >= EVENTS,
                    () -> "a result for each of " + EVENTS + " events after the kill, have " + watcher.distinct());
            System.out.printf("[tomestream-it] containers: all %d results out %.1f s after the kill%n", EVENTS,
                    (System.nanoTime() - killedAt) / 1e9);
        }
    }

    @SuppressWarnings("unchecked")
    private static void checkResults(String bootstrap, String registryUrl, TestEvents events, List<Pipelines.Expected> expected) {
        AvroKafkaDeserializer<SpecificRecord> reader = new AvroKafkaDeserializer<>();
        reader.configure(RegistrySerdeConfig.specificDeserializer(registryUrl), false);

        List<ConsumerRecord<String, byte[]>> classified = Pipelines.readAll(bootstrap, OUTPUT, true);
        Map<String, Integer> counts = Pipelines.countByKey(classified);
        assertEquals(events.goodImage().keySet(), counts.keySet(), "exactly the good events are classified");
        assertTrue(counts.values().stream().allMatch(n -> n == 1), "each once: " + counts);
        for (ConsumerRecord<String, byte[]> r : classified) {
            assertEquals(0, r.value()[0], "Confluent framing: magic byte");
            Classification c = (Classification) reader.deserialize(OUTPUT, r.headers(), r.value());
            assertEquals(r.key(), c.getEventId());
            expected.get(events.goodImage().get(r.key())).assertMatches(c, r.key());
        }

        List<ConsumerRecord<String, byte[]>> deadLetters = Pipelines.readAll(bootstrap, DLQ, true);
        Map<String, Integer> dlqCounts = Pipelines.countByKey(deadLetters);
        assertEquals(events.badReason().keySet(), dlqCounts.keySet(), "exactly the bad events are dead-lettered");
        assertTrue(dlqCounts.values().stream().allMatch(n -> n == 1), "each once: " + dlqCounts);
        for (ConsumerRecord<String, byte[]> r : deadLetters) {
            DeadLetter d = (DeadLetter) reader.deserialize(DLQ, r.headers(), r.value());
            DeadLetterReason want = events.badReason().get(r.key());
            assertEquals(want, d.getReason(), r.key() + ": " + d.getMessage());
            Header reason = r.headers().lastHeader(DeadLetters.REASON_HEADER);
            assertNotNull(reason, r.key() + " has the reason header");
            assertEquals(want.name(), new String(reason.value(), StandardCharsets.UTF_8));
            ByteBuffer original = d.getOriginalPayload();
            byte[] bytes = new byte[original.remaining()];
            original.duplicate().get(bytes);
            assertArrayEquals(events.values().get(r.key()), bytes, r.key() + ": the original value");
        }
        reader.close();
        assertFalse(classified.isEmpty());
        System.out.printf("[tomestream-it] containers: %d classified and %d dead letters, each exactly once%n",
                classified.size(), deadLetters.size());
    }
}
