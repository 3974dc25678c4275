package io.tomestream.schema;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.tomestream.schema.SchemaMismatchException.Kind;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.apache.avro.specific.SpecificRecord;
import org.junit.jupiter.api.Test;

class DecodeFailureTest {

  private final SingleObjectSerde<ImageEvent> images = SingleObjectSerde.imageEvents();
  private final SingleObjectSerde<Classification> classifications = SingleObjectSerde.classifications();
  private final SingleObjectSerde<DeadLetter> deadLetters = SingleObjectSerde.deadLetters();

  private static SchemaMismatchException mismatch(Kind kind, Runnable r) {
    SchemaMismatchException e = assertThrows(SchemaMismatchException.class, r::run);
    assertEquals(kind, e.kind(), e.getMessage());
    assertFalse(e.getMessage().contains("\n"), "one-line message: " + e.getMessage());
    return e;
  }

  @Test
  void nullAndEmptyAreNotSingleObject() {
    assertTrue(mismatch(Kind.NOT_SINGLE_OBJECT, () -> images.decode(null)).getMessage().contains("null"));
    assertTrue(mismatch(Kind.NOT_SINGLE_OBJECT, () -> images.decode(new byte[0])).getMessage()
        .startsWith("not Avro single-object encoded"));
    mismatch(Kind.NOT_SINGLE_OBJECT, () -> images.decode(new byte[] {(byte) 0xC3}));
  }

  @Test
  void garbageIsNotSingleObject() {
    byte[] json = "{\"eventId\":\"x\"}".getBytes(StandardCharsets.UTF_8);
    SchemaMismatchException e = mismatch(Kind.NOT_SINGLE_OBJECT, () -> images.decode(json));
    assertTrue(e.getMessage().contains("expected marker C3 01 but got 7B 22"), e.getMessage());
    // Confluent wire format (magic 0 + 4-byte schema id) is not ours either.
    mismatch(Kind.NOT_SINGLE_OBJECT, () -> images.decode(new byte[] {0, 0, 0, 0, 1, 2, 'a'}));
  }

  @Test
  void truncatedHeaderIsNotSingleObject() {
    byte[] bytes = images.encode(Fixtures.fullImageEvent());
    for (int n = 2; n < 10; n++) {
      byte[] cut = Arrays.copyOf(bytes, n);
      SchemaMismatchException e = mismatch(Kind.NOT_SINGLE_OBJECT, () -> images.decode(cut));
      assertTrue(e.getMessage().contains("header truncated"), e.getMessage());
    }
  }

  @Test
  void otherRecordTypeIsUnknownFingerprint() {
    byte[] classification = classifications.encode(Fixtures.fullClassification());
    SchemaMismatchException e = mismatch(Kind.UNKNOWN_FINGERPRINT, () -> images.decode(classification));
    assertTrue(e.getMessage().startsWith("unknown schema fingerprint "), e.getMessage());
    assertTrue(e.getMessage().contains("ImageEvent"), e.getMessage());
    assertTrue(e.getMessage().contains(String.format("%016x", classifications.fingerprint())), e.getMessage());
    byte[] image = images.encode(Fixtures.fullImageEvent());
    mismatch(Kind.UNKNOWN_FINGERPRINT, () -> deadLetters.decode(image));
    byte[] dead = deadLetters.encode(Fixtures.fullDeadLetter());
    mismatch(Kind.UNKNOWN_FINGERPRINT, () -> classifications.decode(dead));
  }

  @Test
  void everyTruncatedBodyIsCorrupt() {
    for (byte[] bytes : List.of(images.encode(Fixtures.fullImageEvent()),
        images.encode(Fixtures.minimalImageEvent()))) {
      for (int n = 10; n < bytes.length; n++) {
        byte[] cut = Arrays.copyOf(bytes, n);
        SchemaMismatchException e = mismatch(Kind.CORRUPT, () -> images.decode(cut));
        assertTrue(e.getMessage().startsWith("corrupt ImageEvent body"), e.getMessage());
      }
    }
    byte[] c = classifications.encode(Fixtures.fullClassification());
    SchemaMismatchException e = mismatch(Kind.CORRUPT,
        () -> classifications.decode(Arrays.copyOf(c, c.length - 1)));
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
  }

  @Test
  void trailingBytesAreCorrupt() {
    byte[] bytes = images.encode(Fixtures.fullImageEvent());
    byte[] longer = Arrays.copyOf(bytes, bytes.length + 3);
    SchemaMismatchException e = mismatch(Kind.CORRUPT, () -> images.decode(longer));
    assertTrue(e.getMessage().contains("3 trailing bytes"), e.getMessage());
  }

  @Test
  void hugeLengthPrefixFailsWithoutAllocating() {
    // Header of ImageEvent, then eventId claiming 1 GiB of string data that is not there.
    byte[] header = Arrays.copyOf(images.encode(Fixtures.minimalImageEvent()), 10);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(header);
    writeVarLong(out, 1L << 30);
    out.writeBytes("abc".getBytes(StandardCharsets.UTF_8));
    SchemaMismatchException e = mismatch(Kind.CORRUPT, () -> images.decode(out.toByteArray()));
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());

    // Classification whose (empty) topK instead claims 2^30 elements.
    byte[] c = classifications.encode(Fixtures.classification(List.of()));
    int arrayAt = findEmptyArray(c);
    ByteArrayOutputStream out2 = new ByteArrayOutputStream();
    out2.write(c, 0, arrayAt);
    writeVarLong(out2, 1L << 30);
    out2.write(c, arrayAt + 1, c.length - arrayAt - 1);
    mismatch(Kind.CORRUPT, () -> classifications.decode(out2.toByteArray()));
  }

  /** Offset of the topK block count in an encoded Classification with empty topK. */
  private int findEmptyArray(byte[] encoded) {
    Classification one = Fixtures.classification(List.of(new ClassScore(1, "x", 0.5f)));
    byte[] withOne = classifications.encode(one);
    for (int i = 10; i < encoded.length; i++) {
      if (encoded[i] != withOne[i]) {
        assertEquals(0, encoded[i]);
        return i;
      }
    }
    throw new AssertionError("topK not found");
  }

  private static void writeVarLong(ByteArrayOutputStream out, long value) {
    long n = (value << 1) ^ (value >> 63); // zig-zag
    while ((n & ~0x7FL) != 0) {
      out.write((int) ((n & 0x7F) | 0x80));
      n >>>= 7;
    }
    out.write((int) n);
  }

  /**
   * Seeded fuzz: mutate valid encodings (bit flips, random bytes, huge varints, truncation,
   * insertion, deletion). Every outcome must be a decoded record or a SchemaMismatchException.
   */
  @Test
  void fuzzedEncodingsDecodeOrFailWithSchemaMismatchOnly() {
    SplittableRandom random = new SplittableRandom(20251001L);
    int[] outcomes = new int[4]; // decoded, NOT_SINGLE_OBJECT, UNKNOWN_FINGERPRINT, CORRUPT
    fuzz(random, images, images.encode(Fixtures.fullImageEvent()), outcomes);
    fuzz(random, images, images.encode(Fixtures.minimalImageEvent()), outcomes);
    fuzz(random, classifications, classifications.encode(Fixtures.fullClassification()), outcomes);
    fuzz(random, classifications, classifications.encode(Fixtures.classification(List.of())), outcomes);
    fuzz(random, deadLetters, deadLetters.encode(Fixtures.fullDeadLetter()), outcomes);
    fuzz(random, deadLetters, deadLetters.encode(Fixtures.minimalDeadLetter()), outcomes);
    // The fuzz must exercise every path, not just bounce off the header.
    for (int i = 0; i < outcomes.length; i++) {
      assertTrue(outcomes[i] > 0, "outcome " + i + " never happened: " + Arrays.toString(outcomes));
    }
  }

  private static final int ROUNDS = 3000;

  private static <T extends SpecificRecord> void fuzz(SplittableRandom random, SingleObjectSerde<T> serde,
      byte[] valid, int[] outcomes) {
    for (int round = 0; round < ROUNDS; round++) {
      byte[] mutated = mutate(random, valid);
      try {
        T decoded = serde.decode(mutated);
        if (decoded == null) {
          fail("decode returned null for " + Arrays.toString(mutated));
        }
        outcomes[0]++;
      } catch (SchemaMismatchException e) {
        if (e.getMessage() == null || e.getMessage().isBlank() || e.getMessage().contains("\n")) {
          fail("bad message: " + e.getMessage());
        }
        outcomes[1 + e.kind().ordinal()]++;
      } catch (Throwable t) {
        throw new AssertionError("round " + round + ": " + t + " for " + Arrays.toString(mutated), t);
      }
    }
  }

  private static byte[] mutate(SplittableRandom random, byte[] valid) {
    byte[] b = valid.clone();
    int mutations = 1 + random.nextInt(3);
    for (int m = 0; m < mutations; m++) {
      // Mostly mutate the body so the fuzz gets past the header check.
      int from = random.nextInt(10) == 0 ? 0 : Math.min(10, b.length);
      if (b.length <= from) {
        return b;
      }
      int at = random.nextInt(from, b.length);
      switch (random.nextInt(7)) {
        case 0 -> b[at] ^= (byte) (1 << random.nextInt(8));
        case 1 -> b[at] = (byte) random.nextInt(256);
        case 2 -> b = Arrays.copyOf(b, at);
        case 3 -> { // insert a random byte
          byte[] n = new byte[b.length + 1];
          System.arraycopy(b, 0, n, 0, at);
          n[at] = (byte) random.nextInt(256);
          System.arraycopy(b, at, n, at + 1, b.length - at);
          b = n;
        }
        case 4 -> { // delete a byte
          byte[] n = new byte[b.length - 1];
          System.arraycopy(b, 0, n, 0, at);
          System.arraycopy(b, at + 1, n, at, b.length - at - 1);
          b = n;
        }
        case 5 -> { // overwrite with a huge (possibly negative) varint
          byte[] huge = random.nextBoolean()
              ? new byte[] {(byte) 0xFE, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x0F}
              : new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF,
                  (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x01};
          for (int i = 0; i < huge.length && at + i < b.length; i++) {
            b[at + i] = huge[i];
          }
        }
        default -> { // overwrite a byte with a small union/enum index or length
          b[at] = (byte) random.nextInt(0, 16);
        }
      }
    }
    return b;
  }

  @Test
  void decodeNeverThrowsAnythingElseOnRandomBytes() {
    SplittableRandom random = new SplittableRandom(7L);
    for (Function<byte[], ?> decode : List.<Function<byte[], ?>>of(images::decode, classifications::decode,
        deadLetters::decode)) {
      for (int i = 0; i < 500; i++) {
        byte[] b = new byte[random.nextInt(0, 64)];
        random.nextBytes(b);
        if (random.nextBoolean() && b.length >= 2) {
          b[0] = (byte) 0xC3;
          b[1] = 0x01;
        }
        try {
          decode.apply(b);
        } catch (SchemaMismatchException expected) {
          // fine
        }
      }
    }
  }
}
