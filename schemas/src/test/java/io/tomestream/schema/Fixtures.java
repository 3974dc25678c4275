package io.tomestream.schema;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;

/** Sample records and test-resource schemas shared by the tests. */
final class Fixtures {

  private Fixtures() {}

  static final Instant T0 = Instant.ofEpochMilli(1_760_000_000_123L);

  static ImageEvent fullImageEvent() {
    return ImageEvent.newBuilder()
        .setEventId("evt-0001")
        .setEventTime(T0)
        .setSource("camera-7")
        .setContentType("image/png")
        .setImage(ByteBuffer.wrap(new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 1, 2, 3}))
        .setWidth(224)
        .setHeight(224)
        .setAttributes(Map.of("label", "207", "site", "north"))
        .build();
  }

  /** Only required fields set: width/height null, attributes from its default {}. */
  static ImageEvent minimalImageEvent() {
    return ImageEvent.newBuilder()
        .setEventId("evt-0002")
        .setEventTime(T0)
        .setSource("device-1")
        .setContentType("image/jpeg")
        .setImage(ByteBuffer.wrap(new byte[0]))
        .build();
  }

  static Classification classification(List<ClassScore> topK) {
    return Classification.newBuilder()
        .setEventId("evt-0001")
        .setEventTime(T0)
        .setProcessingTime(T0.plusMillis(42))
        .setModelId("deit-tiny-patch16-224")
        .setModelVersion("2025-10-01")
        .setTopK(topK)
        .setTokensIn(197)
        .setTokensFinal(101)
        .setTomeSpec("r=8")
        .setBackend("cpu")
        .setDevice("Intel Xeon")
        .setLatencyMs(12.5)
        .build();
  }

  static Classification fullClassification() {
    return classification(List.of(
        new ClassScore(207, "golden retriever", 0.81f),
        new ClassScore(208, "Labrador retriever", 0.12f),
        new ClassScore(222, "kuvasz", 0.02f)));
  }

  static DeadLetter fullDeadLetter() {
    return DeadLetter.newBuilder()
        .setOriginalTopic("images")
        .setOriginalPartition(3)
        .setOriginalOffset(1_234_567_890_123L)
        .setOriginalKey(ByteBuffer.wrap("camera-7".getBytes(StandardCharsets.UTF_8)))
        .setReason(DeadLetterReason.UNDECODABLE_IMAGE)
        .setMessage("PNG: bad IHDR chunk")
        .setOriginalPayload(ByteBuffer.wrap(new byte[] {1, 2, 3, 4, 5}))
        .setFailedAt(T0.plusSeconds(1))
        .build();
  }

  /** originalKey and originalPayload left at their null defaults. */
  static DeadLetter minimalDeadLetter() {
    return DeadLetter.newBuilder()
        .setOriginalTopic("images")
        .setOriginalPartition(0)
        .setOriginalOffset(0L)
        .setReason(DeadLetterReason.PAYLOAD_TOO_LARGE)
        .setMessage("")
        .setFailedAt(T0)
        .build();
  }

  /** Parses src/test/resources/evolution/{name} with a fresh parser. */
  static Schema evolutionSchema(String name) {
    try (InputStream in = Fixtures.class.getResourceAsStream("/evolution/" + name)) {
      if (in == null) {
        throw new IllegalStateException("missing test resource /evolution/" + name);
      }
      return new Schema.Parser().parse(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
