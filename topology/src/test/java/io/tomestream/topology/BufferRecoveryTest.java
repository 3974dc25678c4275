package io.tomestream.topology;

import io.tomestream.classify.Classifier;
import io.tomestream.config.Settings;
import io.tomestream.metrics.PipelineMetrics;
import io.tomestream.schema.Classification;
import io.tomestream.schema.DeadLetter;
import io.tomestream.schema.DeadLetterReason;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.BytesDeserializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.processor.api.MockProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static io.tomestream.topology.Fixtures.encoded;
import static io.tomestream.topology.Fixtures.image;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What survives a task moving or the process dying: the buffer's changelog holds every buffered
 * record, a processor initialised on a store restored from it classifies them at its first
 * punctuation, and closing a processor never flushes. TopologyTestDriver doesn't restore stores
 * from changelogs, so the restore is replayed by hand into a MockProcessorContext's store; the real
 * crash-and-restore under exactly-once is for the broker-backed integration tests.
 */
class BufferRecoveryTest {
    private static final String CHANGELOG = "tomestream-" + ClassificationTopology.BUFFER_STORE + "-changelog";
    private static Classifier classifier;
    private static Engine engine;

    @TempDir
    Path stateDir;

    @BeforeAll
    static void openModel() {
        classifier = Fixtures.classifier("8");
        engine = Engine.of(classifier, "test-1");
    }

    @AfterAll
    static void closeModel() {
        classifier.close();
    }

    @Test
    void bufferedRecordsAreChangeloggedAndANewOwnerClassifiesThemAtItsFirstPunctuation() {
        Settings settings = Fixtures.settings(stateDir, Settings.BATCH_SIZE, "16", Settings.BATCH_MAX_WAIT_MS, "60000");
        List<KeyValue<Bytes, byte[]>> logged;
        try (TopologyTestDriver driver = new TopologyTestDriver(
                ClassificationTopology.build(settings, engine, PipelineMetrics.discarding()), settings.kafkaProperties())) {
            TestInputTopic<byte[], byte[]> input = driver.createInputTopic("image-events", new ByteArraySerializer(), new ByteArraySerializer());
            for (int i = 0; i < 3; i++) input.pipeInput(("k" + i).getBytes(StandardCharsets.UTF_8), encoded("e" + i, image(i)));

            assertTrue(driver.createOutputTopic("classifications", new ByteArrayDeserializer(), new ByteArrayDeserializer()).isEmpty());
            KeyValueStore<Bytes, byte[]> store = driver.getKeyValueStore(ClassificationTopology.BUFFER_STORE);
            assertEquals(3, count(store));
            assertTrue(driver.producedTopicNames().contains(CHANGELOG), driver.producedTopicNames().toString());
            logged = driver.createOutputTopic(CHANGELOG, new BytesDeserializer(), new ByteArrayDeserializer()).readKeyValuesToList();
        }
        assertEquals(3, logged.size());
        for (int i = 0; i < 3; i++) {
            BufferedRecord r = BufferedRecord.decode(logged.get(i).value);
            assertEquals(i, r.offset());
            assertEquals("k" + i, new String(r.key(), StandardCharsets.UTF_8));
            assertEquals(r.storeKey(), logged.get(i).key);
        }

        // The next owner of the task: its store restored from the changelog, then init, then punctuation.
        MockProcessorContext<byte[], SpecificRecord> context = Fixtures.context(settings);
        KeyValueStore<Bytes, byte[]> restored = Fixtures.bufferStore(context);
        for (KeyValue<Bytes, byte[]> kv : logged) {
            if (kv.value == null) restored.delete(kv.key);
            else restored.put(kv.key, kv.value);
        }
        MicroBatchProcessor processor = processor(engine, 16);
        processor.init(context);
        assertTrue(context.forwarded().isEmpty());
        punctuate(context);
        List<String> keys = new ArrayList<>();
        for (var f : context.forwarded(ClassificationTopology.CLASSIFIED_SINK)) {
            keys.add(new String(f.record().key(), StandardCharsets.UTF_8));
        }
        assertEquals(List.of("k0", "k1", "k2"), keys);
        assertEquals(List.of("e0", "e1", "e2"), context.forwarded(ClassificationTopology.CLASSIFIED_SINK).stream()
                .map(f -> ((Classification) f.record().value()).getEventId()).toList());
        assertEquals(0, count(restored));
        processor.close();
    }

    @Test
    void aRestoredBufferLargerThanABatchIsClassifiedInBatchesOfBatchSize() {
        Settings settings = Fixtures.settings(stateDir);
        MockProcessorContext<byte[], SpecificRecord> context = Fixtures.context(settings);
        KeyValueStore<Bytes, byte[]> store = Fixtures.bufferStore(context);
        for (int i = 0; i < 5; i++) {
            BufferedRecord r = new BufferedRecord("image-events", 0, 100 + i, 0, 0, null, encoded("e" + i, image(i)),
                    new org.apache.kafka.common.header.internals.RecordHeaders());
            store.put(r.storeKey(), r.encode());
        }
        List<Integer> batches = new ArrayList<>();
        MicroBatchProcessor processor = processor(engine.withClassifier(images -> {
            batches.add(images.size());
            return classifier.classify(images);
        }), 2);
        processor.init(context);
        punctuate(context);
        assertEquals(List.of(2, 2, 1), batches);
        assertEquals(List.of("e0", "e1", "e2", "e3", "e4"), context.forwarded(ClassificationTopology.CLASSIFIED_SINK).stream()
                .map(f -> ((Classification) f.record().value()).getEventId()).toList());
    }

    @Test
    void anUnreadableBufferEntryGoesToTheDlqWithItsBytesAndOriginAndIsCounted() {
        Settings settings = Fixtures.settings(stateDir);
        MockProcessorContext<byte[], SpecificRecord> context = Fixtures.context(settings);
        KeyValueStore<Bytes, byte[]> store = Fixtures.bufferStore(context);
        for (int i = 0; i < 3; i++) {
            BufferedRecord r = new BufferedRecord("image-events", 0, 100 + i, 0, 0, null, encoded("e" + i, image(i)),
                    new org.apache.kafka.common.header.internals.RecordHeaders());
            store.put(r.storeKey(), i == 1 ? new byte[] {9, 9, 9} : r.encode()); // offset 101: bytes of no known format
        }
        var registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        MicroBatchProcessor processor = new MicroBatchProcessor(engine, "image-events", new SingleObjectAvroSerde().deserializer(),
                new PipelineMetrics(registry), 16, 60_000, 1 << 20, 1000);
        processor.init(context);
        punctuate(context);

        assertEquals(List.of("e0", "e2"), context.forwarded(ClassificationTopology.CLASSIFIED_SINK).stream()
                .map(f -> ((Classification) f.record().value()).getEventId()).toList());
        var dead = context.forwarded(ClassificationTopology.DEAD_LETTER_SINK);
        assertEquals(1, dead.size());
        DeadLetter letter = (DeadLetter) dead.getFirst().record().value();
        assertEquals(DeadLetterReason.UNREADABLE_BUFFER_ENTRY, letter.getReason());
        assertEquals("image-events", letter.getOriginalTopic());
        assertEquals(0, letter.getOriginalPartition());
        assertEquals(101, letter.getOriginalOffset());
        assertEquals(java.nio.ByteBuffer.wrap(new byte[] {9, 9, 9}), letter.getOriginalPayload());
        assertTrue(letter.getMessage().contains("unknown buffer record format 9"), letter.getMessage());
        assertEquals(1.0, registry.get("tomestream.events.dead.lettered").tag("reason", "UNREADABLE_BUFFER_ENTRY").counter().count());
        assertEquals(0, count(store), "nothing stays behind to fail every flush");
    }

    /**
     * An image that kills the process in the engine (an InternalError escaping here stands for an
     * out-of-memory exit or a native crash): each restart finds the batch it died in, classifies the
     * suspects alone, and dead-letters the one that killed two processes alone. No crash loop, and the
     * other events of its batch are classified.
     */
    @Test
    void anImageThatKillsTheProcessIsDeadLetteredAfterTwoLonelyDeathsAndTheRestAreClassified() {
        Settings settings = Fixtures.settings(stateDir);
        byte[] poison = java.util.Arrays.copyOf(image(2), image(2).length + 1);
        List<List<Integer>> calls = new ArrayList<>();
        Engine deadly = engine.withClassifier(images -> {
            calls.add(images.stream().map(b -> b.length).toList());
            if (images.stream().anyMatch(b -> java.util.Arrays.equals(b, poison))) throw new InternalError("SIGSEGV in the engine");
            return classifier.classify(images);
        });
        List<KeyValue<Bytes, byte[]>> buffered = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            BufferedRecord r = new BufferedRecord("image-events", 0, 100 + i, 0, 0, null, encoded("e" + i, i == 2 ? poison : image(i)),
                    new org.apache.kafka.common.header.internals.RecordHeaders());
            buffered.add(KeyValue.pair(r.storeKey(), r.encode()));
        }
        List<String> classifiedIds = new ArrayList<>();
        List<String> deadIds = new ArrayList<>();
        int deaths = 0;
        for (int life = 0; life < 6 && classifiedIds.size() + deadIds.size() < 4; life++) {
            // A new process: the store restored from the changelog, which still holds what no commit removed.
            MockProcessorContext<byte[], SpecificRecord> context = Fixtures.context(settings);
            KeyValueStore<Bytes, byte[]> store = Fixtures.bufferStore(context);
            for (KeyValue<Bytes, byte[]> kv : buffered) store.put(kv.key, kv.value);
            MicroBatchProcessor processor = processor(deadly, 16);
            processor.init(context);
            try {
                punctuate(context);
            } catch (InternalError died) {
                deaths++;
                continue; // the transaction aborts: nothing forwarded counts, and the buffer stays as it was
            }
            context.forwarded(ClassificationTopology.CLASSIFIED_SINK).forEach(f -> classifiedIds.add(((Classification) f.record().value()).getEventId()));
            context.forwarded(ClassificationTopology.DEAD_LETTER_SINK).forEach(f -> deadIds.add(new String(
                    ((DeadLetter) f.record().value()).getOriginalPayload().array(), StandardCharsets.ISO_8859_1).contains("e2") ? "e2" : "?"));
            assertEquals(0, count(store));
            buffered.clear();
        }
        assertEquals(3, deaths, "in the batch, then alone twice");
        assertEquals(List.of("e0", "e1", "e3"), classifiedIds.stream().sorted().toList());
        assertEquals(List.of("e2"), deadIds);
        // 1: the batch of 4; 2: e0, e1 and e2 alone (dies); 3: e2 alone (dies); 4: e2 dead-lettered, e3 with the rest.
        assertEquals(1 + 3 + 1 + 1, calls.size(), "engine calls: " + calls);
    }

    @Test
    void closingLeavesTheBufferForTheNextOwnerInsteadOfFlushing() {
        Settings settings = Fixtures.settings(stateDir);
        MockProcessorContext<byte[], SpecificRecord> context = Fixtures.context(settings);
        KeyValueStore<Bytes, byte[]> store = Fixtures.bufferStore(context);
        AtomicInteger calls = new AtomicInteger();
        MicroBatchProcessor processor = processor(engine.withClassifier(images -> {
            calls.incrementAndGet();
            return classifier.classify(images);
        }), 16);
        processor.init(context);
        for (int i = 0; i < 2; i++) {
            context.setRecordMetadata("image-events", 0, i);
            processor.process(new Record<>(null, encoded("e" + i, image(i)), 1000L + i));
        }
        processor.close();
        assertEquals(0, calls.get());
        assertTrue(context.forwarded().isEmpty());
        assertEquals(2, count(store));
        assertNull(store.get(new BufferedRecord("image-events", 0, 5, 0, 0, null, new byte[0],
                new org.apache.kafka.common.header.internals.RecordHeaders()).storeKey()));
    }

    private static MicroBatchProcessor processor(Engine e, int batchSize) {
        return new MicroBatchProcessor(e, "in", new SingleObjectAvroSerde().deserializer(), PipelineMetrics.discarding(),
                batchSize, 60_000, 1 << 20, 1000);
    }

    private static void punctuate(MockProcessorContext<byte[], SpecificRecord> context) {
        assertEquals(1, context.scheduledPunctuators().size());
        context.scheduledPunctuators().getFirst().getPunctuator().punctuate(context.currentSystemTimeMs());
    }

    private static int count(KeyValueStore<Bytes, byte[]> store) {
        int n = 0;
        try (KeyValueIterator<Bytes, byte[]> it = store.all()) {
            for (; it.hasNext(); it.next()) n++;
        }
        return n;
    }
}
