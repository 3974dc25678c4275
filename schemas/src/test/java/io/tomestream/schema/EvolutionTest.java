package io.tomestream.schema;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.SchemaCompatibility.SchemaCompatibilityType;
import org.apache.avro.SchemaCompatibility.SchemaIncompatibilityType;
import org.apache.avro.SchemaCompatibility.SchemaPairCompatibility;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.io.ResolvingDecoder;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.junit.jupiter.api.Test;

/**
 * Schema evolution with plain Avro (no registry). The evolved schemas are test resources under
 * src/test/resources/evolution/ so integration tests can post them to a real registry.
 */
class EvolutionTest {

  private static final Schema V1 = ImageEvent.getClassSchema();

  private static SchemaPairCompatibility compat(Schema reader, Schema writer) {
    return SchemaCompatibility.checkReaderWriterCompatibility(reader, writer);
  }

  private static byte[] body(byte[] singleObject) {
    return Arrays.copyOfRange(singleObject, 10, singleObject.length);
  }

  @Test
  void v2OnlyAddsTheOptionalChecksumField() {
    Schema v2 = Fixtures.evolutionSchema("ImageEvent-v2.avsc");
    assertEquals(V1.getFullName(), v2.getFullName());
    // The generated schema carries "avro.java.string" properties, so compare canonical forms.
    assertEquals(V1.getFields().stream().map(EvolutionTest::describe).toList(),
        v2.getFields().subList(0, V1.getFields().size()).stream().map(EvolutionTest::describe).toList(),
        "ImageEvent-v2.avsc drifted from ImageEvent.avsc");
    Schema.Field checksum = v2.getField("checksum");
    assertEquals(V1.getFields().size() + 1, v2.getFields().size());
    assertEquals(Schema.createUnion(Schema.create(Schema.Type.NULL), Schema.create(Schema.Type.STRING)),
        checksum.schema());
    assertEquals(JsonNull.NULL, checksum.defaultVal());
  }

  private static String describe(Schema.Field f) {
    return f.name() + " " + SchemaNormalization.toParsingForm(f.schema()) + " default=" + f.defaultVal()
        + " doc=" + f.doc();
  }

  /** org.apache.avro.JsonProperties.Null, reached without importing an internal name. */
  private static final class JsonNull {
    static final Object NULL = org.apache.avro.JsonProperties.NULL_VALUE;
  }

  @Test
  void addingAnOptionalFieldIsBackwardAndForwardCompatible() {
    Schema v2 = Fixtures.evolutionSchema("ImageEvent-v2.avsc");
    // BACKWARD: the new reader (v2) reads data written with the old schema (v1).
    SchemaPairCompatibility backward = compat(v2, V1);
    assertEquals(SchemaCompatibilityType.COMPATIBLE, backward.getType(), backward.getDescription());
    // FORWARD: the old reader (v1, i.e. the generated class) reads data written with v2.
    SchemaPairCompatibility forward = compat(V1, v2);
    assertEquals(SchemaCompatibilityType.COMPATIBLE, forward.getType(), forward.getDescription());
  }

  @Test
  void newReaderDecodesOldWriterBytesThroughAResolvingDecoder() throws IOException {
    Schema v2 = Fixtures.evolutionSchema("ImageEvent-v2.avsc");
    ImageEvent old = Fixtures.fullImageEvent();
    byte[] oldBytes = SingleObjectSerde.imageEvents().encode(old);

    // 1) Explicit ResolvingDecoder: writer v1 -> reader v2 over the Avro body.
    ResolvingDecoder resolving = DecoderFactory.get().resolvingDecoder(V1, v2,
        DecoderFactory.get().binaryDecoder(body(oldBytes), null));
    GenericRecord read = new GenericDatumReader<GenericRecord>(v2).read(null, resolving);
    resolving.drain();
    assertNull(read.get("checksum"), "absent field takes its default");
    assertEquals(old.getEventId(), read.get("eventId").toString());
    assertEquals(old.getEventTime().toEpochMilli(), read.get("eventTime"));
    assertEquals(old.getSource(), read.get("source").toString());
    assertEquals(old.getImage(), read.get("image"));
    assertEquals(224, read.get("width"));
    assertEquals("207", ((Map<?, ?>) read.get("attributes")).entrySet().stream()
        .filter(e -> e.getKey().toString().equals("label")).findFirst().orElseThrow().getValue().toString());

    // 2) The same through single-object decoding: a v2 reader that knows the v1 fingerprint.
    BinaryMessageDecoder<GenericRecord> v2Decoder = new BinaryMessageDecoder<>(GenericData.get(), v2);
    v2Decoder.addSchema(V1);
    GenericRecord viaMessage = v2Decoder.decode(oldBytes);
    assertNull(viaMessage.get("checksum"));
    assertEquals(old.getEventId(), viaMessage.get("eventId").toString());
  }

  @Test
  void generatedClassReadsNewerWriterOnlyWhenTheSerdeKnowsItsSchema() throws IOException {
    Schema v2 = Fixtures.evolutionSchema("ImageEvent-v2.avsc");
    GenericRecord newer = new GenericData.Record(v2);
    newer.put("eventId", "evt-v2");
    newer.put("eventTime", Fixtures.T0.toEpochMilli());
    newer.put("source", "camera-9");
    newer.put("contentType", "image/png");
    newer.put("image", ByteBuffer.wrap(new byte[] {1, 2, 3}));
    newer.put("width", null);
    newer.put("height", 10);
    newer.put("attributes", Map.of());
    newer.put("checksum", "abc123");
    ByteBuffer encoded = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), v2).encode(newer);
    byte[] bytes = new byte[encoded.remaining()];
    encoded.get(bytes);

    SchemaMismatchException e = assertThrows(SchemaMismatchException.class,
        () -> SingleObjectSerde.imageEvents().decode(bytes));
    assertEquals(SchemaMismatchException.Kind.UNKNOWN_FINGERPRINT, e.kind());

    ImageEvent read = SingleObjectSerde.imageEvents().withWriterSchema(v2).decode(bytes);
    assertEquals("evt-v2", read.getEventId());
    assertEquals(Fixtures.T0, read.getEventTime());
    assertEquals(10, read.getHeight());
    assertNull(read.getWidth());
  }

  @Test
  void changingAFieldTypeIsIncompatible() {
    Schema broken = Fixtures.evolutionSchema("ImageEvent-broken.avsc");
    assertEquals(Schema.Type.INT, broken.getField("source").schema().getType());
    SchemaPairCompatibility backward = compat(broken, V1);
    assertEquals(SchemaCompatibilityType.INCOMPATIBLE, backward.getType());
    assertTrue(backward.getResult().getIncompatibilities().stream()
        .anyMatch(i -> i.getType() == SchemaIncompatibilityType.TYPE_MISMATCH
            && i.getLocation().equals("/fields/" + V1.getField("source").pos() + "/type")),
        backward.getDescription());
    assertEquals(SchemaCompatibilityType.INCOMPATIBLE, compat(V1, broken).getType());
  }

  @Test
  void addingARequiredFieldWithoutDefaultIsBackwardIncompatible() {
    Schema required = Fixtures.evolutionSchema("ImageEvent-required.avsc");
    SchemaPairCompatibility backward = compat(required, V1);
    assertEquals(SchemaCompatibilityType.INCOMPATIBLE, backward.getType());
    assertEquals(List.of(SchemaIncompatibilityType.READER_FIELD_MISSING_DEFAULT_VALUE),
        backward.getResult().getIncompatibilities().stream().map(i -> i.getType()).toList());
    // The reverse direction (old reader, new writer) is fine: the reader ignores the extra field.
    assertEquals(SchemaCompatibilityType.COMPATIBLE, compat(V1, required).getType());
  }

  @Test
  void enumDefaultLetsAnOldReaderReadANewSymbol() throws IOException {
    Schema v2 = Fixtures.evolutionSchema("DeadLetter-v2.avsc");
    Schema reasonV2 = v2.getField("reason").schema();
    assertTrue(reasonV2.getEnumSymbols().contains("RATE_LIMITED"));
    assertTrue(DeadLetterReason.getClassSchema().getEnumSymbols().stream().noneMatch("RATE_LIMITED"::equals));

    SchemaPairCompatibility forward = compat(DeadLetter.getClassSchema(), v2);
    assertEquals(SchemaCompatibilityType.COMPATIBLE, forward.getType(), forward.getDescription());

    GenericRecord newer = new GenericData.Record(v2);
    newer.put("originalTopic", "images");
    newer.put("originalPartition", 1);
    newer.put("originalOffset", 99L);
    newer.put("originalKey", null);
    newer.put("reason", new GenericData.EnumSymbol(reasonV2, "RATE_LIMITED"));
    newer.put("message", "slow down");
    newer.put("originalPayload", null);
    newer.put("failedAt", Fixtures.T0.toEpochMilli());
    ByteBuffer encoded = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), v2).encode(newer);
    byte[] bytes = new byte[encoded.remaining()];
    encoded.get(bytes);

    DeadLetter read = SingleObjectSerde.deadLetters().withWriterSchema(v2).decode(bytes);
    assertEquals(DeadLetterReason.UNKNOWN, read.getReason());
    assertEquals("slow down", read.getMessage());
    assertEquals(99L, read.getOriginalOffset());

    // Known symbols still map by name, not by position.
    newer.put("reason", new GenericData.EnumSymbol(reasonV2, "MODEL_ERROR"));
    ByteBuffer known = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), v2).encode(newer);
    byte[] knownBytes = new byte[known.remaining()];
    known.get(knownBytes);
    assertEquals(DeadLetterReason.MODEL_ERROR,
        SingleObjectSerde.deadLetters().withWriterSchema(v2).decode(knownBytes).getReason());
  }

  @Test
  void withoutTheEnumDefaultANewSymbolWouldBeIncompatible() {
    Schema v2 = Fixtures.evolutionSchema("DeadLetter-v2.avsc");
    String json = DeadLetter.getClassSchema().toString();
    assertTrue(json.contains("\"default\":\"UNKNOWN\""), json);
    Schema noDefault = new Schema.Parser().parse(json.replace(",\"default\":\"UNKNOWN\"", ""));
    assertNull(noDefault.getField("reason").schema().getEnumDefault());
    SchemaPairCompatibility c = compat(noDefault, v2);
    assertEquals(SchemaCompatibilityType.INCOMPATIBLE, c.getType());
    assertEquals(List.of(SchemaIncompatibilityType.MISSING_ENUM_SYMBOLS),
        c.getResult().getIncompatibilities().stream().map(i -> i.getType()).toList());
  }

  @Test
  void genericWriterOfV1MatchesGeneratedEncoding() throws IOException {
    // Sanity: plain-Avro body written by a GenericDatumWriter equals the serde's body.
    ImageEvent e = Fixtures.minimalImageEvent();
    GenericRecord g = new GenericData.Record(V1);
    for (Schema.Field f : V1.getFields()) {
      g.put(f.name(), e.get(f.name()));
    }
    g.put("eventTime", e.getEventTime().toEpochMilli());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    BinaryEncoder enc = EncoderFactory.get().binaryEncoder(out, null);
    new GenericDatumWriter<GenericRecord>(V1).write(g, enc);
    enc.flush();
    assertEquals(Arrays.toString(body(SingleObjectSerde.imageEvents().encode(e))),
        Arrays.toString(out.toByteArray()));
  }

  @Test
  void theCurrentSchemasAreReleasedAndEveryReleasedVersionResolvesToThem() {
    List<Schema> released = Schemas.released();
    List<Long> releasedFingerprints = released.stream().map(Schemas::fingerprint).toList();
    for (Schema current : Schemas.all()) {
      assertTrue(releasedFingerprints.contains(Schemas.fingerprint(current)), current.getName()
          + " changed without a release: add it to schemas/src/main/resources/io/tomestream/schema/released and Schemas.RELEASED");
    }
    for (Schema writer : released) {
      Schema reader = Schemas.all().stream().filter(s -> s.getFullName().equals(writer.getFullName())).findFirst().orElseThrow();
      assertEquals(SchemaCompatibilityType.COMPATIBLE,
          SchemaCompatibility.checkReaderWriterCompatibility(reader, writer).getType(), writer.getName() + " resolves to the current schema");
    }
  }

  @Test
  void aDeadLetterWrittenWithTheFirstReleaseDecodesWithTheDefaultSerde() throws IOException {
    Schema v1 = Schemas.released().get(Schemas.RELEASED.indexOf("DeadLetter-1"));
    assertTrue(Schemas.fingerprint(v1) != Schemas.fingerprint(Schemas.deadLetter()), "the fixture is an older version");
    GenericRecord old = new GenericData.Record(v1);
    for (Schema.Field f : v1.getFields()) {
      Object value = switch (f.name()) {
        case "originalTopic", "message" -> "t";
        case "originalPartition" -> 1;
        case "originalOffset", "failedAt" -> 2L;
        case "reason" -> new GenericData.EnumSymbol(f.schema(), "MODEL_ERROR");
        default -> null;
      };
      old.put(f.name(), value);
    }
    ByteBuffer encoded = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), v1).encode(old);
    byte[] bytes = new byte[encoded.remaining()];
    encoded.get(bytes);
    DeadLetter decoded = SingleObjectSerde.deadLetters().decode(bytes);
    assertEquals(DeadLetterReason.MODEL_ERROR, decoded.getReason());
    assertEquals(2L, decoded.getOriginalOffset());
  }
}
