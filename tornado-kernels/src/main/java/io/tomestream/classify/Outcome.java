package io.tomestream.classify;

import io.tomestream.image.ImageException;

/** Each image of a batch either gets a prediction or is rejected; one bad image never fails the batch. */
public sealed interface Outcome {
    record Classified(Prediction prediction) implements Outcome {
    }

    record Rejected(ImageException error) implements Outcome {
    }
}
