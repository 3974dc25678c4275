package io.tomestream.topology;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tomestream.classify.Classifier;
import io.tomestream.classify.Outcome;
import io.tomestream.classify.Prediction;
import io.tomestream.config.Settings;
import io.tomestream.metrics.PipelineMetrics;
import io.tomestream.schema.Classification;
import io.tomestream.schema.DeadLetter;
import io.tomestream.schema.DeadLetterReason;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static io.tomestream.topology.Fixtures.encoded;
import static io.tomestream.topology.Fixtures.image;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The topology end to end on TopologyTestDriver: no broker, the real engine on the test model. */
class ClassificationTopologyTest {
    private static final Instant START = Instant.parse("2026-03-01T00:00:00Z");
    private static Classifier classifier;
    private static Engine engine;
    /** Each test image's prediction when classified directly, in one batch. */
    private static final List<Prediction> expected = new ArrayList<>();

    @TempDir
    Path stateDir;
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final PipelineMetrics metrics = new PipelineMetrics(registry);
    private TopologyTestDriver driver;
    private TestInputTopic<String, byte[]> input;
    private TestOutputTopic<String, SpecificRecord> classified;
    private TestOutputTopic<String, SpecificRecord> deadLetters;

    @BeforeAll
    static void openModel() {
        classifier = Fixtures.classifier("8");
        engine = Engine.of(classifier, "test-1");
        List<byte[]> images = new ArrayList<>();
        for (int i = 0; i < 8; i++) images.add(image(i));
        for (Outcome o : classifier.classify(images)) expected.add(((Outcome.Classified) o).prediction());
    }

    @AfterAll
    static void closeModel() {
        classifier.close();
    }

    private void start(Engine e, String... overrides) {
        Settings s = Fixtures.settings(stateDir, overrides);
        driver = new TopologyTestDriver(ClassificationTopology.build(s, e, metrics), s.kafkaProperties(), START);
        SingleObjectAvroSerde serde = new SingleObjectAvroSerde();
        input = driver.createInputTopic(s.topicInput(), new StringSerializer(), new ByteArraySerializer());
        classified = driver.createOutputTopic(s.topicOutput(), new StringDeserializer(), serde.deserializer());
        deadLetters = driver.createOutputTopic(s.topicDlq(), new StringDeserializer(), serde.deserializer());
    }

    @AfterEach
    void closeDriver() {
        if (driver != null) driver.close();
    }

    @Test
    void eachGoodEventGetsOneClassificationWithItsKeyAndTheEnginesTop1() {
        start(engine, Settings.BATCH_SIZE, "4", Settings.BATCH_MAX_WAIT_MS, "60000");
        Instant ts = Instant.parse("2026-02-01T00:00:00Z");
        for (int i = 0; i < 8; i++) input.pipeInput("key-" + i, encoded("evt-" + i, image(i)), ts.plusMillis(i));

        List<TestRecord<String, SpecificRecord>> out = classified.readRecordsToList();
        assertEquals(8, out.size(), "two full batches of 4, flushed by size");
        for (int i = 0; i < 8; i++) {
            TestRecord<String, SpecificRecord> r = out.get(i);
            Classification c = (Classification) r.value();
            assertEquals("key-" + i, r.key());
            assertEquals(ts.plusMillis(i), r.getRecordTime(), "the output keeps the input's timestamp");
            assertEquals("evt-" + i, c.getEventId());
            assertEquals(Fixtures.EVENT_TIME, c.getEventTime());
            assertSameTopK(expected.get(i), c, "image " + i);
            assertEquals(3, c.getTopK().size());
            assertEquals(65, c.getTokensIn());
            assertEquals(33, c.getTokensFinal(), "r=8 over 4 blocks: 65 -> 33 tokens");
            assertEquals("vit-tiny-rand", c.getModelId());
            assertEquals("test-1", c.getModelVersion());
            assertEquals("8", c.getTomeSpec());
            assertEquals("tome", c.getReducer());
            assertEquals("cpu", c.getBackend());
            assertTrue(c.getLatencyMs() > 0);
            assertTrue(!c.getProcessingTime().isBefore(c.getEventTime()));
        }
        assertTrue(deadLetters.isEmpty());
        assertEquals(8, metrics.consumedCount());
        assertEquals(8, metrics.classifiedCount());
        assertEquals(2, registry.get("tomestream.batch.size").summary().count());
        assertEquals(4, registry.get("tomestream.batch.size").summary().mean());
    }

    @Test
    void theReducerAndBudgetSettingsPickTheEnginesReducerAndEachClassificationNamesIt() throws Exception {
        Settings s = Fixtures.settings(stateDir, Settings.BUDGET_ALIAS, "0", Settings.REDUCER, "pool", Settings.BUDGET, "8:-1",
                Settings.THREADS, "1", Settings.BATCH_SIZE, "2");
        try (Classifier pool = Classifier.open(s.modelDir(), StreamingApp.classifierOptions(s))) {
            start(Engine.of(pool, "test-1"), Settings.BATCH_SIZE, "2");
            input.pipeInput("a", encoded("evt-a", image(0)));
            input.pipeInput("b", encoded("evt-b", image(1)));
            List<TestRecord<String, SpecificRecord>> out = classified.readRecordsToList();
            assertEquals(2, out.size());
            for (TestRecord<String, SpecificRecord> r : out) {
                Classification c = (Classification) r.value();
                assertEquals("pool", c.getReducer());
                assertEquals(pool.schedule().toString(), c.getTomeSpec());
                assertTrue(c.getTokensFinal() < c.getTokensIn(), c.getTokensFinal() + " of " + c.getTokensIn());
            }
        }
    }

    @Test
    void eachBadRecordGetsExactlyOneDeadLetterAndTheGoodOnesAreStillClassified() {
        start(engine, Settings.BATCH_SIZE, "16", Settings.BATCH_MAX_WAIT_MS, "100", Settings.IMAGE_MAX_BYTES, "20000");
        byte[] png = image(0);
        byte[] corrupt = new byte[700];
        new java.util.Random(7).nextBytes(corrupt);
        Map<String, byte[]> sent = new HashMap<>();
        pipe(sent, "good-0", encoded("evt-good-0", image(0)));
        pipe(sent, "corrupt", encoded("evt-corrupt", corrupt));
        pipe(sent, "truncated", encoded("evt-truncated", Arrays.copyOf(png, png.length / 2)));
        pipe(sent, "huge", encoded("evt-huge", Fixtures.claimingSize(image(0), 20000, 20000)));
        pipe(sent, "good-1", encoded("evt-good-1", image(1)));
        pipe(sent, "not-avro", "{\"eventId\": \"json?\"}".getBytes(StandardCharsets.UTF_8));
        pipe(sent, "wrong-type", SingleObjectAvroSerdeTest.someClassification());
        pipe(sent, "oversized", encoded("evt-oversized", new byte[30000]));
        input.pipeInput("tombstone", (byte[]) null);
        pipe(sent, "good-2", encoded("evt-good-2", image(2)));

        // Decoding and size failures are dead-lettered at once, before any batch is flushed.
        assertTrue(classified.isEmpty());
        Map<String, TestRecord<String, SpecificRecord>> early = byKey(deadLetters.readRecordsToList());
        assertEquals(Map.of("not-avro", DeadLetterReason.SCHEMA_ERROR, "wrong-type", DeadLetterReason.SCHEMA_ERROR,
                "oversized", DeadLetterReason.PAYLOAD_TOO_LARGE), reasons(early));

        driver.advanceWallClockTime(Duration.ofMillis(150));
        Map<String, TestRecord<String, SpecificRecord>> late = byKey(deadLetters.readRecordsToList());
        assertEquals(Map.of("corrupt", DeadLetterReason.UNSUPPORTED_FORMAT, "truncated", DeadLetterReason.UNDECODABLE_IMAGE,
                "huge", DeadLetterReason.IMAGE_TOO_LARGE), reasons(late));
        List<TestRecord<String, SpecificRecord>> good = classified.readRecordsToList();
        assertEquals(List.of("good-0", "good-1", "good-2"), good.stream().map(TestRecord::key).toList());
        for (int i = 0; i < 3; i++) {
            assertSameTopK(expected.get(i), (Classification) good.get(i).value(), "image " + i);
        }

        Map<String, TestRecord<String, SpecificRecord>> all = new HashMap<>(early);
        all.putAll(late);
        for (var e : all.entrySet()) {
            DeadLetter d = (DeadLetter) e.getValue().value();
            assertEquals(d.getReason().name(), header(e.getValue(), DeadLetters.REASON_HEADER));
            assertEquals(d.getMessage(), header(e.getValue(), DeadLetters.MESSAGE_HEADER));
            assertTrue(!d.getMessage().isBlank() && !d.getMessage().contains("\n"), d.getMessage());
            assertEquals("image-events", d.getOriginalTopic());
            assertEquals(0, d.getOriginalPartition());
            assertArrayEquals(e.getKey().getBytes(StandardCharsets.UTF_8), bytes(d.getOriginalKey()));
            if (d.getReason() == DeadLetterReason.PAYLOAD_TOO_LARGE) {
                assertNull(d.getOriginalPayload(), "an oversized payload is not copied into the DLQ");
                assertTrue(d.getMessage().contains("image.max.bytes is 20000"), d.getMessage());
            } else {
                assertArrayEquals(sent.get(e.getKey()), bytes(d.getOriginalPayload()));
            }
        }
        assertTrue(((DeadLetter) all.get("huge").value()).getMessage().contains("20000x20000"));
        assertTrue(((DeadLetter) all.get("wrong-type").value()).getMessage().contains("expected an ImageEvent"));
        assertEquals(10, metrics.consumedCount());
        assertEquals(1, metrics.tombstoneCount());
        assertEquals(3, metrics.classifiedCount());
        assertEquals(2, metrics.deadLetteredCount(DeadLetterReason.SCHEMA_ERROR));
        assertEquals(1, metrics.deadLetteredCount(DeadLetterReason.IMAGE_TOO_LARGE));
    }

    @Test
    void aBatchIsFlushedWhenFullOrWhenItsOldestRecordHasWaitedLongEnough() {
        start(engine, Settings.BATCH_SIZE, "3", Settings.BATCH_MAX_WAIT_MS, "1000");
        input.pipeInput("a", encoded("a", image(0)));
        input.pipeInput("b", encoded("b", image(1)));
        driver.advanceWallClockTime(Duration.ofMillis(500));
        assertTrue(classified.isEmpty(), "2 of 3, after 500 of 1000 ms");
        input.pipeInput("c", encoded("c", image(2)));
        assertEquals(List.of("a", "b", "c"), keys(classified), "full: flushed at once");

        input.pipeInput("d", encoded("d", image(3)));
        driver.advanceWallClockTime(Duration.ofMillis(400));
        input.pipeInput("e", encoded("e", image(4)));
        driver.advanceWallClockTime(Duration.ofMillis(500));
        assertTrue(classified.isEmpty(), "d has waited 900 of 1000 ms");
        driver.advanceWallClockTime(Duration.ofMillis(100));
        assertEquals(List.of("d", "e"), keys(classified), "d has waited 1000 ms: d and e go together");
        driver.advanceWallClockTime(Duration.ofSeconds(5));
        assertTrue(classified.isEmpty());
    }

    @Test
    void aPoisonImageIsIsolatedOnlyItsEventIsDeadLetteredAndTheRestOfItsBatchIsClassified() {
        for (Throwable failure : new Throwable[] {new IllegalStateException("CUDA error: illegal address"), new StackOverflowError()}) {
            byte[] poison = Arrays.copyOf(image(3), image(3).length + 1); // marked by a trailing byte
            AtomicInteger calls = new AtomicInteger();
            Engine failsOnPoison = engine.withClassifier(images -> {
                calls.incrementAndGet();
                if (images.stream().anyMatch(b -> Arrays.equals(b, poison))) {
                    if (failure instanceof Error e) throw e;
                    throw (RuntimeException) failure;
                }
                return classifier.classify(images);
            });
            start(failsOnPoison, Settings.BATCH_SIZE, "16");
            for (int i = 0; i < 16; i++) input.pipeInput("k" + i, encoded("e" + i, i == 7 ? poison : image(i % 8)));

            List<TestRecord<String, SpecificRecord>> dead = deadLetters.readRecordsToList();
            assertEquals(List.of("k7"), dead.stream().map(TestRecord::key).toList(), "only the poison event, for " + failure);
            DeadLetter letter = (DeadLetter) dead.getFirst().value();
            assertEquals(DeadLetterReason.MODEL_ERROR, letter.getReason());
            assertTrue(letter.getMessage().contains(failure.getClass().getSimpleName()), letter.getMessage());
            List<TestRecord<String, SpecificRecord>> out = classified.readRecordsToList();
            assertEquals(15, out.size(), "the 15 others of its batch");
            for (TestRecord<String, SpecificRecord> r : out) {
                int i = Integer.parseInt(r.key().substring(1));
                assertSameTopK(expected.get(i % 8), (Classification) r.value(), r.key());
            }
            // 16 -> 8 -> 4 -> 2 -> 1: one failing call per level, and the halves beside them.
            assertEquals(9, calls.get(), "bisection calls");
            driver.close();
            driver = null;
        }
    }

    @Test
    void aBrokenEngineDeadLettersEveryEventAndTheStreamGoesOn() {
        AtomicInteger calls = new AtomicInteger();
        Engine broken = engine.withClassifier(images -> calls.incrementAndGet() <= 3 ? List.of() : classifier.classify(images));
        start(broken, Settings.BATCH_SIZE, "2");
        for (int i = 0; i < 6; i++) input.pipeInput("k" + i, encoded("e" + i, image(i)));

        // The batch [k0, k1] fails, then each half alone: both are dead-lettered; the engine works again after that.
        List<TestRecord<String, SpecificRecord>> dead = deadLetters.readRecordsToList();
        assertEquals(List.of("k0", "k1"), dead.stream().map(TestRecord::key).toList());
        for (TestRecord<String, SpecificRecord> r : dead) {
            DeadLetter d = (DeadLetter) r.value();
            assertEquals(DeadLetterReason.MODEL_ERROR, d.getReason());
            assertTrue(d.getMessage().contains("returned 0 outcomes for 1 images"), d.getMessage());
        }
        assertEquals(List.of("k2", "k3", "k4", "k5"), keys(classified));
    }

    @Test
    void eachClassificationRecordsTheScheduleItsBatchActuallyRanWith() {
        AtomicInteger calls = new AtomicInteger();
        Engine adaptive = engine.withClassifier(new Engine.BatchClassifier() {
            @Override
            public List<Outcome> classify(List<byte[]> images) {
                return classifier.classify(images);
            }

            @Override
            public Engine.Batch classify(List<byte[]> images, long oldestEventTimeMs) {
                assertEquals(Fixtures.EVENT_TIME.toEpochMilli(), oldestEventTimeMs, "the batch's oldest event time reaches the engine");
                return new Engine.Batch(classifier.classify(images), calls.incrementAndGet() == 1 ? "16:-1" : "0");
            }
        });
        start(adaptive, Settings.BATCH_SIZE, "2");
        for (int i = 0; i < 4; i++) input.pipeInput("k" + i, encoded("e" + i, image(i)));
        List<String> budgets = classified.readValuesToList().stream().map(v -> ((Classification) v).getTomeSpec()).toList();
        assertEquals(List.of("16:-1", "16:-1", "0", "0"), budgets);
    }

    @Test
    void aNullKeyStaysNull() {
        start(engine, Settings.BATCH_SIZE, "1");
        input.pipeInput(null, encoded("no-key", image(5)));
        input.pipeInput(null, new byte[] {1, 2, 3});
        TestRecord<String, SpecificRecord> c = classified.readRecord();
        assertNull(c.key());
        assertEquals("no-key", ((Classification) c.value()).getEventId());
        DeadLetter d = (DeadLetter) deadLetters.readValue();
        assertNull(d.getOriginalKey());
        assertEquals(DeadLetterReason.SCHEMA_ERROR, d.getReason());
    }

    @Test
    void v1AndV2EventsInterleavedInOneTopicAreAllClassifiedOnceV2IsAWriterSchema() throws Exception {
        Path v2File = Path.of("..", "schemas", "src", "test", "resources", "evolution", "ImageEvent-v2.avsc");
        org.apache.avro.Schema v2 = new org.apache.avro.Schema.Parser().parse(v2File.toFile());
        List<byte[]> values = new ArrayList<>();
        for (int i = 0; i < 6; i++) values.add(i % 2 == 0 ? encoded("e" + i, image(i)) : v2Encoded(v2, "e" + i, image(i)));

        // Without it, a newer producer's events are refused, with a hint at the setting.
        start(engine, Settings.BATCH_SIZE, "6");
        for (int i = 0; i < 6; i++) input.pipeInput("k" + i, values.get(i));
        List<TestRecord<String, SpecificRecord>> refused = deadLetters.readRecordsToList();
        assertEquals(List.of("k1", "k3", "k5"), refused.stream().map(TestRecord::key).toList());
        assertTrue(((DeadLetter) refused.getFirst().value()).getMessage().contains("add it with writer.schemas"),
                ((DeadLetter) refused.getFirst().value()).getMessage());
        driver.close();

        start(engine, Settings.BATCH_SIZE, "6", Settings.WRITER_SCHEMAS, v2File.toString());
        for (int i = 0; i < 6; i++) input.pipeInput("k" + i, values.get(i));
        assertTrue(deadLetters.isEmpty(), "no dead letters");
        List<TestRecord<String, SpecificRecord>> out = classified.readRecordsToList();
        assertEquals(List.of("k0", "k1", "k2", "k3", "k4", "k5"), out.stream().map(TestRecord::key).toList());
        for (int i = 0; i < 6; i++) {
            assertSameTopK(expected.get(i), (Classification) out.get(i).value(), "k" + i);
        }
    }

    /** An ImageEvent as a producer with the v2 schema (an added optional field) writes it. */
    private static byte[] v2Encoded(org.apache.avro.Schema v2, String id, byte[] image) throws java.io.IOException {
        io.tomestream.schema.ImageEvent v1 = Fixtures.event(id, image);
        var record = new org.apache.avro.generic.GenericData.Record(v2);
        for (org.apache.avro.Schema.Field f : v2.getFields()) {
            Object value = v1.getSchema().getField(f.name()) == null ? "sha256:0" : v1.get(f.name());
            record.put(f.name(), value instanceof Instant t ? t.toEpochMilli() : value);
        }
        ByteBuffer b = new org.apache.avro.message.BinaryMessageEncoder<org.apache.avro.generic.GenericRecord>(
                org.apache.avro.generic.GenericData.get(), v2).encode(record);
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    @Test
    void aPluggedInValueSerdeIsConfiguredWithThePassThroughSettingsAndUsed() {
        RecordingSerde.configs.clear();
        start(engine, Settings.VALUE_SERDE, RecordingSerde.class.getName(), Settings.BATCH_SIZE, "1",
                "schema.registry.url", "http://registry:8081", "apicurio.registry.url", "http://apicurio:8080/apis/registry/v3");
        input.pipeInput("k", encoded("e", image(6)));
        assertEquals("e", ((Classification) classified.readValue()).getEventId());
        assertEquals(3, RecordingSerde.configs.size(), "one instance each for the source, the output and the DLQ");
        for (Map<String, ?> c : RecordingSerde.configs) {
            assertEquals("http://registry:8081", c.get("schema.registry.url"));
            assertEquals("http://apicurio:8080/apis/registry/v3", c.get("apicurio.registry.url"));
            assertEquals("localhost:9092", c.get("bootstrap.servers"));
            assertNull(c.get(Settings.BATCH_SIZE), "app settings are not the serde's");
        }
    }

    private void pipe(Map<String, byte[]> sent, String key, byte[] value) {
        sent.put(key, value);
        input.pipeInput(key, value);
    }

    private static Map<String, TestRecord<String, SpecificRecord>> byKey(List<TestRecord<String, SpecificRecord>> records) {
        Map<String, TestRecord<String, SpecificRecord>> m = new HashMap<>();
        for (TestRecord<String, SpecificRecord> r : records) {
            assertNull(m.put(r.key(), r), "one dead letter per record: " + r.key());
        }
        return m;
    }

    private static Map<String, DeadLetterReason> reasons(Map<String, TestRecord<String, SpecificRecord>> records) {
        Map<String, DeadLetterReason> m = new HashMap<>();
        records.forEach((k, r) -> m.put(k, ((DeadLetter) r.value()).getReason()));
        return m;
    }

    private static List<String> keys(TestOutputTopic<String, SpecificRecord> topic) {
        return topic.readRecordsToList().stream().map(TestRecord::key).toList();
    }

    private static String header(TestRecord<?, ?> r, String name) {
        Header h = r.headers().lastHeader(name);
        assertNotNull(h, name);
        return new String(h.value(), StandardCharsets.UTF_8);
    }

    private static byte[] bytes(ByteBuffer b) {
        assertNotNull(b);
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    /**
     * The whole top-k, in order, with scores and labels: seven of the eight fixture images share their
     * top-1 under the random-init model, so the top-1 alone would not tell them apart.
     */
    private static void assertSameTopK(Prediction want, Classification got, String what) {
        assertEquals(want.top().size(), got.getTopK().size(), what);
        for (int k = 0; k < want.top().size(); k++) {
            assertEquals(want.top().get(k).index(), got.getTopK().get(k).getIndex(), what + ": class at rank " + k);
            assertEquals(want.top().get(k).score(), got.getTopK().get(k).getScore(), 1e-5, what + ": score at rank " + k);
            assertEquals(want.top().get(k).label(), got.getTopK().get(k).getLabel(), what + ": label at rank " + k);
        }
    }
}
