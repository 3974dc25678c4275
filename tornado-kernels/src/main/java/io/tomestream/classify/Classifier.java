package io.tomestream.classify;

import io.tomestream.backend.Backend;
import io.tomestream.backend.select.BackendChoice;
import io.tomestream.backend.select.Backends;
import io.tomestream.backend.ForwardResult;
import io.tomestream.backend.cpu.WorkerPool;
import io.tomestream.image.ImageException;
import io.tomestream.image.Preprocessor;
import io.tomestream.merge.Reducer;
import io.tomestream.merge.Schedule;
import io.tomestream.model.ModelConfig;
import io.tomestream.model.ModelException;
import io.tomestream.model.VitModel;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The engine's entry point: a model, a token reducer with its schedule (ToMe by default) and a
 * backend. It takes a batch of encoded images (or already preprocessed pixels) and returns one
 * outcome per image.
 *
 * <p>Thread-safe: calls are serialized, since each forward pass already uses every backend thread.
 * Applications that want parallel batches open one Classifier per worker.
 */
public final class Classifier implements AutoCloseable {

    /**
     * @param budget  the budget: a {@link Schedule} spec of the tokens each block removes, for any reducer
     * @param threads 0 picks one per available processor
     * @param reducer how tokens are removed (merged, pruned or pooled)
     */
    public record Options(String budget, BackendChoice backend, int threads, int topK, Reducer reducer, boolean fastDecode) {
        public Options {
            if (backend == null) backend = BackendChoice.AUTO;
            if (reducer == null) reducer = Reducer.TOME;
        }

        public static Options defaults() {
            return new Options("0", BackendChoice.AUTO, 0, 5, Reducer.TOME, false);
        }

        /** The schedule spec: the budget of whichever reducer is chosen. */
        public Options withBudget(String spec) {
            return new Options(spec, backend, threads, topK, reducer, fastDecode);
        }

        public Options withBackend(BackendChoice b) {
            return new Options(budget, b, threads, topK, reducer, fastDecode);
        }

        public Options withThreads(int n) {
            return new Options(budget, backend, n, topK, reducer, fastDecode);
        }

        public Options withTopK(int k) {
            return new Options(budget, backend, threads, k, reducer, fastDecode);
        }

        public Options withReducer(Reducer r) {
            return new Options(budget, backend, threads, topK, r, fastDecode);
        }

        /** JPEG draft decoding (see {@link Preprocessor#Preprocessor(io.tomestream.image.InputSpec, boolean)}); off by default. */
        public Options withFastDecode(boolean on) {
            return new Options(budget, backend, threads, topK, reducer, on);
        }
    }

    private final VitModel model;
    private final Schedule schedule;
    private final int[] rPerLayer;
    private final Backend backend;
    private final Preprocessor preprocessor;
    /** Decodes and preprocesses the images of a batch in parallel; parked while the backend runs. */
    private final WorkerPool decoders;
    private final int topK;
    private final ForwardResult result = new ForwardResult();
    private float[] pixels = new float[0];
    /** The last {@link #classify} call's two phases, for callers that model the cost of a batch. */
    private double lastPrepareMillis, lastForwardMillis;

    public Classifier(VitModel model, Options options) {
        this.model = model;
        this.schedule = Schedule.parse(options.budget());
        this.rPerLayer = schedule.perLayer(model.config().depth());
        if (model.config().learned() != null) model.config().learned().checkBudget(rPerLayer);
        schedule.checkFor(model.config());
        int threads = options.threads() > 0 ? options.threads() : Backends.defaultThreads();
        this.backend = Backends.create(options.backend(), model, threads, options.reducer());
        this.preprocessor = new Preprocessor(model.config().input(), options.fastDecode());
        this.decoders = new WorkerPool(threads);
        this.topK = Math.max(1, Math.min(options.topK(), model.config().numClasses()));
    }

    /** Loads a model folder (or {@code random:ARCH}) and opens a classifier on it. */
    public static Classifier open(String modelLocation, Options options) throws ModelException {
        return new Classifier(VitModel.load(modelLocation), options);
    }

    public VitModel model() {
        return model;
    }

    public ModelConfig config() {
        return model.config();
    }

    public Schedule schedule() {
        return schedule;
    }

    /** The token reducer's name, as the backend runs it: {@code tome}, {@code prune} or {@code pool}. */
    public String reducer() {
        return backend.reducer();
    }

    public int[] rPerLayer() {
        return rPerLayer.clone();
    }

    public Backend backend() {
        return backend;
    }

    /** Values per preprocessed image: channels × height × width. */
    public int imageLength() {
        return preprocessor.tensorLength();
    }

    /**
     * Runs dummy batches until the forward pass is JIT-compiled, so that the first real event isn't
     * the one that pays for it. Long-running callers (the streaming app) call this at start-up.
     *
     * @return the milliseconds spent
     */
    public synchronized double warmUp(int batch, double seconds) {
        long t0 = System.nanoTime(), end = t0 + (long) (seconds * 1e9);
        backend.reserve(batch); // a device backend sizes its buffers and compiles its kernels here
        float[] dummy = new float[batch * imageLength()];
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(0);
        for (int i = 0; i < dummy.length; i++) dummy[i] = (float) rnd.nextGaussian();
        int[] sizes = {1, batch};
        int rounds = 0;
        do {
            backend.forward(dummy, sizes[rounds % 2], rPerLayer, schedule.splits(), result);
            rounds++;
        } while (rounds < 4 || System.nanoTime() < end);
        warmUpDecoding();
        return (System.nanoTime() - t0) / 1e6;
    }

    /**
     * Compiles the resampler and the pixel loops too: decoding a camera frame the first few times takes
     * several times longer than once they are compiled. A 720p JPEG and a small PNG, made here.
     */
    private void warmUpDecoding() {
        java.awt.image.BufferedImage frame = new java.awt.image.BufferedImage(1280, 720, java.awt.image.BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < frame.getHeight(); y++) {
            for (int x = 0; x < frame.getWidth(); x++) frame.setRGB(x, y, ((x * 7) & 0xFF) << 16 | ((y * 5) & 0xFF) << 8 | ((x ^ y) & 0xFF));
        }
        List<byte[]> images = new ArrayList<>();
        for (String format : new String[] {"jpeg", "png"}) {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            try {
                javax.imageio.ImageIO.write(format.equals("png") ? frame.getSubimage(0, 0, 64, 64) : frame, format, out);
            } catch (java.io.IOException e) {
                return; // nothing to warm with; the first real images pay instead
            }
            images.add(out.toByteArray());
        }
        float[] tensor = new float[imageLength()];
        for (int round = 0; round < 6; round++) {
            for (byte[] image : images) {
                try {
                    preprocessor.toTensor(image, tensor, 0);
                } catch (ImageException e) {
                    return;
                }
            }
        }
    }

    /** Decodes, preprocesses and classifies a batch of encoded images (PNG, JPEG, BMP, GIF). */
    public List<Outcome> classify(List<byte[]> encoded) {
        return classify(encoded, rPerLayer);
    }

    /**
     * The same with another budget for this batch alone: tokens removed per block, as
     * {@link Schedule#perLayer} gives them. ToMe needs no reload to change r, so a caller may pick it
     * per batch, as the streaming app's {@code budget=auto} does.
     */
    public synchronized List<Outcome> classify(List<byte[]> encoded, int[] rPerBlock) {
        int n = encoded.size(), len = imageLength();
        ensurePixels(n);
        Outcome[] outcomes = new Outcome[n];
        double[] prepMillis = new double[n];
        // Every image is written at its own index, in parallel; the rejected ones' slots are closed up after.
        float[] tensors = pixels;
        long prepareStart = System.nanoTime();
        decoders.run(n, i -> {
            long t0 = System.nanoTime();
            try {
                preprocessor.toTensor(encoded.get(i), tensors, i * len);
            } catch (ImageException e) {
                outcomes[i] = new Outcome.Rejected(e);
            }
            prepMillis[i] = (System.nanoTime() - t0) / 1e6;
        });
        lastPrepareMillis = (System.nanoTime() - prepareStart) / 1e6;
        lastForwardMillis = 0;
        int[] slotOf = new int[n];
        int good = 0;
        for (int i = 0; i < n; i++) {
            if (outcomes[i] != null) {
                slotOf[i] = -1;
                continue;
            }
            if (good != i) System.arraycopy(pixels, i * len, pixels, good * len, len);
            slotOf[i] = good++;
        }
        if (good > 0) {
            long t0 = System.nanoTime();
            backend.forward(pixels, good, rPerBlock, schedule.splits(), result);
            double forwardMillis = (System.nanoTime() - t0) / 1e6;
            lastForwardMillis = forwardMillis;
            for (int i = 0; i < n; i++) {
                if (slotOf[i] >= 0) {
                    outcomes[i] = new Outcome.Classified(prediction(slotOf[i], prepMillis[i] + forwardMillis));
                }
            }
        }
        return Arrays.asList(outcomes);
    }

    /** Wall milliseconds of the last {@link #classify} call's decoding and preprocessing, all images together. */
    public synchronized double lastPrepareMillis() {
        return lastPrepareMillis;
    }

    /** Wall milliseconds of the last {@link #classify} call's forward pass; 0 if every image was rejected. */
    public synchronized double lastForwardMillis() {
        return lastForwardMillis;
    }

    /**
     * The median wall milliseconds of {@code rounds} forward passes of {@code batch} dummy images with
     * {@code rPerBlock}, after the model is warm: what a budget costs on this machine now.
     */
    public synchronized double measureForward(int batch, int[] rPerBlock, int rounds) {
        float[] dummy = new float[batch * imageLength()];
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(1);
        for (int i = 0; i < dummy.length; i++) dummy[i] = (float) rnd.nextGaussian();
        double[] ms = new double[Math.max(1, rounds)];
        for (int i = 0; i < ms.length; i++) {
            long t0 = System.nanoTime();
            backend.forward(dummy, batch, rPerBlock, schedule.splits(), result);
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(ms);
        return ms[ms.length / 2];
    }

    /** Classifies {@code batch} preprocessed CHW images packed in {@code pixels}. */
    public synchronized List<Prediction> classifyPixels(float[] pixels, int batch) {
        long t0 = System.nanoTime();
        backend.forward(pixels, batch, rPerLayer, schedule.splits(), result);
        double millis = (System.nanoTime() - t0) / 1e6;
        List<Prediction> out = new ArrayList<>(batch);
        for (int b = 0; b < batch; b++) out.add(prediction(b, millis));
        return out;
    }

    private Prediction prediction(int slot, double millis) {
        float[] logits = result.logitsOf(slot);
        return new Prediction(logits, top(logits), result.tokensOf(slot), result.sourcesOf(slot), result.splitOf(slot), millis);
    }

    private List<Score> top(float[] logits) {
        float max = Float.NEGATIVE_INFINITY;
        for (float v : logits) max = Math.max(max, v);
        double sum = 0;
        for (float v : logits) sum += Math.exp(v - max);
        Integer[] order = new Integer[logits.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
        List<Score> top = new ArrayList<>(topK);
        for (int i = 0; i < topK; i++) {
            int c = order[i];
            top.add(new Score(c, model.config().label(c), (float) (Math.exp(logits[c] - max) / sum)));
        }
        return top;
    }

    private void ensurePixels(int batch) {
        int need = batch * imageLength();
        if (pixels.length < need) pixels = new float[need];
    }

    @Override
    public void close() {
        decoders.close();
        backend.close();
    }
}
