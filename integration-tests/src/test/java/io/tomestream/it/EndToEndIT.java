package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;


import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.apicurio.registry.serde.avro.AvroKafkaDeserializer;
import io.apicurio.registry.serde.avro.AvroKafkaSerializer;
import io.tomestream.config.Settings;
import io.tomestream.schema.Classification;
import io.tomestream.schema.DeadLetter;
import io.tomestream.schema.DeadLetterReason;
import io.tomestream.schema.ImageEvent;
import io.tomestream.topology.DeadLetters;

/**
 * The production wire format end to end: the topology (in this JVM) reads and writes with Apicurio's
 * Avro serde against the real registry, in the Confluent format (magic byte, 4-byte content id, Avro
 * binary), auto-registering its output schemas. 300 events go in, 10 of them bad in five ways. Every
 * good one must come out as exactly one Classification with the fixture image's top-1, every bad one
 * as exactly one DeadLetter with its reason (also in the reason header), as read_committed consumers
 * see them. Finally, a plain consumer with no Apicurio code decodes the output by looking the writer
 * schema up by id through the registry's Confluent-compatible API.
 */
@ExtendWith(SharedInfra.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EndToEndIT {
    private static final int EVENTS = 300;

    private final ApicurioRegistry registry;
    private final KafkaCluster kafka;
    private final String run = Pipelines.unique();
    private final String app = "e2e-" + run, input = "e2e-in-" + run, output = "e2e-out-" + run, dlq = "e2e-dlq-" + run;

    /** What was sent: key to value bytes, and the bad ones' expected reasons. */
    private final Map<String, byte[]> sent = new LinkedHashMap<>();
    private final Map<String, Integer> goodImage = new HashMap<>();
    private final Map<String, DeadLetterReason> badReason = new LinkedHashMap<>();
    private List<ConsumerRecord<String, byte[]>> classified;
    private List<ConsumerRecord<String, byte[]>> deadLetters;
    private List<Pipelines.Expected> expected;
    private double seconds;

    // Registry first: it boots while the broker starts.
    EndToEndIT(ApicurioRegistry registry, KafkaCluster kafka) {
        this.registry = registry;
        this.kafka = kafka;
    }

    @BeforeAll
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void runThePipeline() throws Exception {
        expected = Pipelines.expected();
        kafka.createTopics(3, input, output, dlq);
        String bootstrap = kafka.bootstrapServers();
        String registryUrl = registry.registryUrl();

        Map<String, String> values = Pipelines.apicurioTopologySettings(bootstrap, registryUrl, app, input, output, dlq);
        values.put(Settings.BATCH_SIZE, "16");
        Settings settings = Settings.of(values);

        try (InJvmTopology topology = InJvmTopology.start(settings)) {
            KafkaStreams streams = topology.streams;
            long t0 = System.nanoTime();
            produce(bootstrap, registryUrl);
            try (OutputWatcher watcher = new OutputWatcher(bootstrap, output, dlq)) {
                Pipelines.await(Duration.ofSeconds(120), () -> watcher.distinct() >= EVENTS,
                        () -> "a result for each of " + EVENTS + " events, have " + watcher.distinct() + "; streams " + streams.state());
            }
            seconds = (System.nanoTime() - t0) / 1e9;
            Pipelines.await(Duration.ofSeconds(60), () -> Pipelines.committed(kafka.admin(), app, input) == EVENTS,
                    () -> "committed offsets " + Pipelines.committed(kafka.admin(), app, input) + " of " + EVENTS);
            classified = Pipelines.readAll(bootstrap, output, true);
            deadLetters = Pipelines.readAll(bootstrap, dlq, true);
            System.out.printf("[tomestream-it] e2e: %d events through the Apicurio-serde topology in %.1f s%n", EVENTS, seconds);
        }
    }

    private void produce(String bootstrap, String registryUrl) throws Exception {
        AvroKafkaSerializer<ImageEvent> serializer = new AvroKafkaSerializer<>();
        serializer.configure(RegistrySerdeConfig.serializer(registryUrl, true), false);
        TestEvents events = TestEvents.withBadOnes(EVENTS, e -> serializer.serialize(input, e));
        serializer.close();
        Map<String, byte[]> plan = events.values();
        goodImage.putAll(events.goodImage());
        badReason.putAll(events.badReason());
        try (KafkaProducer<String, byte[]> producer = Pipelines.producer(bootstrap)) {
            for (var e : plan.entrySet()) producer.send(new ProducerRecord<>(input, e.getKey(), e.getValue()));
            producer.flush();
        }
        sent.putAll(plan);
        assertEquals(10, badReason.size());
        assertEquals(EVENTS, sent.size());
    }

    @AfterAll
    void summary() {
        System.out.printf("[tomestream-it] e2e: %d classified, %d dead letters%n",
                classified == null ? -1 : classified.size(), deadLetters == null ? -1 : deadLetters.size());
    }

    @Test
    void everyGoodEventGetsExactlyOneClassificationWithItsImagesTopClasses() {
        Map<String, Integer> counts = Pipelines.countByKey(classified);
        assertEquals(goodImage.keySet(), counts.keySet(), "exactly the good events are classified");
        assertTrue(counts.values().stream().allMatch(n -> n == 1), "each once: " + counts);
        Deserializer<Object> reader = apicurioReader();
        for (ConsumerRecord<String, byte[]> r : classified) {
            Classification c = (Classification) reader.deserialize(output, r.headers(), r.value());
            assertEquals(r.key(), c.getEventId());
            expected.get(goodImage.get(r.key())).assertMatches(c, r.key());
            assertEquals(3, c.getTopK().size());
            assertEquals(65, c.getTokensIn());
            assertEquals(Pipelines.TOME, c.getTomeSpec().replaceAll("[^0-9]", ""), c.getTomeSpec());
            assertTrue(!c.getProcessingTime().isBefore(c.getEventTime()), "processed after the event");
        }
    }

    @Test
    void everyBadEventGetsExactlyOneDeadLetterWithItsReason() {
        Map<String, Integer> counts = Pipelines.countByKey(deadLetters);
        assertEquals(badReason.keySet(), counts.keySet(), "exactly the bad events are dead-lettered");
        assertTrue(counts.values().stream().allMatch(n -> n == 1), "each once: " + counts);
        Deserializer<Object> reader = apicurioReader();
        Map<String, DeadLetterReason> actual = new LinkedHashMap<>();
        for (ConsumerRecord<String, byte[]> r : deadLetters) {
            DeadLetter d = (DeadLetter) reader.deserialize(dlq, r.headers(), r.value());
            actual.put(r.key(), d.getReason());
            Header reason = r.headers().lastHeader(DeadLetters.REASON_HEADER);
            assertNotNull(reason, r.key() + " has the reason header");
            assertEquals(d.getReason().name(), new String(reason.value(), StandardCharsets.UTF_8), r.key());
            assertEquals(input, d.getOriginalTopic());
            assertArrayEquals(r.key().getBytes(StandardCharsets.UTF_8), bytes(d.getOriginalKey()));
            assertArrayEquals(sent.get(r.key()), bytes(d.getOriginalPayload()), r.key() + ": the original value, as read");
            assertTrue(!d.getMessage().isBlank(), r.key());
            System.out.printf("[tomestream-it] e2e: %-24s %-18s %s%n", r.key(), d.getReason(), d.getMessage());
        }
        assertEquals(badReason, sortedLike(badReason, actual));
    }

    /**
     * A reader with no Apicurio code: the value is magic byte 0, a 4-byte schema id and Avro binary;
     * the id is looked up through the Confluent-compatible API and the rest decoded with that schema.
     */
    @Test
    void theOutputIsReadableByAPlainConsumerThroughTheCcompatSchemaLookup() {
        CcompatClient ccompat = new CcompatClient(registry.ccompatUrl());
        Map<Integer, Schema> schemas = new HashMap<>();
        for (ConsumerRecord<String, byte[]> r : classified) {
            ByteBuffer value = ByteBuffer.wrap(r.value());
            assertEquals(0, value.get(), "magic byte");
            int id = value.getInt();
            Schema writer = schemas.computeIfAbsent(id, i -> new Schema.Parser().parse(
                    ccompat.schemaById(i).requireOk().body().get("schema").asText()));
            assertEquals("io.tomestream.schema.Classification", writer.getFullName());
            GenericRecord decoded = decode(writer, value);
            assertEquals(r.key(), decoded.get("eventId").toString());
            List<Object> indices = ((List<?>) decoded.get("topK")).stream().map(o -> ((GenericRecord) o).get("index")).toList();
            assertEquals(expected.get(goodImage.get(r.key())).top3(), indices, r.key());
            assertTrue(r.headers().toArray().length == 0 || r.headers().lastHeader("apicurio.value.globalId") == null,
                    "the id is in the payload, not in headers");
        }
        assertEquals(1, schemas.size(), "one writer schema for all classifications: " + schemas.keySet());
        int id = schemas.keySet().iterator().next();
        assertEquals(id, ccompat.version(output + "-value", "latest").requireOk().body().get("id").asInt(),
                "the id on the wire is the subject's latest version as ccompat reports it");

        // The dead letters too, with their own schema.
        for (ConsumerRecord<String, byte[]> r : deadLetters) {
            ByteBuffer value = ByteBuffer.wrap(r.value());
            assertEquals(0, value.get());
            Schema writer = new Schema.Parser().parse(ccompat.schemaById(value.getInt()).requireOk().body().get("schema").asText());
            assertEquals("io.tomestream.schema.DeadLetter", writer.getFullName());
            GenericRecord decoded = decode(writer, value);
            assertEquals(badReason.get(r.key()).name(), decoded.get("reason").toString());
        }
    }

    // ---------------------------------------------------------------------------------------------

    @SuppressWarnings("unchecked")
    private Deserializer<Object> apicurioReader() {
        AvroKafkaDeserializer<SpecificRecord> d = new AvroKafkaDeserializer<>();
        d.configure(RegistrySerdeConfig.specificDeserializer(registry.registryUrl()), false);
        return (Deserializer<Object>) (Deserializer<?>) d;
    }

    private static GenericRecord decode(Schema writer, ByteBuffer rest) {
        try {
            BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(rest.array(), rest.position(), rest.remaining(), null);
            GenericRecord record = new GenericDatumReader<GenericRecord>(writer, writer, GenericData.get()).read(null, decoder);
            assertTrue(decoder.isEnd(), "the Avro body is the rest of the value");
            return record;
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static Map<String, DeadLetterReason> sortedLike(Map<String, DeadLetterReason> order, Map<String, DeadLetterReason> m) {
        Map<String, DeadLetterReason> out = new LinkedHashMap<>();
        for (String k : order.keySet()) out.put(k, m.get(k));
        return out;
    }

    private static byte[] bytes(ByteBuffer b) {
        if (b == null) return null;
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }
}
