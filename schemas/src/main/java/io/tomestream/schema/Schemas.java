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

  /** CRC-64-AVRO fingerprint, as carried in single-object-encoded messages. */
  public static long fingerprint(Schema schema) {
    return SchemaNormalization.parsingFingerprint64(schema);
  }
}
