package io.tomestream.topology;

import io.tomestream.classify.Outcome;
import io.tomestream.serving.EngineBatcher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The failure policy of one engine call: when a call fails, its two halves are tried again, down to
 * the single image that fails. Only that event is poison (its outcome is null, and {@link Poisoned}
 * dead-letters it as MODEL_ERROR); the rest of its batch is classified. A broken engine fails every
 * image that way, one by one, and the stream still goes on.
 *
 * <p>A stack overflow or an out-of-memory error in the engine is handled the same way: left to kill
 * the stream thread, the batch would come back from the store after the restart and fail again,
 * forever. A shutdown ({@link EngineBatcher.Interrupted}) is no failure: it goes through untouched.
 */
final class PoisonIsolation {
    private static final Logger log = LoggerFactory.getLogger(PoisonIsolation.class);
    /** The first engine failure is logged with its stack trace, later ones in one line. */
    private static final AtomicBoolean traced = new AtomicBoolean();

    /** Told about the one event the engine fails on. */
    @FunctionalInterface
    interface Poisoned {
        void accept(BufferedRecord record, Throwable failure);
    }

    private final Engine engine;
    private final String task;
    private final Poisoned poisoned;

    PoisonIsolation(Engine engine, String task, Poisoned poisoned) {
        this.engine = engine;
        this.task = task;
        this.poisoned = poisoned;
    }

    /** The engine's outcome for each image; the budget is the schedule the last successful call ran with. */
    Engine.Batch classify(List<BufferedRecord> records, List<byte[]> images, long oldestEventTime) {
        try {
            Engine.Batch result = engine.classifier().classify(images, oldestEventTime);
            List<Outcome> outcomes = result == null ? null : result.outcomes();
            if (outcomes == null || outcomes.size() != images.size()) {
                throw new IllegalStateException("the engine returned " + (outcomes == null ? "no" : outcomes.size())
                        + " outcomes for " + images.size() + " images");
            }
            return result;
        } catch (EngineBatcher.Interrupted e) {
            throw e; // nothing was classified: the thread stops, and the batch stays in the store for a retry
        } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
            if (images.size() > 1) {
                log.warn("task {}: classifying a batch of {} failed ({}); retrying its halves to find the event that fails",
                        task, images.size(), e.toString());
                int half = images.size() / 2;
                Engine.Batch first = classify(records.subList(0, half), images.subList(0, half), oldestEventTime);
                Engine.Batch second = classify(records.subList(half, images.size()), images.subList(half, images.size()), oldestEventTime);
                List<Outcome> outcomes = new ArrayList<>(first.outcomes());
                outcomes.addAll(second.outcomes());
                return new Engine.Batch(outcomes, second.budget() != null ? second.budget() : first.budget());
            }
            BufferedRecord poison = records.getFirst();
            if (traced.compareAndSet(false, true)) {
                log.error("task {}: the engine fails on {}-{}@{}; it goes to the DLQ as MODEL_ERROR", task,
                        poison.topic(), poison.partition(), poison.offset(), e);
            } else {
                log.error("task {}: the engine fails on {}-{}@{}; it goes to the DLQ as MODEL_ERROR: {}", task,
                        poison.topic(), poison.partition(), poison.offset(), e.toString());
            }
            poisoned.accept(poison, e);
            return new Engine.Batch(Collections.singletonList(null), null);
        }
    }
}
