package io.tomestream.backend.cpu;

import io.tomestream.Fixtures;
import io.tomestream.backend.ForwardResult;
import io.tomestream.classify.Classifier;
import io.tomestream.merge.Flops;
import io.tomestream.merge.Reducer;
import io.tomestream.merge.Schedule;
import io.tomestream.model.ModelException;
import io.tomestream.model.MsVit;
import io.tomestream.model.VitModel;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * MSViT models against the PyTorch reference (tools/reference/make_msvit_fixtures.py): each image's
 * split regions, its token counts, its logits and the token each fine patch ends in, in threshold mode
 * (mixed token counts in one batch) and with a split budget, with and without ToMe, in batches of 8,
 * 3 and 1.
 */
class MsVitParityTest {
    private static final List<String> MODELS = List.of("vit-msvit-rand", "deit-msvit-rand");

    @TestFactory
    Stream<DynamicTest> matchesReference() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String name : MODELS) {
            Map<?, ?> expected = Fixtures.expected(name);
            for (Object o : (List<?>) expected.get("cases")) {
                Map<?, ?> c = (Map<?, ?>) o;
                for (int batch : new int[] {8, 3, 1}) {
                    tests.add(DynamicTest.dynamicTest(name + " budget=" + c.get("budget") + " batch=" + batch, () -> check(name, expected, c, batch)));
                }
            }
        }
        return tests.stream();
    }

    private void check(String name, Map<?, ?> expected, Map<?, ?> c, int batch) throws Exception {
        VitModel model = VitModel.load(Fixtures.model(name));
        var in = model.config().input();
        List<?> images = (List<?>) expected.get("images");
        float[] all = Fixtures.pixels(model, images);
        Schedule budget = Schedule.parse((String) c.get("budget"));
        int[] r = budget.perLayer(model.config().depth());
        int len = 3 * in.height() * in.width(), regions = model.config().msvit().regions();
        try (CpuBackend backend = new CpuBackend(model, 2)) {
            assertEquals("msvit", backend.reducer());
            ForwardResult out = new ForwardResult();
            for (int from = 0; from < images.size(); from += batch) {
                int count = Math.min(batch, images.size() - from);
                backend.forward(Arrays.copyOfRange(all, from * len, (from + count) * len), count, r, budget.splits(), out);
                for (int b = 0; b < count; b++) {
                    int image = from + b;
                    String what = name + " budget=" + c.get("budget") + " image " + image;
                    boolean[] split = new boolean[regions];
                    for (Object s : (List<?>) ((List<?>) c.get("splits")).get(image)) split[((Number) s).intValue()] = true;
                    assertArrayEquals(split, out.splitOf(b), what + " split regions");
                    assertArrayEquals(Fixtures.ints(((List<?>) c.get("tokens")).get(image)), out.tokensOf(b), what + " tokens");
                    Fixtures.assertLogitsClose(Fixtures.floats(((List<?>) c.get("logits")).get(image)), out.logitsOf(b), what);
                    assertArrayEquals(Fixtures.ints(((List<?>) c.get("sources")).get(image)), out.sourcesOf(b), what + " sources");
                }
            }
        }
    }

    @Test
    void anImagesResultDoesNotDependOnItsBatch() throws Exception {
        VitModel model = VitModel.load(Fixtures.model("vit-msvit-rand"));
        var in = model.config().input();
        List<?> images = (List<?>) Fixtures.expected("vit-msvit-rand").get("images");
        float[] all = Fixtures.pixels(model, images);
        int len = 3 * in.height() * in.width(), n = images.size();
        int[] r = Schedule.parse("4").perLayer(model.config().depth());
        try (CpuBackend backend = new CpuBackend(model, 2)) {
            ForwardResult together = new ForwardResult(), alone = new ForwardResult();
            backend.forward(all, n, r, together);
            int counts = (int) java.util.stream.IntStream.range(0, n).map(b -> together.tokensOf(b)[0]).distinct().count();
            assertTrue(counts >= 3, "the batch mixes token counts, got " + counts);
            for (int b = 0; b < n; b++) {
                backend.forward(Arrays.copyOfRange(all, b * len, (b + 1) * len), 1, r, alone);
                // bit for bit: the same arithmetic whatever the batch
                assertArrayEquals(alone.logitsOf(0), together.logitsOf(b), "image " + b);
                assertArrayEquals(alone.tokensOf(0), together.tokensOf(b), "image " + b);
                assertArrayEquals(alone.sourcesOf(0), together.sourcesOf(b), "image " + b);
            }
        }
    }

    @Test
    void splitBudgetsAreCheckedAgainstTheModel() throws Exception {
        VitModel msvit = VitModel.load(Fixtures.model("vit-msvit-rand"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Classifier(msvit, Classifier.Options.defaults().withBudget("split=17").withThreads(1)));
        assertEquals("budget 'split=17': the model has 16 regions, so split=K takes K of 0-16", e.getMessage());
        VitModel plain = VitModel.load(Fixtures.model("vit-tiny-rand"));
        e = assertThrows(IllegalArgumentException.class,
                () -> new Classifier(plain, Classifier.Options.defaults().withBudget("split=4").withThreads(1)));
        assertEquals("budget 'split=4': split=K is for MSViT models, and this model has no msvit section", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Schedule.parse("split=x+8"));
        assertEquals("budget 'split=x+8' doesn't parse: split=K needs a whole number K of 0 or more, got 'x' (e.g. split=12 or split=12+8:-1)",
                e.getMessage());
        Schedule s = Schedule.parse("split=12+8:-1");
        assertEquals(12, s.splits());
        assertArrayEquals(Schedule.parse("8:-1").perLayer(6), s.perLayer(6));
        assertFalse(Schedule.parse("split=0").isNone());
        assertEquals(-1, Schedule.parse("8").splits());
    }

    @Test
    void flopsAddTheCoarseEmbeddingAndTheGate() throws Exception {
        VitModel model = VitModel.load(Fixtures.model("vit-msvit-rand")), plain = VitModel.load(Fixtures.model("vit-tiny-rand"));
        MsVit m = model.config().msvit();
        int[] tokens = {32, 32, 32, 32, 32};
        double extra = 2.0 * 16 * 64 * 48 + 2.0 * 16 * (64 * 16 + 16);
        assertEquals(16, m.regions());
        assertEquals(Flops.perImage(plain.config(), false, tokens, Reducer.TOME) + extra, Flops.perImage(model.config(), false, tokens), 1e-6);
    }

    @Test
    void badSectionsAndMisShapedTensorsAreOneLineErrors(@TempDir Path dir) throws Exception {
        Path src = Path.of(Fixtures.model("vit-msvit-rand"));
        Files.copy(src.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        String config = Files.readString(src.resolve("config.json"));
        Files.writeString(dir.resolve("config.json"), config.replace("\"gate_hidden\": 16", "\"gate_hidden\": 32"));
        ModelException e = assertThrows(ModelException.class, () -> VitModel.load(dir.toString()));
        assertEquals("tensor 'msvit.gate.fc1.weight' has shape [16, 64] but the model config needs [32, 64]", e.getMessage());
        Files.writeString(dir.resolve("config.json"), config.replace("\"coarse_patch\": 8", "\"coarse_patch\": 10"));
        e = assertThrows(ModelException.class, () -> VitModel.load(dir.toString()));
        assertEquals("config.json msvit.coarse_patch 10 must be a multiple (2 or more times) of the patch size 4", e.getMessage());
        Files.writeString(dir.resolve("config.json"), config.replace("\"coarse_patch\": 8", "\"coarse_patch\": 12"));
        e = assertThrows(ModelException.class, () -> VitModel.load(dir.toString()));
        assertEquals("config.json msvit.coarse_patch 12: the 8x8 patch grid does not divide into regions of 3x3 patches", e.getMessage());
        Files.writeString(dir.resolve("config.json"), config.replace("\"threshold\": 0.5", "\"threshold\": 1.5"));
        e = assertThrows(ModelException.class, () -> VitModel.load(dir.toString()));
        assertEquals("config.json msvit.threshold must be a number in (0, 1], got 1.5", e.getMessage());
        Files.writeString(dir.resolve("config.json"), config.replace("\"msvit\"", "\"token_learner\": {\"tokens\": 8, \"before_block\": 2}, \"msvit\""));
        e = assertThrows(ModelException.class, () -> VitModel.load(dir.toString()));
        assertEquals("config.json has both msvit and token_learner; a model has at most one of them", e.getMessage());
    }
}
