package io.tomestream.topology;

import io.tomestream.classify.Outcome;
import io.tomestream.image.ImageException;
import io.tomestream.metrics.PipelineMetrics;
import io.tomestream.schema.DeadLetterReason;
import io.tomestream.schema.ImageEvent;
import io.tomestream.serving.EngineBatcher;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.Cancellable;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Collects a task's image events into micro-batches and classifies each batch with one engine call.
 *
 * <p>The batch lives in a changelogged state store, not in memory: under exactly-once, the store's
 * changelog writes and the consumed offsets commit in the same transaction, so a buffered record is
 * either in the store (here, or restored on whichever instance gets the task next) or not yet
 * consumed. Nothing is lost on a crash and nothing is classified twice into the output.
 *
 * <p>A batch is flushed when it holds {@code batch.size} records, or when its oldest record has
 * waited {@code batch.max.wait.ms} of wall-clock time. Records that can't be classified go to the
 * dead-letter sink on their own; none of them fails or holds up the others: {@link EventDecoder} tells
 * bad records from registry outages, and {@link PoisonIsolation} finds the one image an engine call fails on.
 */
final class MicroBatchProcessor implements Processor<byte[], byte[], byte[], SpecificRecord> {
    private static final Logger log = LoggerFactory.getLogger(MicroBatchProcessor.class);

    private final Engine engine;
    /** The source topic, named in the dead letter of a buffer entry that can't be read back. */
    private final String inputTopic;
    private final Deserializer<SpecificRecord> valueDeserializer;
    /** The serde's values as ImageEvents, through registry outages; made in {@link #init}, where the task is known. */
    private EventDecoder decoder;
    /** Bisects a failing engine call down to the event it fails on; made in {@link #init}. */
    private PoisonIsolation isolation;
    private final PipelineMetrics metrics;
    private final int batchSize;
    private final long maxWaitMs;
    private final int imageMaxBytes;
    private final long retryMaxMs;

    private ProcessorContext<byte[], SpecificRecord> context;
    private BatchBuffer buffer;
    private Cancellable punctuator;
    private InFlight inFlight;
    /** Records a previous process died classifying (see {@link InFlight}); null when there were none. */
    private InFlight.Left suspects;

    MicroBatchProcessor(Engine engine, String inputTopic, Deserializer<SpecificRecord> valueDeserializer, PipelineMetrics metrics,
                        int batchSize, long maxWaitMs, int imageMaxBytes, long retryMaxMs) {
        this.engine = engine;
        this.inputTopic = inputTopic;
        this.valueDeserializer = valueDeserializer;
        this.metrics = metrics;
        this.batchSize = batchSize;
        this.maxWaitMs = maxWaitMs;
        this.imageMaxBytes = imageMaxBytes;
        this.retryMaxMs = retryMaxMs;
    }

    @Override
    public void init(ProcessorContext<byte[], SpecificRecord> context) {
        this.decoder = new EventDecoder(valueDeserializer, metrics, retryMaxMs, context.taskId().toString());
        this.isolation = new PoisonIsolation(engine, context.taskId().toString(),
                (poison, e) -> deadLetter(poison, DeadLetterReason.MODEL_ERROR, "classify failed: " + e, true));
        this.context = context;
        // Restored records flush at the first punctuation: init has no current record to forward from.
        this.buffer = new BatchBuffer(context.getStateStore(ClassificationTopology.BUFFER_STORE));
        Object stateDir = context.appConfigs().get(org.apache.kafka.streams.StreamsConfig.STATE_DIR_CONFIG);
        inFlight = InFlight.of(java.nio.file.Path.of(stateDir == null ? System.getProperty("java.io.tmpdir") : stateDir.toString()),
                context.applicationId(), context.taskId().toString());
        suspects = inFlight.leftOver();
        if (suspects != null) {
            log.warn("task {}: the last process died while the engine classified {} buffered records; classifying them one by one",
                    context.taskId(), suspects.keys().size());
        }
        engine.classifier().buffered(buffer.size());
        if (buffer.restored()) {
            log.info("task {}: {} buffered records restored; classifying them at the first punctuation", context.taskId(), buffer.size());
        }
        // Check twice per wait, so a batch waits at most about 1.5 x batch.max.wait.ms.
        Duration every = Duration.ofMillis(Math.clamp(maxWaitMs / 2, 1, 50));
        punctuator = context.schedule(every, PunctuationType.WALL_CLOCK_TIME, this::punctuate);
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        metrics.consumed();
        if (record.value() == null) {
            metrics.tombstone(); // nothing to classify, and deleting an image event means nothing here
            return;
        }
        RecordMetadata origin = context.recordMetadata()
                .orElseThrow(() -> new IllegalStateException("the classify processor must be fed by a source topic"));
        long now = context.currentSystemTimeMs();
        BufferedRecord in = new BufferedRecord(origin.topic(), origin.partition(), origin.offset(), record.timestamp(),
                now, record.key(), record.value(), record.headers());
        if (record.value().length > imageMaxBytes) {
            deadLetter(in, DeadLetterReason.PAYLOAD_TOO_LARGE,
                    "payload is " + record.value().length + " bytes; image.max.bytes is " + imageMaxBytes, false);
            return;
        }
        try {
            decoder.decode(in); // only to dead-letter bad records now rather than after a wait; decoded again at flush
        } catch (EventDecoder.NotAnImageEvent e) {
            deadLetter(in, DeadLetterReason.SCHEMA_ERROR, e.getMessage(), true);
            return;
        }
        buffer.add(in, now);
        engine.classifier().buffered(1);
        if (buffer.size() >= batchSize) flush();
    }

    private void punctuate(long now) {
        if (buffer.due(now, maxWaitMs)) flush();
    }

    /** Classifies everything buffered, in offset order and in batches of at most batch.size, then empties the buffer. */
    private void flush() {
        List<KeyValue<Bytes, byte[]>> entries = buffer.entries();
        if (suspects != null) entries = classifySuspects(entries);
        for (int from = 0; from < entries.size(); from += batchSize) {
            List<KeyValue<Bytes, byte[]>> chunk = entries.subList(from, Math.min(entries.size(), from + batchSize));
            List<BufferedRecord> batch = new ArrayList<>(chunk.size());
            for (KeyValue<Bytes, byte[]> kv : chunk) {
                try {
                    batch.add(BufferedRecord.decode(kv.value));
                } catch (RuntimeException e) {
                    // Only a store written by an incompatible version could hold this; keeping it would fail
                    // every flush, and dropping it would lose the event without a trace.
                    unreadable(kv, e);
                }
            }
            engine.classifier().buffered(-chunk.size());
            classify(batch);
            for (KeyValue<Bytes, byte[]> kv : chunk) buffer.remove(kv.key);
        }
        buffer.emptied();
    }

    /**
     * Classifies, each alone, the buffered records a previous process died classifying, and returns the
     * other entries. One that already killed a process alone twice is dead-lettered instead.
     */
    private List<KeyValue<Bytes, byte[]>> classifySuspects(List<KeyValue<Bytes, byte[]>> entries) {
        InFlight.Left left = suspects;
        suspects = null;
        List<KeyValue<Bytes, byte[]>> rest = new ArrayList<>(entries.size());
        for (KeyValue<Bytes, byte[]> kv : entries) {
            BufferedRecord r;
            try {
                r = BufferedRecord.decode(kv.value);
            } catch (RuntimeException e) {
                rest.add(kv); // the normal path reports it
                continue;
            }
            if (!left.contains(r)) {
                rest.add(kv);
                continue;
            }
            engine.classifier().buffered(-1);
            if (left.aloneAttempt() >= 2) {
                log.error("task {}: {}-{}@{} killed the process twice in the engine, alone; it goes to the DLQ as MODEL_ERROR",
                        context.taskId(), r.topic(), r.partition(), r.offset());
                deadLetter(r, DeadLetterReason.MODEL_ERROR, "the process died twice while the engine classified this event alone", true);
            } else {
                classify(List.of(r), left.aloneAttempt() + 1);
            }
            buffer.remove(kv.key);
        }
        return rest;
    }

    private void classify(List<BufferedRecord> batch) {
        classify(batch, 0);
    }

    /** {@code aloneAttempt}: 0 for a batch, else which time this suspect is classified alone. */
    private void classify(List<BufferedRecord> batch, int aloneAttempt) {
        List<BufferedRecord> accepted = new ArrayList<>(batch.size());
        List<ImageEvent> events = new ArrayList<>(batch.size());
        List<byte[]> images = new ArrayList<>(batch.size());
        for (BufferedRecord r : batch) {
            try {
                ImageEvent event = decoder.decode(r);
                accepted.add(r);
                events.add(event);
                images.add(bytes(event.getImage()));
            } catch (EventDecoder.NotAnImageEvent e) {
                deadLetter(r, DeadLetterReason.SCHEMA_ERROR, e.getMessage(), true);
            }
        }
        if (images.isEmpty()) return;

        long t0 = System.nanoTime();
        long oldestEventTime = Long.MAX_VALUE;
        for (ImageEvent e : events) oldestEventTime = Math.min(oldestEventTime, e.getEventTime().toEpochMilli());
        inFlight.begin(accepted, aloneAttempt);
        Engine.Batch result;
        try {
            result = isolation.classify(accepted, images, oldestEventTime);
        } catch (EngineBatcher.Interrupted e) {
            inFlight.end(); // a shutdown, not a crash: nothing to suspect
            throw e;
        }
        // Left in place when anything else escapes: the thread dies, and its successor suspects these.
        inFlight.end();
        metrics.batch(images.size(), System.nanoTime() - t0);
        List<Outcome> outcomes = result.outcomes();
        String budget = result.budget() == null ? engine.budgetSpec() : result.budget();

        long now = System.currentTimeMillis();
        for (int i = 0; i < outcomes.size(); i++) {
            BufferedRecord r = accepted.get(i);
            ImageEvent event = events.get(i);
            switch (outcomes.get(i)) {
                case null -> { } // the engine failed on this image alone; it is dead-lettered already
                case Outcome.Classified c -> {
                    context.forward(new Record<>(r.key(), Classifications.of(event, c.prediction(), engine, budget, now), r.timestamp()),
                            ClassificationTopology.CLASSIFIED_SINK);
                    metrics.classified(c.prediction().finalTokens(), now - event.getEventTime().toEpochMilli());
                }
                case Outcome.Rejected rejected -> deadLetter(r, reason(rejected.error()), rejected.error().getMessage(), true);
            }
        }
    }

    /**
     * Why flushing on close would be wrong: close runs when the task is revoked in a rebalance or the
     * instance shuts down, after Kafka Streams has committed the task. Results forwarded now would fall
     * outside that transaction, and the buffer (committed in the store's changelog) is restored by the
     * task's next owner, which classifies it then. Flushing here could only duplicate or lose outputs.
     */
    @Override
    public void close() {
        if (punctuator != null) punctuator.cancel();
        if (buffer != null) engine.classifier().buffered(-buffer.size()); // the task's next owner counts them
    }

    private void unreadable(KeyValue<Bytes, byte[]> kv, RuntimeException e) {
        // The store key is the partition and the offset (BufferedRecord.storeKey), if it is one at all.
        ByteBuffer key = ByteBuffer.wrap(kv.key.get());
        boolean known = key.remaining() == 12;
        int partition = known ? key.getInt() : -1;
        long offset = known ? key.getLong() : -1;
        log.error("task {}: buffer entry for {}-{}@{} is unreadable; it goes to the DLQ as {}: {}", context.taskId(),
                inputTopic, partition, offset, DeadLetterReason.UNREADABLE_BUFFER_ENTRY, e.toString());
        context.forward(DeadLetters.unreadable(inputTopic, partition, offset, kv.value, "unreadable buffer entry in task " + context.taskId() + ": " + e,
                System.currentTimeMillis()), ClassificationTopology.DEAD_LETTER_SINK);
        metrics.deadLettered(DeadLetterReason.UNREADABLE_BUFFER_ENTRY);
    }

    private void deadLetter(BufferedRecord r, DeadLetterReason reason, String message, boolean keepPayload) {
        context.forward(DeadLetters.of(r, reason, message, keepPayload, System.currentTimeMillis()),
                ClassificationTopology.DEAD_LETTER_SINK);
        metrics.deadLettered(reason);
        log.debug("dead letter {} from {}-{}@{}: {}", reason, r.topic(), r.partition(), r.offset(), message);
    }

    private static DeadLetterReason reason(ImageException e) {
        return switch (e.reason()) {
            case UNDECODABLE_IMAGE -> DeadLetterReason.UNDECODABLE_IMAGE;
            case IMAGE_TOO_LARGE -> DeadLetterReason.IMAGE_TOO_LARGE;
            case UNSUPPORTED_FORMAT -> DeadLetterReason.UNSUPPORTED_FORMAT;
        };
    }

    private static byte[] bytes(ByteBuffer b) {
        if (b.hasArray() && b.arrayOffset() == 0 && b.position() == 0 && b.remaining() == b.array().length) {
            return b.array();
        }
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

}
