package io.tomestream.backend.cpu;

import io.tomestream.backend.ForwardResult;

import io.tomestream.Fixtures;
import io.tomestream.merge.AttentivePruning;
import io.tomestream.merge.MergePlan;
import io.tomestream.merge.Reducer;
import io.tomestream.merge.Schedule;
import io.tomestream.merge.TokenReducer;
import io.tomestream.model.ModelConfig;
import io.tomestream.model.VitModel;
import io.tomestream.model.VitWeights;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every reducer in the CPU backend, on the fixture models: the budget's token counts, sources, determinism. */
class ReducerBackendTest {
    private static final List<String> MODELS = List.of("vit-tiny-rand", "deit-tiny-distilled-rand", "vit-avg-rand");

    private record Data(VitModel model, float[] pixels, int images, int len, Map<?, ?> expected) {
    }

    private static Data data(String name) throws Exception {
        VitModel model = VitModel.load(Fixtures.model(name));
        var in = model.config().input();
        Map<?, ?> expected = Fixtures.expected(name);
        List<?> images = (List<?>) expected.get("images");
        return new Data(model, Fixtures.pixels(images, in.height(), in.mean(), in.std()), images.size(),
                3 * in.height() * in.width(), expected);
    }

    @TestFactory
    Stream<DynamicTest> everyReducerMeetsTheBudget() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String name : MODELS) {
            for (Reducer reducer : List.of(Reducer.PRUNE, Reducer.POOL)) {
                tests.add(DynamicTest.dynamicTest(name + " " + reducer, () -> meetsTheBudget(name, reducer)));
            }
        }
        return tests.stream();
    }

    private void meetsTheBudget(String name, Reducer reducer) throws Exception {
        Data d = data(name);
        ModelConfig cfg = d.model().config();
        if (reducer == Reducer.PRUNE && !cfg.classToken()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new CpuBackend(d.model(), 2, reducer));
            assertTrue(e.getMessage().contains("no class token"), e.getMessage());
            return;
        }
        int prefix = d.model().prefixTokens();
        try (CpuBackend backend = new CpuBackend(d.model(), 2, reducer)) {
            assertEquals(reducer.label(), backend.reducer());
            ForwardResult out = new ForwardResult();
            for (Object o : (List<?>) d.expected().get("cases")) {
                Map<?, ?> c = (Map<?, ?>) o;
                String spec = (String) c.get("tome");
                int[] r = Schedule.parse(spec).perLayer(cfg.depth());
                backend.forward(d.pixels(), d.images(), r, out);
                float[] first = Arrays.copyOf(out.logits, d.images() * cfg.numClasses());
                for (int b = 0; b < d.images(); b++) {
                    String what = name + " " + reducer + " " + spec + " image " + b;
                    // the same budget removes the same tokens as ToMe, block by block
                    assertArrayEquals(Fixtures.ints(((List<?>) c.get("tokens")).get(b)), out.tokens, what + " tokens");
                    int[] sources = out.sourcesOf(b);
                    boolean[] held = new boolean[out.finalTokens()];
                    for (int t = 0; t < sources.length; t++) {
                        assertTrue(sources[t] >= 0 && sources[t] < out.finalTokens(), what + " source of " + t);
                        held[sources[t]] = true;
                        if (t < prefix) assertEquals(t, sources[t], what + ": protected token " + t + " moved");
                        else assertTrue(sources[t] >= prefix, what + ": patch " + t + " went into a protected token");
                    }
                    for (int q = 0; q < held.length; q++) assertTrue(held[q], what + ": final token " + q + " holds nothing");
                    for (float v : out.logitsOf(b)) assertTrue(Float.isFinite(v), what + " logits");
                }
                backend.forward(d.pixels(), d.images(), r, out);
                assertArrayEquals(first, Arrays.copyOf(out.logits, first.length), name + " " + reducer + " " + spec + ": not deterministic");
                // one image alone gets the same tokens and (to rounding) the same logits as in a batch
                backend.forward(Arrays.copyOfRange(d.pixels(), d.len(), 2 * d.len()), 1, r, out);
                assertArrayEquals(Fixtures.ints(((List<?>) c.get("tokens")).get(1)), out.tokens);
                float[] alone = out.logitsOf(0);
                for (int k = 0; k < alone.length; k++) {
                    assertEquals(first[cfg.numClasses() + k], alone[k], 1e-5f * Math.max(1, Math.abs(alone[k])), name + " " + reducer + " " + spec);
                }
            }
        }
    }

    @Test
    void withoutAReductionEveryReducerComputesTheSame() throws Exception {
        Data d = data("deit-tiny-distilled-rand");
        int[] none = new int[d.model().config().depth()];
        float[][] logits = new float[3][];
        int i = 0;
        for (Reducer reducer : Reducer.values()) {
            try (CpuBackend backend = new CpuBackend(d.model(), 2, reducer)) {
                ForwardResult out = new ForwardResult();
                backend.forward(d.pixels(), d.images(), none, out);
                logits[i++] = Arrays.copyOf(out.logits, d.images() * out.numClasses);
            }
        }
        assertArrayEquals(logits[0], logits[1]);
        assertArrayEquals(logits[0], logits[2]);
    }

    /**
     * The class-token attention that pruning ranks by, as the backend captures it, against a direct
     * computation of block 1: patch embedding, LayerNorm, q and k, softmax(q₀·kᵀ/√d) averaged over heads.
     */
    @Test
    void classAttentionIsTheClassTokensRowOfTheAttention() throws Exception {
        for (String name : List.of("vit-tiny-rand", "deit-tiny-distilled-rand")) {
            Data d = data(name);
            List<List<float[]>> seen = new ArrayList<>();
            try (CpuBackend backend = new CpuBackend(d.model(), 2, () -> {
                List<float[]> mine = new ArrayList<>();
                synchronized (seen) {
                    seen.add(mine);
                }
                return new Recording(mine);
            })) {
                int[] r = Schedule.parse("8").perLayer(d.model().config().depth());
                backend.forward(d.pixels(), d.images(), r, new ForwardResult());
            }
            seen.removeFirst(); // the probe the constructor asks for its signal
            for (int b = 0; b < d.images(); b++) {
                List<float[]> layers = seen.get(b);
                assertEquals(d.model().config().depth(), layers.size());
                float[] want = classAttention(d.model(), d.pixels(), b * d.len());
                assertArrayEquals(want, layers.getFirst(), 2e-5f, name + " image " + b + " block 1");
                for (float[] row : layers) {
                    float sum = 0;
                    for (float v : row) {
                        assertTrue(v >= 0, name);
                        sum += v;
                    }
                    assertEquals(1f, sum, 1e-4f, name + ": not a probability row");
                }
            }
        }
    }

    /** Pruning that writes down each block's signal before planning. */
    private static final class Recording implements TokenReducer {
        private final AttentivePruning inner = new AttentivePruning();
        private final List<float[]> rows;

        Recording(List<float[]> rows) {
            this.rows = rows;
        }

        @Override
        public String name() {
            return "prune";
        }

        @Override
        public Signal signal() {
            return Signal.CLASS_ATTENTION;
        }

        @Override
        public void plan(TokenRows tokens, int r, MergePlan plan) {
            rows.add(Arrays.copyOfRange(tokens.signal(), tokens.offset(), tokens.offset() + tokens.count()));
            inner.plan(tokens, r, plan);
        }

        @Override
        public double flops(int tokens, int prefix, int dim, int headDim) {
            return 0;
        }
    }

    private static float[] classAttention(VitModel model, float[] pixels, int at) {
        ModelConfig c = model.config();
        VitWeights w = model.weights();
        int dim = c.embedDim(), p = c.patchSize(), img = c.imgSize(), grid = c.gridSize(), chans = c.inChans();
        int prefix = model.prefixTokens(), tokens = model.inputTokens();
        double[][] x = new double[tokens][dim];
        for (int e = 0; e < dim; e++) {
            x[0][e] = w.clsToken[e] + w.posEmbed[e];
            if (w.distilled()) x[1][e] = w.distToken[e] + w.posEmbed[dim + e];
        }
        for (int n = 0; n < grid * grid; n++) {
            int py = n / grid, px = n % grid;
            for (int e = 0; e < dim; e++) {
                double s = w.patchBias[e];
                for (int ch = 0; ch < chans; ch++) {
                    for (int ky = 0; ky < p; ky++) {
                        for (int kx = 0; kx < p; kx++) {
                            s += w.patchWeight[((e * chans + ch) * p + ky) * p + kx]
                                    * pixels[at + (ch * img + py * p + ky) * img + px * p + kx];
                        }
                    }
                }
                x[prefix + n][e] = s + w.posEmbed[(prefix + n) * dim + e];
            }
        }
        VitWeights.Block b = w.blocks[0];
        int heads = c.numHeads(), hd = c.headDim();
        double[][] q = new double[tokens][dim], k = new double[tokens][dim];
        for (int t = 0; t < tokens; t++) {
            double mean = 0, var = 0;
            for (double v : x[t]) mean += v;
            mean /= dim;
            for (double v : x[t]) var += (v - mean) * (v - mean);
            var /= dim;
            double[] ln = new double[dim];
            for (int e = 0; e < dim; e++) ln[e] = (x[t][e] - mean) / Math.sqrt(var + 1e-6) * b.norm1Weight[e] + b.norm1Bias[e];
            for (int o = 0; o < dim; o++) {
                double sq = b.qkvBias[o], sk = b.qkvBias[dim + o];
                for (int e = 0; e < dim; e++) {
                    sq += b.qkvWeight[o * dim + e] * ln[e];
                    sk += b.qkvWeight[(dim + o) * dim + e] * ln[e];
                }
                q[t][o] = sq;
                k[t][o] = sk;
            }
        }
        float[] mean = new float[tokens];
        for (int h = 0; h < heads; h++) {
            double[] s = new double[tokens];
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int t = 0; t < tokens; t++) {
                for (int e = h * hd; e < (h + 1) * hd; e++) s[t] += q[0][e] * k[t][e];
                s[t] /= Math.sqrt(hd);
                max = Math.max(max, s[t]);
            }
            for (int t = 0; t < tokens; t++) sum += s[t] = Math.exp(s[t] - max);
            for (int t = 0; t < tokens; t++) mean[t] += (float) (s[t] / sum / heads);
        }
        return mean;
    }
}
