package io.tomestream.backend;

/** The outputs of one forward pass. Arrays grow to the largest batch seen and are then reused. */
public final class ForwardResult {
    public int batch, numClasses, inputTokens;
    /** [batch × numClasses] */
    public float[] logits = new float[0];
    /**
     * Tokens entering block 1, then after each block: depth + 1 numbers, the same for every image.
     * A learned token reducer counts as the end of the block before it.
     */
    public int[] tokens = new int[0];
    /** The tokens the model's learned token reducer was given, per image; 0 without one. */
    public int moduleTokens;
    /** [batch × inputTokens]: for each input token of each image, the final token that holds it. */
    public int[] sources = new int[0];
    /** Wall time of each {@link Phase} in the last forward pass, indexed by ordinal. */
    public final long[] phaseNanos = new long[Phase.values().length];

    public void prepare(int batch, int numClasses, int depth, int inputTokens) {
        this.batch = batch;
        this.numClasses = numClasses;
        this.inputTokens = inputTokens;
        if (logits.length < batch * numClasses) logits = new float[batch * numClasses];
        if (tokens.length != depth + 1) tokens = new int[depth + 1];
        if (sources.length < batch * inputTokens) sources = new int[batch * inputTokens];
        java.util.Arrays.fill(phaseNanos, 0);
    }

    public float[] logitsOf(int image) {
        return java.util.Arrays.copyOfRange(logits, image * numClasses, (image + 1) * numClasses);
    }

    public int[] sourcesOf(int image) {
        return java.util.Arrays.copyOfRange(sources, image * inputTokens, (image + 1) * inputTokens);
    }

    /** Tokens at the last block. */
    public int finalTokens() {
        return tokens[tokens.length - 1];
    }
}
