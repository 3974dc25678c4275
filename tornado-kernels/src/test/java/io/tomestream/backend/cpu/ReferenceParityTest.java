package io.tomestream.backend.cpu;

import io.tomestream.backend.ForwardResult;

import io.tomestream.Fixtures;
import io.tomestream.merge.Schedule;
import io.tomestream.model.VitModel;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CPU backend against the PyTorch reference (tools/reference): token counts per block, logits,
 * which tokens merge, the sizes after each merge, and where each input token ends up.
 */
class ReferenceParityTest {

    @TestFactory
    Stream<DynamicTest> matchesReference() {
        return Stream.of("vit-tiny-rand", "deit-tiny-distilled-rand", "vit-avg-rand").flatMap(this::cases);
    }

    private Stream<DynamicTest> cases(String name) {
        Map<?, ?> expected = Fixtures.expected(name);
        List<DynamicTest> tests = new ArrayList<>();
        for (Object o : (List<?>) expected.get("cases")) {
            Map<?, ?> c = (Map<?, ?>) o;
            for (int batch : new int[] {8, 1}) {
                tests.add(DynamicTest.dynamicTest(name + " tome=" + c.get("tome") + " batch=" + batch,
                        () -> check(name, expected, c, batch)));
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
        assertArrayEquals(Fixtures.ints(c.get("r_per_layer")), r, "schedule");

        int len = 3 * in.height() * in.width();
        try (CpuBackend backend = new CpuBackend(model, 2)) {
            Map<String, int[][]> traced = new HashMap<>();
            backend.trace((layer, image, plan, sizes, off, outT) -> {
                int[][] t = new int[3][];
                t[0] = Arrays.copyOf(plan.src, plan.merged);
                t[1] = Arrays.copyOf(plan.dst, plan.merged);
                t[2] = new int[outT];
                for (int i = 0; i < outT; i++) t[2][i] = Math.round(sizes[off + i]);
                traced.put(layer + "/" + image, t);
            });
            ForwardResult out = new ForwardResult();
            for (int from = 0; from < images.size(); from += batch) {
                float[] px = Arrays.copyOfRange(all, from * len, (from + batch) * len);
                backend.forward(px, batch, r, out);
                for (int b = 0; b < batch; b++) {
                    int image = from + b;
                    String what = name + " tome=" + c.get("tome") + " image " + image;
                    assertArrayEquals(Fixtures.ints(((List<?>) c.get("tokens")).get(image)), out.tokens, what + " tokens");
                    float[] want = Fixtures.floats(((List<?>) c.get("logits")).get(image));
                    float[] got = out.logitsOf(b);
                    Fixtures.assertLogitsClose(want, got, what);
                    assertArrayEquals(Fixtures.ints(((List<?>) c.get("sources")).get(image)), out.sourcesOf(b), what + " sources");
                    checkMerges(c, image, b, traced, what);
                }
                traced.clear();
            }
        }
    }

    private void checkMerges(Map<?, ?> c, int image, int slot, Map<String, int[][]> traced, String what) {
        List<?> layers = (List<?>) c.get("merges");
        for (int layer = 0; layer < layers.size(); layer++) {
            Map<?, ?> m = (Map<?, ?>) ((List<?>) layers.get(layer)).get(image);
            int[] src = Fixtures.ints(m.get("src")), dst = Fixtures.ints(m.get("dst"));
            int[][] got = traced.get(layer + "/" + slot);
            if (src.length == 0) {
                assertEquals(null, got, what + " layer " + layer + " should not merge");
                continue;
            }
            // the reference lists merges by source position; ours come in edge-strength order
            int[][] pairs = new int[got[0].length][];
            for (int i = 0; i < pairs.length; i++) pairs[i] = new int[] {got[0][i], got[1][i]};
            Arrays.sort(pairs, (a, b) -> Integer.compare(a[0], b[0]));
            assertArrayEquals(src, Arrays.stream(pairs).mapToInt(p -> p[0]).toArray(), what + " layer " + layer + " src");
            assertArrayEquals(dst, Arrays.stream(pairs).mapToInt(p -> p[1]).toArray(), what + " layer " + layer + " dst");
            assertArrayEquals(Fixtures.ints(m.get("sizes")), got[2], what + " layer " + layer + " sizes");
        }
    }
}
