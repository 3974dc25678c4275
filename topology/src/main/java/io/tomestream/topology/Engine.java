package io.tomestream.topology;

import io.tomestream.classify.Classifier;
import io.tomestream.classify.Outcome;

import java.util.List;

/**
 * The model as the topology sees it: something that classifies a batch of encoded images, and what
 * every Classification says about the model that made it. In production a {@link Classifier}; the
 * tests also plug in one that fails.
 */
public record Engine(BatchClassifier classifier, String modelId, String modelVersion, String reducer, String tomeSpec,
                     String backend, String device) {

    /** One outcome per image, in order; may throw, which dead-letters the whole batch. */
    @FunctionalInterface
    public interface BatchClassifier {
        List<Outcome> classify(List<byte[]> encodedImages);
    }

    public static Engine of(Classifier classifier, String modelVersion) {
        return new Engine(classifier::classify, classifier.model().id(), modelVersion, classifier.reducer(),
                classifier.schedule().toString(), classifier.backend().name(), classifier.backend().device());
    }

    public Engine withClassifier(BatchClassifier other) {
        return new Engine(other, modelId, modelVersion, reducer, tomeSpec, backend, device);
    }
}
