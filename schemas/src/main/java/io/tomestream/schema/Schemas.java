package io.tomestream.schema;

import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;

/** The schemas of tomestream's topics, e.g. for registering them or printing them. */
public final class Schemas {

  private Schemas() {}

  /** Schema of the input topic's values. */
  public static Schema imageEvent() {
    return ImageEvent.getClassSchema();
  }

  /** Schema of the output topic's values. */
  public static Schema classification() {
    return Classification.getClassSchema();
  }

  /** Schema of the dead-letter topic's values. */
  public static Schema deadLetter() {
    return DeadLetter.getClassSchema();
  }

  /** All three top-level schemas: ImageEvent, Classification, DeadLetter. */
  public static List<Schema> all() {
    return List.of(imageEvent(), classification(), deadLetter());
  }

  /**
   * Every released version of the three schemas, oldest first: what any tomestream ever wrote. A
   * registry-less reader accepts them all as writer schemas (SchemaEvolutionTest checks that the
   * current schemas are among them and that each one resolves to the current reader).
   */
  public static final List<String> RELEASED = List.of(
      "ImageEvent-1", "Classification-1", "Classification-2", "DeadLetter-1", "DeadLetter-2");

  /** The released schemas, parsed once (see {@link #RELEASED}); every serde instance reads them. */
  public static List<Schema> released() {
    return Released.SCHEMAS;
  }

  private static final class Released {
    static final List<Schema> SCHEMAS = parse();
  }

  private static List<Schema> parse() {
    List<Schema> out = new java.util.ArrayList<>();
    for (String name : RELEASED) {
      try (java.io.InputStream in = Schemas.class.getResourceAsStream("released/" + name + ".avsc")) {
        if (in == null) throw new IllegalStateException("released schema " + name + " is missing from the jar");
        out.add(new Schema.Parser().parse(in));
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
    return List.copyOf(out);
  }

  /** CRC-64-AVRO fingerprint, as carried in single-object-encoded messages. */
  public static long fingerprint(Schema schema) {
    return SchemaNormalization.parsingFingerprint64(schema);
  }
}
