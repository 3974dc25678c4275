package io.tomestream.topology;

import io.tomestream.config.ConfigException;
import io.tomestream.schema.ClassScore;
import io.tomestream.schema.Classification;
import io.tomestream.schema.DeadLetter;
import io.tomestream.schema.DeadLetterReason;
import io.tomestream.schema.ImageEvent;
import io.tomestream.schema.SchemaMismatchException;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serde;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The registry-less serde as Kafka sees it, and choosing a serde class by name. */
class SingleObjectAvroSerdeTest {
    private final SingleObjectAvroSerde serde = new SingleObjectAvroSerde();

    static byte[] someClassification() {
        return new SingleObjectAvroSerde().serializer().serialize("t", classification());
    }

    private static Classification classification() {
        return Classification.newBuilder().setEventId("e").setEventTime(Instant.EPOCH).setProcessingTime(Instant.EPOCH)
                .setModelId("m").setModelVersion("v").setTopK(List.of(new ClassScore(1, "one", 0.5f)))
                .setTokensIn(65).setTokensFinal(33).setTomeSpec("8").setBackend("cpu").setDevice("x").setLatencyMs(1.0).build();
    }

    @Test
    void everyRecordTypeRoundTripsThroughOneInstance() {
        ImageEvent event = Fixtures.event("e1", new byte[] {1, 2, 3});
        DeadLetter letter = DeadLetter.newBuilder().setOriginalTopic("t").setOriginalPartition(1).setOriginalOffset(2)
                .setReason(DeadLetterReason.SCHEMA_ERROR).setMessage("m").setFailedAt(Instant.EPOCH).build();
        for (SpecificRecord r : List.of(event, classification(), letter)) {
            byte[] bytes = serde.serializer().serialize("topic", r);
            assertEquals((byte) 0xC3, bytes[0]);
            assertEquals(r, serde.deserializer().deserialize("topic", bytes));
        }
        assertNull(serde.serializer().serialize("topic", null));
        assertNull(serde.deserializer().deserialize("topic", null));
    }

    @Test
    void badBytesFailWithOneLineMessages() {
        var e = assertThrows(SchemaMismatchException.class, () -> serde.deserializer().deserialize("t", "hello".getBytes()));
        assertEquals(SchemaMismatchException.Kind.NOT_SINGLE_OBJECT, e.kind());
        byte[] unknown = {(byte) 0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0};
        e = assertThrows(SchemaMismatchException.class, () -> serde.deserializer().deserialize("t", unknown));
        assertEquals(SchemaMismatchException.Kind.UNKNOWN_FINGERPRINT, e.kind());
        assertTrue(e.getMessage().contains("0807060504030201") && !e.getMessage().contains("\n"), e.getMessage());
        byte[] good = serde.serializer().serialize("t", Fixtures.event("e", new byte[100]));
        byte[] truncated = java.util.Arrays.copyOf(good, good.length - 40);
        e = assertThrows(SchemaMismatchException.class, () -> serde.deserializer().deserialize("t", truncated));
        assertEquals(SchemaMismatchException.Kind.CORRUPT, e.kind());
    }

    @Test
    void theValueSerdeSettingNamesAClass() {
        Serde<SpecificRecord> ours = ValueSerdes.create(SingleObjectAvroSerde.class.getName(), Map.of());
        assertInstanceOf(SingleObjectAvroSerde.class, ours);
        RecordingSerde.configs.clear();
        ValueSerdes.create(RecordingSerde.class.getName(), Map.of("schema.registry.url", "http://r:8081"));
        assertEquals(Map.of("schema.registry.url", "http://r:8081"), RecordingSerde.configs.getFirst());

        var missing = assertThrows(ConfigException.class,
                () -> ValueSerdes.create("io.confluent.kafka.streams.serdes.avro.SpecificAvroSerde", Map.of()));
        assertEquals("value.serde: class io.confluent.kafka.streams.serdes.avro.SpecificAvroSerde is not on the class path", missing.getMessage());
        var notSerde = assertThrows(ConfigException.class, () -> ValueSerdes.create("java.lang.Object", Map.of()));
        assertTrue(notSerde.getMessage().contains("is not a org.apache.kafka.common.serialization.Serde"), notSerde.getMessage());
    }

    @Test
    void aBufferedRecordSurvivesTheStoreEncoding() {
        var headers = new org.apache.kafka.common.header.internals.RecordHeaders();
        headers.add("schema-id", new byte[] {0, 0, 0, 7});
        headers.add("empty", null);
        BufferedRecord r = new BufferedRecord("image-events", 3, 1L << 40, 123, 456, null, new byte[] {9, 8}, headers);
        BufferedRecord back = BufferedRecord.decode(r.encode());
        assertEquals("image-events", back.topic());
        assertEquals(3, back.partition());
        assertEquals(1L << 40, back.offset());
        assertEquals(123, back.timestamp());
        assertEquals(456, back.arrivalMs());
        assertNull(back.key());
        assertEquals(ByteBuffer.wrap(new byte[] {9, 8}), ByteBuffer.wrap(back.value()));
        assertEquals(headers, back.headers());
        // partition, then offset, big-endian: unsigned byte order is arrival order
        BufferedRecord later = new BufferedRecord("image-events", 3, (1L << 40) + 1, 0, 0, null, new byte[0], headers);
        assertTrue(r.storeKey().compareTo(later.storeKey()) < 0);
    }
}
