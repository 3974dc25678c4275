package io.tomestream.backend.cpu;

import io.tomestream.Fixtures;
import io.tomestream.backend.ForwardResult;
import io.tomestream.merge.Flops;
import io.tomestream.merge.Reducer;
import io.tomestream.merge.Schedule;
import io.tomestream.model.LearnedReducer;
import io.tomestream.model.ModelException;
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
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * TokenLearner and PatchMerger models against the PyTorch reference (tools/reference/make_learned_fixtures.py):
 * logits, the tokens each block sees, the tokens the module was given, and the learned token each
 * input patch ends in, with and without ToMe in the blocks before the module, in batches of 8 and 1.
 */
class LearnedReducerParityTest {
    private static final List<String> MODELS = List.of("vit-tokenlearner-rand", "deit-patchmerger-rand");

    @TestFactory
    Stream<DynamicTest> matchesReference() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String name : MODELS) {
            Map<?, ?> expected = Fixtures.expected(name);
            for (Object o : (List<?>) expected.get("cases")) {
                Map<?, ?> c = (Map<?, ?>) o;
                for (int batch : new int[] {8, 1}) {
                    tests.add(DynamicTest.dynamicTest(name + " tome=" + c.get("tome") + " batch=" + batch, () -> check(name, expected, c, batch)));
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
        int[] r = Schedule.parse((String) c.get("tome")).perLayer(model.config().depth());
        int len = 3 * in.height() * in.width();
        try (CpuBackend backend = new CpuBackend(model, 2)) {
            assertEquals(model.config().learned().kind().label(), backend.reducer());
            ForwardResult out = new ForwardResult();
            for (int from = 0; from < images.size(); from += batch) {
                backend.forward(Arrays.copyOfRange(all, from * len, (from + batch) * len), batch, r, out);
                for (int b = 0; b < batch; b++) {
                    int image = from + b;
                    String what = name + " tome=" + c.get("tome") + " image " + image;
                    assertArrayEquals(Fixtures.ints(((List<?>) c.get("tokens")).get(image)), out.tokens, what + " tokens");
                    assertEquals(((Number) c.get("module_tokens")).intValue(), out.moduleTokens, what + " tokens the module was given");
                    float[] want = Fixtures.floats(((List<?>) c.get("logits")).get(image)), got = out.logitsOf(b);
                    Fixtures.assertLogitsClose(want, got, what);
                    assertArrayEquals(Fixtures.ints(((List<?>) c.get("sources")).get(image)), out.sourcesOf(b), what + " sources");
                }
            }
        }
    }

    @Test
    void aBudgetInTheBlocksThatSeeTheLearnedTokensIsRefused() throws Exception {
        VitModel model = VitModel.load(Fixtures.model("vit-tokenlearner-rand"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new io.tomestream.classify.Classifier(model, io.tomestream.classify.Classifier.Options.defaults().withBudget("8").withThreads(1)));
        assertEquals("the model's token_learner runs before block 2, so a budget may remove tokens only in blocks 0-1;"
                + " this one removes 8 in block 2 (give one value per block, e.g. 8,8,0,0)", e.getMessage());
    }

    @Test
    void autoPicksTheCpuBackendWhichNamesTheModule() throws Exception {
        List<String> log = new ArrayList<>();
        var before = io.tomestream.backend.select.Backends.log;
        io.tomestream.backend.select.Backends.log = log::add;
        try (var b = io.tomestream.backend.select.Backends.create(io.tomestream.backend.select.BackendChoice.AUTO,
                VitModel.load(Fixtures.model("deit-patchmerger-rand")), 1)) {
            assertEquals("cpu", b.name());
            assertEquals("patch_merger", b.reducer());
            assertTrue(log.getFirst().endsWith("because the tornado backend has no patch_merger"), log.toString());
        } finally {
            io.tomestream.backend.select.Backends.log = before;
        }
    }

    @Test
    void flopsCountTheModuleAndTheBlockBeforeItOnTheTokensItWasGiven() throws Exception {
        VitModel model = VitModel.load(Fixtures.model("vit-tokenlearner-rand"));
        LearnedReducer m = model.config().learned();
        int[] tokens = {65, 57, 9, 9, 9};
        double plain = Flops.perImage(VitModel.load(Fixtures.model("vit-tiny-rand")).config(), false, new int[] {65, 57, 49, 9, 9}, Reducer.TOME);
        double learned = Flops.perImage(model.config(), false, tokens, Reducer.TOME, 49);
        // As a plain model that merged 49 -> 9 in block 2: without that merge's planning and with block 2's
        // attention on 9 tokens instead of 49, plus the module on the 49 tokens block 1 left.
        double module = 2.0 * 49 * 64 * 64 + 2.0 * 49 * 64 * 8 + 2.0 * 8 * 48 * 64;
        double block2Attention = 2.0 * 49 * 64 * 3 * 64 + 2.0 * 2 * 49 * 49 * 64 + 2.0 * 49 * 64 * 64
                - (2.0 * 9 * 64 * 3 * 64 + 2.0 * 2 * 9 * 9 * 64 + 2.0 * 9 * 64 * 64);
        double block2Planning = Reducer.TOME.create().flops(49, 1, 64, 16);
        assertEquals(plain - block2Attention - block2Planning + module, learned, 1e-9 * plain);
        assertThrows(IllegalArgumentException.class, () -> Flops.perImage(model.config(), false, tokens, Reducer.TOME));
        assertEquals(m.hidden(), 64);
    }

    @Test
    void misShapedOrMissingTensorsAndBadSectionsAreOneLineErrors(@TempDir Path dir) throws Exception {
        Path src = Path.of(Fixtures.model("vit-tokenlearner-rand"));
        Files.copy(src.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        String config = Files.readString(src.resolve("config.json"));
        Files.writeString(dir.resolve("config.json"), config.replace("\"tokens\": 8", "\"tokens\": 16"));
        ModelException e = assertThrows(ModelException.class, () -> VitModel.load(dir.toString()));
        assertTrue(e.getMessage().contains("token_learner.mlp.fc2.weight") && e.getMessage().contains("[8, 64]")
                && e.getMessage().contains("[16, 64]") && !e.getMessage().contains("\n"), e.getMessage());
        Files.writeString(dir.resolve("config.json"), config.replace("\"before_block\": 2", "\"before_block\": 4"));
        e = assertThrows(ModelException.class, () -> VitModel.load(dir.toString()));
        assertEquals("config.json token_learner.before_block is 4, but the model has blocks 0..3", e.getMessage());
        Files.writeString(dir.resolve("config.json"), config.replace("\"token_learner\"", "\"patch_merger\"").replace("before_block", "after_block"));
        e = assertThrows(ModelException.class, () -> VitModel.load(dir.toString()));
        assertTrue(e.getMessage().contains("patch_merger.norm.weight"), e.getMessage());
    }
}
