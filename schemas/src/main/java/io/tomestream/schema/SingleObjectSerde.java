package io.tomestream.schema;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.Objects;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.message.SchemaStore;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;

/**
 * The registry-less wire format of tomestream: Avro single-object encoding, i.e.
 * {@code C3 01}, the 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema, then the
 * Avro binary body.
 *
 * <p>{@link #decode(byte[])} throws only {@link SchemaMismatchException}, for bytes that are not
 * single-object encoded, carry an unknown fingerprint, or are truncated/corrupt. Before the body is
 * materialised it is walked once against the writer schema without allocating, so a corrupt length
 * prefix can never make the decoder allocate more than the message holds.
 *
 * <p>By default only the current (generated) schema is accepted. Older or newer writer schemas can
 * be added with {@link #withWriterSchema(Schema)}; their data is then resolved to the reader schema
 * by normal Avro schema resolution. Instances are thread-safe once configured.
 */
public final class SingleObjectSerde<T extends SpecificRecord> {

  private static final int HEADER_LENGTH = 10;
  private static final byte MARKER_0 = (byte) 0xC3;
  private static final byte MARKER_1 = (byte) 0x01;

  private final Class<T> type;
  private final Schema readerSchema;
  private final SchemaStore.Cache writerSchemas = new SchemaStore.Cache();
  private final java.util.Set<Long> writerFingerprints = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private final BinaryMessageEncoder<T> encoder;
  private final BinaryMessageDecoder<T> decoder;

  private SingleObjectSerde(Class<T> type) {
    this.type = Objects.requireNonNull(type, "type");
    SpecificData model = SpecificData.getForClass(type);
    this.readerSchema = model.getSchema(type);
    this.writerSchemas.addSchema(readerSchema);
    this.writerFingerprints.add(fingerprint());
    // Every released version of this record: data any tomestream wrote resolves to the current schema.
    for (Schema released : Schemas.released()) {
      if (released.getFullName().equals(readerSchema.getFullName())) withWriterSchema(released);
    }
    this.encoder = new BinaryMessageEncoder<>(model, readerSchema);
    this.decoder = new BinaryMessageDecoder<>(model, readerSchema, writerSchemas);
  }

  /** A serde for any generated record class, e.g. {@code SingleObjectSerde.of(ImageEvent.class)}. */
  public static <T extends SpecificRecord> SingleObjectSerde<T> of(Class<T> type) {
    return new SingleObjectSerde<>(type);
  }

  public static SingleObjectSerde<ImageEvent> imageEvents() {
    return of(ImageEvent.class);
  }

  public static SingleObjectSerde<Classification> classifications() {
    return of(Classification.class);
  }

  public static SingleObjectSerde<DeadLetter> deadLetters() {
    return of(DeadLetter.class);
  }

  /**
   * Also accept data written with {@code writerSchema} (an older or newer version of the record),
   * resolving it to the generated schema. Returns this serde.
   */
  public SingleObjectSerde<T> withWriterSchema(Schema writerSchema) {
    writerSchemas.addSchema(Objects.requireNonNull(writerSchema, "writerSchema"));
    writerFingerprints.add(SchemaNormalization.parsingFingerprint64(writerSchema));
    return this;
  }

  /** The fingerprints of every writer schema this serde reads: the current one, the released ones and any added. */
  public java.util.Set<Long> writerFingerprints() {
    return java.util.Set.copyOf(writerFingerprints);
  }

  public Class<T> type() {
    return type;
  }

  /** The schema records are written with and decoded into. */
  public Schema schema() {
    return readerSchema;
  }

  /** CRC-64-AVRO fingerprint of {@link #schema()}, as carried in every encoded message. */
  public long fingerprint() {
    return SchemaNormalization.parsingFingerprint64(readerSchema);
  }

  /**
   * Encodes one record. Fails with an Avro/NullPointerException if a required field is unset,
   * like any Avro writer; {@link UncheckedIOException} is never expected in practice.
   */
  public byte[] encode(T record) {
    Objects.requireNonNull(record, "record");
    try {
      ByteBuffer buffer = encoder.encode(record);
      byte[] bytes = new byte[buffer.remaining()];
      buffer.get(bytes);
      return bytes;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot encode " + type.getSimpleName(), e);
    }
  }

  /** Decodes one single-object-encoded record; throws only {@link SchemaMismatchException}. */
  public T decode(byte[] bytes) {
    String name = readerSchema.getName();
    if (bytes == null) {
      throw new SchemaMismatchException(SchemaMismatchException.Kind.NOT_SINGLE_OBJECT,
          "not Avro single-object encoded: no bytes (null) for " + name);
    }
    if (bytes.length < 2 || bytes[0] != MARKER_0 || bytes[1] != MARKER_1) {
      throw new SchemaMismatchException(SchemaMismatchException.Kind.NOT_SINGLE_OBJECT,
          "not Avro single-object encoded: expected marker C3 01 but got "
              + HexFormat.ofDelimiter(" ").withUpperCase().formatHex(bytes, 0, Math.min(2, bytes.length))
              + " (" + bytes.length + " bytes) for " + name);
    }
    if (bytes.length < HEADER_LENGTH) {
      throw new SchemaMismatchException(SchemaMismatchException.Kind.NOT_SINGLE_OBJECT,
          "not Avro single-object encoded: header truncated at " + bytes.length
              + " of 10 bytes for " + name);
    }
    long fingerprint = ByteBuffer.wrap(bytes, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    Schema writerSchema = writerSchemas.findByFingerprint(fingerprint);
    if (writerSchema == null) {
      throw new SchemaMismatchException(SchemaMismatchException.Kind.UNKNOWN_FINGERPRINT,
          String.format("unknown schema fingerprint %016x: not a known writer schema of %s (expected %016x)",
              fingerprint, name, fingerprint()));
    }
    validateBody(bytes, writerSchema, fingerprint);
    try {
      return decoder.decode(bytes);
    } catch (IOException | RuntimeException e) {
      throw corrupt(fingerprint, e);
    }
  }

  /**
   * Walks the body against the writer schema with skip operations, which read lengths but never
   * allocate by them, so truncation and absurd lengths fail here cheaply; also rejects trailing
   * bytes, which the Avro decoder would silently ignore.
   */
  private void validateBody(byte[] bytes, Schema writerSchema, long fingerprint) {
    try {
      BinaryDecoder in = DecoderFactory.get()
          .binaryDecoder(bytes, HEADER_LENGTH, bytes.length - HEADER_LENGTH, null);
      GenericDatumReader.skip(writerSchema, in);
      if (!in.isEnd()) {
        throw new SchemaMismatchException(SchemaMismatchException.Kind.CORRUPT, String.format(
            "corrupt %s body (fingerprint %016x): %d trailing bytes after the record",
            readerSchema.getName(), fingerprint, in.inputStream().available()));
      }
    } catch (SchemaMismatchException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      throw corrupt(fingerprint, e);
    }
  }

  private SchemaMismatchException corrupt(long fingerprint, Exception e) {
    // Avro wraps the real cause (e.g. "Decoding datum failed" around an EOFException): use the root.
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String detail = root instanceof java.io.EOFException ? "truncated (unexpected end of data)"
        : root.getClass().getSimpleName()
            + (root.getMessage() == null ? "" : ": " + firstLine(root.getMessage()));
    return new SchemaMismatchException(SchemaMismatchException.Kind.CORRUPT, String.format(
        "corrupt %s body (fingerprint %016x): %s", readerSchema.getName(), fingerprint, detail), e);
  }

  private static String firstLine(String s) {
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
