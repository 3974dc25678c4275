package io.tomestream.backend;

/**
 * Runs a whole ViT forward pass with token reduction for a batch of preprocessed images. The CPU
 * backend implements it here; a TornadoVM backend implements the same contract on a device.
 * A backend runs one batch at a time: callers serialize {@link #forward}.
 */
public interface Backend extends AutoCloseable {

    /** Short name used on the command line: {@code cpu}, {@code tornado}. */
    String name();

    /** The device it runs on, in words, for logs and the classification records. */
    String device();

    /** The {@link io.tomestream.merge.TokenReducer} it was built with: {@code tome}, {@code prune} or {@code pool}. */
    default String reducer() {
        return "tome";
    }

    /**
     * @param pixels     {@code batch} images, each CHW float32 of the model's input size, packed
     * @param rPerLayer  tokens to remove in each block, before the cap at half the mergeable tokens
     * @param out        receives logits, token counts and sources; reused across calls
     */
    void forward(float[] pixels, int batch, int[] rPerLayer, ForwardResult out);

    /**
     * With MSViT's split budget: each image splits exactly its {@code splits} most likely regions;
     * -1 splits by the gate's threshold, as {@link #forward(float[], int, int[], ForwardResult)} does.
     * Only backends that run MSViT models take a budget.
     */
    default void forward(float[] pixels, int batch, int[] rPerLayer, int splits, ForwardResult out) {
        if (splits >= 0) throw new IllegalArgumentException("the " + name() + " backend has no msvit, so no split budget");
        forward(pixels, batch, rPerLayer, out);
    }

    /**
     * Gets ready for batches of up to {@code maxBatch} images: device backends size their buffers and
     * compile their kernels here, so that the first real batch doesn't pay for it.
     */
    default void reserve(int maxBatch) {
    }

    /** Listens to every merge of a forward pass; for tests and tracing, null otherwise. */
    default void trace(MergeTrace trace) {
        throw new UnsupportedOperationException(name() + " backend can't trace merges");
    }

    @Override
    void close();
}
