package io.tomestream.schema;

/**
 * Thrown by {@link SingleObjectSerde#decode(byte[])} when bytes cannot be decoded as the expected
 * record. It is the only exception {@code decode} throws; {@link #kind()} says which failure it was
 * and the message is one line suitable for a dead letter.
 */
public final class SchemaMismatchException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  /** What was wrong with the bytes. */
  public enum Kind {
    /** Null, too short for a header, or not starting with the single-object marker C3 01. */
    NOT_SINGLE_OBJECT,
    /** A well-formed header whose schema fingerprint this serde does not know. */
    UNKNOWN_FINGERPRINT,
    /** A known fingerprint, but the body is truncated, corrupt, or has trailing bytes. */
    CORRUPT
  }

  private final Kind kind;

  public SchemaMismatchException(Kind kind, String message) {
    this(kind, message, null);
  }

  public SchemaMismatchException(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }
}
