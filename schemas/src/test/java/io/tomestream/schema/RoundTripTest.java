package io.tomestream.schema;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.avro.Schema;
import org.junit.jupiter.api.Test;

class RoundTripTest {

  @Test
  void fullImageEventRoundTrips() {
    ImageEvent event = Fixtures.fullImageEvent();
    ImageEvent back = SingleObjectSerde.imageEvents().decode(SingleObjectSerde.imageEvents().encode(event));
    assertEquals(event, back);
    assertEquals(Fixtures.T0, back.getEventTime());
    assertEquals("207", back.getAttributes().get("label"));
    assertEquals(224, back.getWidth());
  }

  @Test
  void imageEventWithNullOptionalsAndEmptyMapRoundTrips() {
    ImageEvent event = Fixtures.minimalImageEvent();
    assertNull(event.getWidth());
    assertNull(event.getHeight());
    assertTrue(event.getAttributes().isEmpty(), "attributes default to {}");
    ImageEvent back = SingleObjectSerde.imageEvents().decode(SingleObjectSerde.imageEvents().encode(event));
    assertEquals(event, back);
    assertNull(back.getWidth());
    assertNull(back.getHeight());
    assertTrue(back.getAttributes().isEmpty());
    assertEquals(0, back.getImage().remaining());
  }

  @Test
  void classificationRoundTrips() {
    SingleObjectSerde<Classification> serde = SingleObjectSerde.classifications();
    Classification c = Fixtures.fullClassification();
    Classification back = serde.decode(serde.encode(c));
    assertEquals(c, back);
    assertEquals(3, back.getTopK().size());
    assertEquals("golden retriever", back.getTopK().get(0).getLabel());
    assertEquals(0.81f, back.getTopK().get(0).getScore());
    assertEquals(101, back.getTokensFinal());
  }

  @Test
  void classificationWithEmptyTopKRoundTrips() {
    SingleObjectSerde<Classification> serde = SingleObjectSerde.classifications();
    Classification c = Fixtures.classification(List.of());
    Classification back = serde.decode(serde.encode(c));
    assertEquals(c, back);
    assertTrue(back.getTopK().isEmpty());
  }

  @Test
  void deadLetterRoundTrips() {
    SingleObjectSerde<DeadLetter> serde = SingleObjectSerde.deadLetters();
    DeadLetter d = Fixtures.fullDeadLetter();
    DeadLetter back = serde.decode(serde.encode(d));
    assertEquals(d, back);
    assertEquals(DeadLetterReason.UNDECODABLE_IMAGE, back.getReason());
    assertEquals(1_234_567_890_123L, back.getOriginalOffset());
  }

  @Test
  void deadLetterWithNullKeyAndPayloadRoundTrips() {
    SingleObjectSerde<DeadLetter> serde = SingleObjectSerde.deadLetters();
    DeadLetter d = Fixtures.minimalDeadLetter();
    DeadLetter back = serde.decode(serde.encode(d));
    assertEquals(d, back);
    assertNull(back.getOriginalKey());
    assertNull(back.getOriginalPayload());
  }

  @Test
  void wireFormatIsSingleObjectEncodingWithLittleEndianFingerprint() {
    SingleObjectSerde<ImageEvent> serde = SingleObjectSerde.imageEvents();
    byte[] bytes = serde.encode(Fixtures.fullImageEvent());
    assertEquals((byte) 0xC3, bytes[0]);
    assertEquals((byte) 0x01, bytes[1]);
    long fp = ByteBuffer.wrap(bytes, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertEquals(Schemas.fingerprint(ImageEvent.getClassSchema()), fp);
    assertEquals(serde.fingerprint(), fp);
    // Same bytes as Avro's own encoder for the generated class.
    ByteBuffer viaAvro = assertDoesNotThrowEncode(Fixtures.fullImageEvent());
    byte[] avroBytes = new byte[viaAvro.remaining()];
    viaAvro.get(avroBytes);
    assertArrayEquals(avroBytes, bytes);
  }

  private static ByteBuffer assertDoesNotThrowEncode(ImageEvent e) {
    try {
      return ImageEvent.getEncoder().encode(e);
    } catch (java.io.IOException ex) {
      throw new AssertionError(ex);
    }
  }

  @Test
  void schemasListsTheThreeTopLevelSchemasWithDistinctFingerprints() {
    List<Schema> all = Schemas.all();
    assertEquals(List.of("io.tomestream.schema.ImageEvent", "io.tomestream.schema.Classification",
        "io.tomestream.schema.DeadLetter"), all.stream().map(Schema::getFullName).toList());
    Set<Long> fps = new HashSet<>();
    for (Schema s : all) {
      fps.add(Schemas.fingerprint(s));
    }
    assertEquals(3, fps.size());
    assertNotEquals(Schemas.fingerprint(Schemas.imageEvent()), Schemas.fingerprint(Schemas.classification()));
  }

  @Test
  void everyRecordAndFieldIsDocumented() {
    for (Schema s : Schemas.all()) {
      assertDocumented(s, new HashSet<>());
    }
  }

  private static void assertDocumented(Schema s, Set<String> seen) {
    switch (s.getType()) {
      case RECORD -> {
        if (!seen.add(s.getFullName())) {
          return;
        }
        assertTrue(s.getDoc() != null && !s.getDoc().isBlank(), s.getFullName() + " has no doc");
        for (Schema.Field f : s.getFields()) {
          assertTrue(f.doc() != null && !f.doc().isBlank(), s.getFullName() + "." + f.name() + " has no doc");
          assertDocumented(f.schema(), seen);
        }
      }
      case ENUM -> assertTrue(s.getDoc() != null && !s.getDoc().isBlank(), s.getFullName() + " has no doc");
      case ARRAY -> assertDocumented(s.getElementType(), seen);
      case MAP -> assertDocumented(s.getValueType(), seen);
      case UNION -> s.getTypes().forEach(t -> assertDocumented(t, seen));
      default -> { }
    }
  }

  @Test
  void deadLetterReasonHasTheIssueSymbolsAndDefaultsToUnknown() {
    Schema reason = DeadLetterReason.getClassSchema();
    assertEquals(Arrays.stream(DeadLetterReason.values()).map(Enum::name).toList(), reason.getEnumSymbols());
    assertEquals(List.of("UNDECODABLE_IMAGE", "IMAGE_TOO_LARGE", "UNSUPPORTED_FORMAT", "SCHEMA_ERROR",
        "MODEL_ERROR", "PAYLOAD_TOO_LARGE", "UNKNOWN", "UNREADABLE_BUFFER_ENTRY"), reason.getEnumSymbols());
    assertEquals("UNKNOWN", reason.getEnumDefault());
  }
}
