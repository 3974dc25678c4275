package io.tomestream.eval;

import io.tomestream.backend.select.BackendChoice;
import io.tomestream.merge.Reducer;
import io.tomestream.backend.Backend;
import io.tomestream.backend.select.Backends;
import io.tomestream.backend.ForwardResult;
import io.tomestream.dataset.FashionMnist;
import io.tomestream.image.Preprocessor;
import io.tomestream.merge.Schedule;
import io.tomestream.merge.TokenReducer;
import io.tomestream.merge.Flops;
import io.tomestream.model.ModelConfig;
import io.tomestream.model.VitModel;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * Top-1 accuracy and speed of token reducers on a labelled data set, against no reduction. Every
 * image goes through the engine's preprocessing ({@link Preprocessor}, as the streaming path does
 * after decoding) once per batch, then through every configuration in turn, so that a busy machine
 * slows them all alike. Only the forward passes are timed.
 */
public final class Evaluation {
    private Evaluation() {
    }

    /** One reducer with one budget; {@link #NONE}, without a reducer, is the baseline: no reduction at all. */
    public record Config(Reducer reducer, String budget) {
        public static final Config NONE = new Config(null, "0");

        public boolean isBaseline() {
            return reducer == null;
        }

        /** What the forward pass runs with: the baseline removes no token, so any reducer will do. */
        Reducer runsWith() {
            return isBaseline() ? Reducer.TOME : reducer;
        }
    }

    /**
     * @param seconds      the forward passes' wall time
     * @param gflops       per image, averaged over the images (they differ where MSViT splits by its threshold)
     * @param inputTokens  tokens entering block 1, averaged over the images
     * @param finalTokens  tokens at the last block, averaged over the images
     */
    public record Row(Config config, String label, int images, int correct, double seconds, double gflops, double inputTokens,
                      double finalTokens) {
        /** Top-1 accuracy in percent. */
        public double accuracy() {
            return images == 0 ? Double.NaN : 100.0 * correct / images;
        }

        public double imagesPerSecond() {
            return images / seconds;
        }
    }

    /** The baseline row first, then one row per reducer and budget, in the order asked. */
    public record Result(List<Row> rows) {
        public Row baseline() {
            return rows.getFirst();
        }

        /** Accuracy minus the baseline's, in percentage points. */
        public double delta(Row row) {
            return row.accuracy() - baseline().accuracy();
        }

        public double speedup(Row row) {
            return baseline().seconds() / row.seconds();
        }
    }

    /** Told how many images are done: 0 once warm, then after each batch. */
    @FunctionalInterface
    public interface Progress {
        void update(int done, int total);
    }

    /**
     * @param budgets  {@link Schedule} specs; those that remove nothing are the baseline and are skipped
     */
    public static Result run(VitModel model, FashionMnist data, List<Reducer> reducers, List<String> budgets,
                             BackendChoice backendChoice, int threads, int batch, double warmupSeconds, Progress progress) {
        ModelConfig cfg = model.config();
        if (cfg.numClasses() != FashionMnist.LABEL_NAMES.size()) {
            throw new IllegalArgumentException("the model has " + cfg.numClasses() + " classes and Fashion-MNIST has "
                    + FashionMnist.LABEL_NAMES.size());
        }
        if (data.size() == 0) throw new IllegalArgumentException("no images to evaluate");
        List<Config> configs = new ArrayList<>();
        configs.add(Config.NONE);
        for (Reducer reducer : new LinkedHashSet<>(reducers)) {
            TokenReducer probe = reducer.create();
            String why = probe.unsupported(cfg.classToken(), model.weights().distilled());
            if (why != null) throw new IllegalArgumentException(why);
            for (String budget : new LinkedHashSet<>(budgets)) {
                if (!Schedule.parse(budget).isNone()) configs.add(new Config(reducer, budget.strip()));
            }
        }
        int n = configs.size();
        int[][] r = new int[n][];
        int[] splits = new int[n];
        for (int i = 0; i < n; i++) {
            Schedule s = Schedule.parse(configs.get(i).budget());
            s.checkFor(cfg);
            r[i] = s.perLayer(cfg.depth());
            splits[i] = s.splits();
        }

        Map<Reducer, Backend> backends = new LinkedHashMap<>();
        try {
            Backend[] backendOf = new Backend[n];
            for (int i = 0; i < n; i++) {
                backendOf[i] = backends.computeIfAbsent(configs.get(i).runsWith(), reducer -> Backends.create(backendChoice, model, threads, reducer));
            }
            Preprocessor prep = new Preprocessor(cfg.input());
            int len = prep.tensorLength(), classes = cfg.numClasses(), total = data.size();
            float[] pixels = new float[Math.min(batch, total) * len];
            ForwardResult out = new ForwardResult();

            // warm-up on the first batch, so that the JIT compiles every reducer before timing starts
            int first = Math.min(batch, total);
            for (int b = 0; b < first; b++) prep.toTensor(data.image(b), pixels, b * len);
            long warmEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
            do {
                for (int i = 0; i < n; i++) backendOf[i].forward(pixels, first, r[i], splits[i], out);
            } while (System.nanoTime() < warmEnd);

            if (progress != null) progress.update(0, total);
            long[] nanos = new long[n];
            int[] correct = new int[n];
            double[] gflops = new double[n], inputTokens = new double[n], finalTokens = new double[n];
            int round = 0;
            for (int from = 0; from < total; from += batch, round++) {
                int count = Math.min(batch, total - from);
                for (int b = 0; b < count; b++) prep.toTensor(data.image(from + b), pixels, b * len);
                for (int k = 0; k < n; k++) {
                    int i = (k + round) % n; // a different configuration goes first in each round
                    long t0 = System.nanoTime();
                    backendOf[i].forward(pixels, count, r[i], splits[i], out);
                    nanos[i] += System.nanoTime() - t0;
                    for (int b = 0; b < count; b++) {
                        if (argmax(out.logits, b * classes, classes) == data.label(from + b)) correct[i]++;
                        int[] tokens = out.tokensOf(b);
                        inputTokens[i] += tokens[0];
                        finalTokens[i] += tokens[tokens.length - 1];
                        gflops[i] += Flops.perImage(cfg, model.weights().distilled(), tokens, configs.get(i).runsWith(), out.moduleTokens) / 1e9;
                    }
                }
                if (progress != null) progress.update(from + count, total);
            }
            List<Row> rows = new ArrayList<>(n);
            for (int i = 0; i < n; i++) rows.add(new Row(configs.get(i), configs.get(i).isBaseline() && cfg.module() == null ? "none" : backendOf[i].reducer(),
                    total, correct[i], nanos[i] / 1e9, gflops[i] / total, inputTokens[i] / total, finalTokens[i] / total));
            return new Result(rows);
        } finally {
            for (Backend b : backends.values()) b.close();
        }
    }

    /** The first largest logit, as {@link io.tomestream.classify.Prediction#best()} ranks them. */
    static int argmax(float[] logits, int from, int n) {
        int best = 0;
        for (int k = 1; k < n; k++) if (logits[from + k] > logits[from + best]) best = k;
        return best;
    }
}
