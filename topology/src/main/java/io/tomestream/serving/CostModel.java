package io.tomestream.serving;

import java.util.Arrays;

/**
 * What a batch costs on each rung of the ladder, in milliseconds: a forward pass per image for each
 * rung, measured at warm-up and updated from every real batch that ran on it, plus the decoding and
 * preprocessing per image, which no rung changes and every batch updates. Exponentially weighted,
 * so the model follows a machine that gets busier or a backend that warms up.
 *
 * <p>Thread-safe.
 */
public final class CostModel {
    /** The weight of the newest observation. */
    private static final double ALPHA = 0.2;

    private final double[] forwardMsPerImage;
    private double prepareMsPerImage;

    /** @param forwardMsPerImage the warm-up's measurement for each rung, in ladder order */
    public CostModel(double[] forwardMsPerImage) {
        for (double v : forwardMsPerImage) {
            if (!(v >= 0) || Double.isInfinite(v)) throw new IllegalArgumentException("costs must be finite and non-negative");
        }
        this.forwardMsPerImage = forwardMsPerImage.clone();
    }

    /** Predicted milliseconds to decode and classify {@code images} images on {@code rung}. */
    public synchronized double batchMs(int rung, int images) {
        return (forwardMsPerImage[rung] + prepareMsPerImage) * images;
    }

    /** One batch of {@code images} that ran on {@code rung}, with its two phases' wall times. */
    public synchronized void observe(int rung, int images, double prepareMs, double forwardMs) {
        if (images <= 0) return;
        forwardMsPerImage[rung] += ALPHA * (forwardMs / images - forwardMsPerImage[rung]);
        prepareMsPerImage += ALPHA * (prepareMs / images - prepareMsPerImage);
    }

    public synchronized double[] forwardMsPerImage() {
        return forwardMsPerImage.clone();
    }

    public synchronized double prepareMsPerImage() {
        return prepareMsPerImage;
    }

    @Override
    public synchronized String toString() {
        return "forward ms/image " + Arrays.toString(forwardMsPerImage) + ", prepare ms/image " + prepareMsPerImage;
    }
}
