package io.tomestream.topology;

import io.tomestream.classify.Classifier;
import io.tomestream.classify.Outcome;
import io.tomestream.serving.EngineBatcher;

import java.util.List;

/**
 * The model as the topology sees it: something that classifies a batch of encoded images, and what
 * every Classification says about the model that made it. In production an {@link EngineBatcher} over
 * a {@link Classifier}; the tests also plug in a plain Classifier and one that fails.
 *
 * @param budgetSpec the configured budget: a schedule spec, or {@code auto}
 */
public record Engine(BatchClassifier classifier, String modelId, String modelVersion, String reducer, String budgetSpec,
                     String backend, String device) {

    /** One outcome per image, in order; may throw, which dead-letters the whole batch. */
    @FunctionalInterface
    public interface BatchClassifier {
        List<Outcome> classify(List<byte[]> encodedImages);

        /**
         * The same, told when the batch's oldest event happened, for a load-adaptive budget. The
         * answer names the budget the batch ran with; null means the engine's configured one.
         */
        default Batch classify(List<byte[]> encodedImages, long oldestEventTimeMs) {
            return new Batch(classify(encodedImages), null);
        }

        /**
         * A task buffered ({@code delta > 0}) or took out ({@code delta < 0}) events that wait for a batch:
         * backlog a load-adaptive budget must see, since no consumer lag counts it any more.
         */
        default void buffered(int delta) {
        }
    }

    /** A batch's outcomes, and the schedule it ran with (null: the configured one). */
    public record Batch(List<Outcome> outcomes, String budget) {
    }

    /** A classifier called directly, with its own fixed budget. */
    public static Engine of(Classifier classifier, String modelVersion) {
        return new Engine(classifier::classify, classifier.model().id(), modelVersion, classifier.reducer(),
                classifier.schedule().toString(), classifier.backend().name(), classifier.backend().device());
    }

    /** A classifier behind a batcher shared by every stream thread; {@code budget} is the configured spec or {@code auto}. */
    public static Engine batched(EngineBatcher batcher, Classifier classifier, String modelVersion, String budget) {
        BatchClassifier shared = new BatchClassifier() {
            @Override
            public List<Outcome> classify(List<byte[]> encodedImages) {
                return batcher.classify(encodedImages, System.currentTimeMillis()).outcomes();
            }

            @Override
            public Batch classify(List<byte[]> encodedImages, long oldestEventTimeMs) {
                EngineBatcher.Result r = batcher.classify(encodedImages, oldestEventTimeMs);
                return new Batch(r.outcomes(), r.rung().spec());
            }

            @Override
            public void buffered(int delta) {
                batcher.buffered(delta);
            }
        };
        return new Engine(shared, classifier.model().id(), modelVersion, classifier.reducer(), budget,
                classifier.backend().name(), classifier.backend().device());
    }

    public Engine withClassifier(BatchClassifier other) {
        return new Engine(other, modelId, modelVersion, reducer, budgetSpec, backend, device);
    }
}
