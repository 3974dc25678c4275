package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.apicurio.registry.serde.avro.AvroKafkaDeserializer;
import io.apicurio.registry.serde.avro.AvroKafkaSerializer;
import io.tomestream.schema.ImageEvent;

/**
 * Against a real Apicurio Registry and a real broker: schema evolution rules through the
 * Confluent-compatible API, and the exact bytes Apicurio's Avro serializer puts on the wire.
 */
@ExtendWith(SharedInfra.class)
class RegistryIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path EVOLUTION = Path.of(System.getProperty("tomestream.it.evolution.dir",
            "../schemas/src/test/resources/evolution"));

    private final ApicurioRegistry registry;
    private final KafkaCluster kafka;
    private final CcompatClient ccompat;

    // Registry first: it is only spawned here and boots while the broker starts.
    RegistryIT(ApicurioRegistry registry, KafkaCluster kafka) {
        this.registry = registry;
        this.kafka = kafka;
        this.ccompat = new CcompatClient(registry.ccompatUrl());
    }

    @BeforeAll
    static void reportStartup(ApicurioRegistry registry, KafkaCluster kafka) {
        System.out.printf("[tomestream-it] Apicurio Registry %s ready %d ms after launch (log: %s)%n",
                registry.baseUrl(), registry.startupMillis(), registry.logFile());
    }

    @Test
    void backwardCompatibilityAcceptsOptionalFieldAndRefusesBreakingChanges() throws IOException {
        String subject = "image-events-value";
        String v1 = ImageEvent.getClassSchema().toString();
        String v2 = Files.readString(EVOLUTION.resolve("ImageEvent-v2.avsc"));
        String broken = Files.readString(EVOLUTION.resolve("ImageEvent-broken.avsc"));
        String required = Files.readString(EVOLUTION.resolve("ImageEvent-required.avsc"));

        int id1 = ccompat.registerOrFail(subject, v1);
        assertEquals(id1, ccompat.registerOrFail(subject, v1), "re-registering the same schema is idempotent");

        var config = ccompat.setCompatibility(subject, "BACKWARD").requireOk();
        assertEquals("BACKWARD", config.body().get("compatibility").asText(), config.toString());

        var v2Check = ccompat.checkCompatibility(subject, v2).requireOk();
        assertTrue(v2Check.body().get("is_compatible").asBoolean(), v2Check.toString());
        var brokenCheck = ccompat.checkCompatibility(subject, broken).requireOk();
        assertFalse(brokenCheck.body().get("is_compatible").asBoolean(), brokenCheck.toString());
        var requiredCheck = ccompat.checkCompatibility(subject, required).requireOk();
        assertFalse(requiredCheck.body().get("is_compatible").asBoolean(), requiredCheck.toString());

        int id2 = ccompat.registerOrFail(subject, v2);
        assertNotEquals(id1, id2);

        var refused = ccompat.register(subject, broken);
        assertEquals(409, refused.status(), "an incompatible schema is refused with 409 Conflict: " + refused);
        var refusedRequired = ccompat.register(subject, required);
        assertEquals(409, refusedRequired.status(), refusedRequired.toString());

        var versions = ccompat.versions(subject).requireOk().body();
        assertEquals("[1,2]", versions.toString(), "the refused schemas left no version behind");
        var latest = ccompat.version(subject, "latest").requireOk().body();
        assertEquals(id2, latest.get("id").asInt());
        assertEquals(new Schema.Parser().parse(v2), new Schema.Parser().parse(latest.get("schema").asText()));
    }

    /**
     * Apicurio's serializer, configured by {@link RegistrySerdeConfig}, writes the Confluent wire
     * format. Proven with nothing of Apicurio's: a byte-array consumer, the ccompat API and Avro.
     */
    @Test
    void serializerWritesConfluentWireFormat() throws Exception {
        String topic = "wire-image-events";
        String subject = topic + "-value";
        kafka.createTopic(topic, 2);

        // Register the same content under another subject first: that version takes a new global id
        // but the content id is shared, so below contentId != globalId and the test can tell them apart.
        int decoyId = ccompat.registerOrFail("wire-decoy-value", ImageEvent.getClassSchema().toString());

        List<ImageEvent> sent = List.of(event("e-1", 1, null), event("e-2", 2, 28), event("e-3", 3, 224));
        try (var producer = new KafkaProducer<>(producerProps(), new StringSerializer(),
                valueSerializer(RegistrySerdeConfig.serializer(registry.registryUrl(), true)))) {
            for (ImageEvent e : sent) {
                producer.send(new ProducerRecord<>(topic, e.getEventId(), e)).get(30, TimeUnit.SECONDS);
            }
        }

        // What the registry says about the version the serializer registered under <topic>-value.
        JsonNode version = nativeGet("/groups/default/artifacts/" + subject + "/versions").get("versions").get(0);
        long contentId = version.get("contentId").asLong();
        long globalId = version.get("globalId").asLong();
        assertNotEquals(contentId, globalId, "precondition: content and global ids differ (" + version + ")");
        assertEquals(decoyId, contentId, "same content, same content id, which ccompat hands out as the id");
        assertEquals(contentId, ccompat.version(subject, "latest").requireOk().body().get("id").asLong(),
                "ccompat's id for the subject's version is the content id");

        List<ConsumerRecord<String, byte[]>> records = consumeBytes(topic, sent.size());
        assertEquals(sent.size(), records.size());
        Map<String, ImageEvent> byId = new HashMap<>();
        sent.forEach(e -> byId.put(e.getEventId(), e));
        for (ConsumerRecord<String, byte[]> record : records) {
            for (Header h : record.headers()) {
                assertFalse(h.key().startsWith("apicurio"), "no Apicurio headers expected, got " + h.key());
            }
            ByteBuffer bytes = ByteBuffer.wrap(record.value()); // big-endian by default
            assertEquals(0, bytes.get(), "magic byte");
            int id = bytes.getInt();
            assertEquals(contentId, id, "the 4-byte id is the content id");

            String schemaJson = ccompat.schemaById(id).requireOk().body().get("schema").asText();
            Schema writer = new Schema.Parser().parse(schemaJson);
            assertEquals("io.tomestream.schema.ImageEvent", writer.getFullName());

            BinaryDecoder decoder = DecoderFactory.get()
                    .binaryDecoder(record.value(), bytes.position(), bytes.remaining(), null);
            GenericRecord decoded = new GenericDatumReader<GenericRecord>(writer).read(null, decoder);
            assertTrue(decoder.isEnd(), "the Avro body is the rest of the value, nothing after it");

            ImageEvent expected = byId.get(record.key());
            assertEquals(expected.getEventId(), decoded.get("eventId").toString());
            assertEquals(expected.getEventTime().toEpochMilli(), (Long) decoded.get("eventTime"));
            assertEquals(expected.getSource(), decoded.get("source").toString());
            assertEquals(expected.getContentType(), decoded.get("contentType").toString());
            assertArrayEquals(expected.getImage().array(), toArray((ByteBuffer) decoded.get("image")));
            assertEquals(expected.getWidth(), decoded.get("width"));
            assertEquals(expected.getHeight(), decoded.get("height"));
            Map<String, String> attributes = new HashMap<>();
            ((Map<?, ?>) decoded.get("attributes")).forEach((k, v) -> attributes.put(k.toString(), v.toString()));
            assertEquals(expected.getAttributes(), attributes);
        }

        // And Apicurio's deserializer reads the same records back as generated SpecificRecords.
        List<ImageEvent> received = consumeSpecific(topic, sent.size());
        assertEquals(sent.size(), received.size());
        for (ImageEvent e : received) {
            assertEquals(byId.get(e.getEventId()), e);
        }
    }

    /**
     * Without auto-registration the serializer uses the subject's latest version as registered
     * through ccompat, and writes exactly the id ccompat returned at registration.
     */
    @Test
    void serializerUsesSchemaRegisteredThroughCcompat() throws Exception {
        String topic = "preregistered-image-events";
        kafka.createTopic(topic, 1);
        int id = ccompat.registerOrFail(topic + "-value", ImageEvent.getClassSchema().toString());

        ImageEvent e = event("p-1", 7, 64);
        try (var producer = new KafkaProducer<>(producerProps(), new StringSerializer(),
                valueSerializer(RegistrySerdeConfig.serializer(registry.registryUrl(), false)))) {
            producer.send(new ProducerRecord<>(topic, e.getEventId(), e)).get(30, TimeUnit.SECONDS);
        }
        byte[] value = consumeBytes(topic, 1).get(0).value();
        assertEquals(0, value[0]);
        assertEquals(id, ByteBuffer.wrap(value, 1, 4).getInt());
        assertEquals(List.of(e), consumeSpecific(topic, 1));
    }

    // ---------------------------------------------------------------------------------------------

    private static ImageEvent event(String id, int n, Integer size) {
        byte[] image = new byte[16 + n];
        for (int i = 0; i < image.length; i++) {
            image[i] = (byte) (i * 31 + n);
        }
        return ImageEvent.newBuilder()
                .setEventId(id)
                .setEventTime(Instant.ofEpochMilli(1_700_000_000_000L + n))
                .setSource("camera-" + n)
                .setContentType("image/png")
                .setImage(ByteBuffer.wrap(image))
                .setWidth(size)
                .setHeight(size)
                .setAttributes(n % 2 == 0 ? Map.of("label", Integer.toString(n)) : Map.of())
                .build();
    }

    private static byte[] toArray(ByteBuffer buffer) {
        byte[] out = new byte[buffer.remaining()];
        buffer.duplicate().get(out);
        return out;
    }

    private Properties producerProps() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        return p;
    }

    private static Serializer<ImageEvent> valueSerializer(Map<String, Object> config) {
        AvroKafkaSerializer<ImageEvent> serializer = new AvroKafkaSerializer<>();
        serializer.configure(config, false);
        return serializer;
    }

    private Properties consumerProps() {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        return p;
    }

    private List<ConsumerRecord<String, byte[]>> consumeBytes(String topic, int expected) {
        try (var consumer = new KafkaConsumer<>(consumerProps(), new StringDeserializer(), new ByteArrayDeserializer())) {
            return drain(consumer, topic, expected);
        }
    }

    private List<ImageEvent> consumeSpecific(String topic, int expected) {
        AvroKafkaDeserializer<ImageEvent> deserializer = new AvroKafkaDeserializer<>();
        deserializer.configure(RegistrySerdeConfig.specificDeserializer(registry.registryUrl()), false);
        try (var consumer = new KafkaConsumer<String, ImageEvent>(consumerProps(), new StringDeserializer(),
                (Deserializer<ImageEvent>) deserializer)) {
            List<ImageEvent> out = new ArrayList<>();
            for (ConsumerRecord<String, ImageEvent> r : drain(consumer, topic, expected)) {
                out.add(r.value());
            }
            return out;
        }
    }

    private static <V> List<ConsumerRecord<String, V>> drain(KafkaConsumer<String, V> consumer, String topic, int expected) {
        var partitions = consumer.partitionsFor(topic).stream()
                .map(p -> new TopicPartition(topic, p.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        List<ConsumerRecord<String, V>> out = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (out.size() < expected && System.nanoTime() < deadline) {
            consumer.poll(Duration.ofMillis(200)).forEach(out::add);
        }
        return out;
    }

    private JsonNode nativeGet(String path) throws IOException, InterruptedException {
        HttpResponse<String> r = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create(registry.registryUrl() + path)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        assertEquals(200, r.statusCode(), path + ": " + r.body());
        return JSON.readTree(r.body());
    }
}
