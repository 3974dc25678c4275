package io.tomestream.topology;

import io.tomestream.metrics.PipelineMetrics;
import io.tomestream.schema.ImageEvent;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A buffered record's value as an {@link ImageEvent}, through the configured serde: a value that is
 * not one is {@link NotAnImageEvent} (a SCHEMA_ERROR dead letter), and a serde that fails for an
 * outage is waited out ({@link TransientFaults}), never a dead letter. One per stream task.
 */
final class EventDecoder {
    private static final Logger log = LoggerFactory.getLogger(EventDecoder.class);

    private final Deserializer<SpecificRecord> valueDeserializer;
    private final PipelineMetrics metrics;
    private final long retryMaxMs;
    /** The stream task, for logs. */
    private final String task;

    EventDecoder(Deserializer<SpecificRecord> valueDeserializer, PipelineMetrics metrics, long retryMaxMs, String task) {
        this.valueDeserializer = valueDeserializer;
        this.metrics = metrics;
        this.retryMaxMs = retryMaxMs;
        this.task = task;
    }

    ImageEvent decode(BufferedRecord r) throws NotAnImageEvent {
        Object value;
        try {
            value = deserializeThroughOutages(r);
        } catch (RegistryUnreachable e) {
            throw e;
        } catch (RuntimeException e) {
            throw new NotAnImageEvent(describe(e));
        }
        if (value instanceof ImageEvent event) return event;
        throw new NotAnImageEvent("expected an ImageEvent, got " + (value == null ? "null"
                : value.getClass().getName() + (value instanceof SpecificRecord ? "" : " (configure the serde to read specific records)")));
    }

    /**
     * The serde's value; while the serde fails for an outage ({@link TransientFaults}: the registry
     * down or restarting), the record is retried with backoff instead of dead-lettered, and the app
     * reports not ready. This stream thread waits meanwhile, which is the point: the records behind
     * this one need the registry too. Past {@code registry.retry.max.ms} it gives up by ending the
     * thread (the app exits, its platform restarts it): under exactly-once nothing is lost, and the
     * wait stays below max.poll.interval.ms, past which the group would move the task anyway.
     */
    private Object deserializeThroughOutages(BufferedRecord r) {
        long start = System.nanoTime(), backoffMs = 100;
        for (int attempt = 1; ; attempt++) {
            try {
                Object value = valueDeserializer.deserialize(r.topic(), r.headers(), r.value());
                if (attempt > 1) {
                    metrics.outage(null);
                    log.info("task {}: the value serde works again after {} retries ({} ms)", task, attempt - 1,
                            (System.nanoTime() - start) / 1_000_000);
                }
                return value;
            } catch (RuntimeException e) {
                if (!TransientFaults.isTransient(e)) throw e;
                long waitedMs = (System.nanoTime() - start) / 1_000_000;
                if (waitedMs >= retryMaxMs) {
                    metrics.outage(null);
                    throw new RegistryUnreachable("the value serde has failed for " + waitedMs + " ms (registry.retry.max.ms "
                            + retryMaxMs + "), last with: " + describe(e), e);
                }
                metrics.retry("registry");
                metrics.outage("the schema registry can't be reached: " + describe(e));
                if (attempt == 1 || attempt % 10 == 0) {
                    log.warn("task {}: the value serde failed for {}-{}@{} ({}); retrying, not dead-lettering (attempt {})",
                            task, r.topic(), r.partition(), r.offset(), describe(e), attempt);
                }
                try {
                    Thread.sleep(Math.min(backoffMs, retryMaxMs - waitedMs));
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw new RegistryUnreachable("interrupted while waiting for the schema registry", interrupted);
                }
                backoffMs = Math.min(2 * backoffMs, 5_000);
            }
        }
    }

    /** Ends the stream thread after an outage outlasted registry.retry.max.ms; the record stays unconsumed. */
    static final class RegistryUnreachable extends RuntimeException {
        private static final long serialVersionUID = 1L;

        RegistryUnreachable(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * A one-line cause for a deserializer failure. Some registry clients throw exceptions with no
     * message and keep the server's explanation elsewhere (Apicurio's ProblemDetails has it in
     * getDetail/getTitle), which would leave only a class name in the dead letter.
     */
    static String describe(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) return t.getMessage();
        }
        for (String getter : new String[] {"getDetail", "getTitle"}) {
            try {
                Object v = e.getClass().getMethod(getter).invoke(e);
                if (v != null && !v.toString().isBlank()) return e.getClass().getSimpleName() + ": " + v;
            } catch (ReflectiveOperationException | RuntimeException ignored) {
                // not that kind of exception
            }
        }
        return "the value serde failed with " + e.getClass().getName();
    }

    /** A value that is not a decodable ImageEvent; the message is the deserializer's. */
    static final class NotAnImageEvent extends Exception {
        private static final long serialVersionUID = 1L;

        NotAnImageEvent(String message) {
            super(message, null, false, false);
        }
    }
}
