package io.tomestream.backend;

/** The outputs of one forward pass. Arrays grow to the largest batch seen and are then reused. */
public final class ForwardResult {
    public int batch, numClasses, inputTokens;
    /** [batch × numClasses] */
    public float[] logits = new float[0];
    /**
     * Tokens entering block 1, then after each block: depth + 1 numbers, the same for every image
     * unless {@link #mixed}. A learned token reducer counts as the end of the block before it.
     */
    public int[] tokens = new int[0];
    /**
     * True when the images' token counts differ (MSViT splitting by its threshold): then
     * {@link #tokensOf} tells each image's, and {@link #tokens} are the first image's.
     */
    public boolean mixed;
    /** [batch × (depth + 1)]: each image's {@link #tokens}, when {@link #mixed}. */
    public int[] imageTokens = new int[0];
    /** The tokens the model's learned token reducer was given, per image; 0 without one. */
    public int moduleTokens;
    /** MSViT's regions per image; 0 for any other model. */
    public int regions;
    /** [batch × regions]: the regions each image split into their fine tokens (MSViT). */
    public boolean[] split = new boolean[0];
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
        mixed = false;
        regions = 0;
        if (sources.length < batch * inputTokens) sources = new int[batch * inputTokens];
        java.util.Arrays.fill(phaseNanos, 0);
    }

    public float[] logitsOf(int image) {
        return java.util.Arrays.copyOfRange(logits, image * numClasses, (image + 1) * numClasses);
    }

    public int[] sourcesOf(int image) {
        return java.util.Arrays.copyOfRange(sources, image * inputTokens, (image + 1) * inputTokens);
    }

    /** Gets {@link #imageTokens} ready for a batch whose images' token counts differ. */
    public void prepareMixed() {
        mixed = true;
        int n = batch * tokens.length;
        if (imageTokens.length < n) imageTokens = new int[n];
    }

    /** Gets {@link #split} ready for a batch of an MSViT model with {@code regions} regions per image. */
    public void prepareSplits(int regions) {
        this.regions = regions;
        if (split.length < batch * regions) split = new boolean[batch * regions];
    }

    /** The regions one image split, or null for a model without MSViT. */
    public boolean[] splitOf(int image) {
        return regions == 0 ? null : java.util.Arrays.copyOfRange(split, image * regions, (image + 1) * regions);
    }

    /** Tokens entering block 1, then after each block, of one image. */
    public int[] tokensOf(int image) {
        if (!mixed) return tokens.clone();
        return java.util.Arrays.copyOfRange(imageTokens, image * tokens.length, (image + 1) * tokens.length);
    }

    /** Tokens at the last block. */
    public int finalTokens() {
        return tokens[tokens.length - 1];
    }
}
