package io.tomestream.topology;

import io.tomestream.schema.DeadLetter;
import io.tomestream.schema.DeadLetterReason;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.processor.api.Record;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * Dead-letter records: the failed input with its origin and the reason, keyed like the input. The
 * reason and message are also headers, so tools can filter the DLQ without decoding Avro.
 */
public final class DeadLetters {
    /** Header with the {@link DeadLetterReason} name, e.g. {@code SCHEMA_ERROR}. */
    public static final String REASON_HEADER = "tomestream.reason";
    /** Header with the one-line message, UTF-8. */
    public static final String MESSAGE_HEADER = "tomestream.message";

    private static final int MAX_MESSAGE = 1000;

    private DeadLetters() {
    }

    /**
     * @param keepPayload false when the payload is the problem (too large): the DLQ record would then
     *                    be as large as the input and may exceed the producer's max.request.size
     */
    static Record<byte[], SpecificRecord> of(BufferedRecord in, DeadLetterReason reason, String message,
                                              boolean keepPayload, long nowMs) {
        String line = oneLine(message);
        DeadLetter letter = DeadLetter.newBuilder()
                .setOriginalTopic(in.topic())
                .setOriginalPartition(in.partition())
                .setOriginalOffset(in.offset())
                .setOriginalKey(in.key() == null ? null : ByteBuffer.wrap(in.key()))
                .setReason(reason)
                .setMessage(line)
                .setOriginalPayload(keepPayload && in.value() != null ? ByteBuffer.wrap(in.value()) : null)
                .setFailedAt(Instant.ofEpochMilli(nowMs))
                .build();
        return record(in.key(), letter, in.timestamp());
    }

    /**
     * A batch-buffer entry that can't be read back (a store written by an incompatible version, or
     * damaged): its stored bytes as the payload, and the partition and offset its store key names, so
     * that nothing leaves the buffer without a trace. It has no key: the original key is inside the
     * unreadable bytes.
     */
    static Record<byte[], SpecificRecord> unreadable(String topic, int partition, long offset, byte[] stored, String message, long nowMs) {
        String line = oneLine(message);
        DeadLetter letter = DeadLetter.newBuilder()
                .setOriginalTopic(topic)
                .setOriginalPartition(partition)
                .setOriginalOffset(offset)
                .setOriginalKey(null)
                .setReason(DeadLetterReason.UNREADABLE_BUFFER_ENTRY)
                .setMessage(line)
                .setOriginalPayload(stored == null ? null : ByteBuffer.wrap(stored))
                .setFailedAt(Instant.ofEpochMilli(nowMs))
                .build();
        return record(null, letter, nowMs);
    }

    /** The letter with its reason and message as headers too. */
    private static Record<byte[], SpecificRecord> record(byte[] key, DeadLetter letter, long timestamp) {
        RecordHeaders headers = new RecordHeaders();
        headers.add(REASON_HEADER, letter.getReason().name().getBytes(StandardCharsets.UTF_8));
        headers.add(MESSAGE_HEADER, letter.getMessage().getBytes(StandardCharsets.UTF_8));
        return new Record<>(key, letter, timestamp, headers);
    }

    static String oneLine(String message) {
        String s = message == null || message.isBlank() ? "(no message)" : message.strip();
        int nl = s.indexOf('\n');
        if (nl >= 0) s = s.substring(0, nl).strip();
        return s.length() <= MAX_MESSAGE ? s : s.substring(0, MAX_MESSAGE) + "...";
    }
}
