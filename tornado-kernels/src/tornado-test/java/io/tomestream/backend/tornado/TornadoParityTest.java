package io.tomestream.backend.tornado;

import io.tomestream.Fixtures;
import io.tomestream.backend.Backend;
import io.tomestream.backend.cpu.CpuBackend;
import io.tomestream.backend.ForwardResult;
import io.tomestream.merge.Schedule;
import io.tomestream.model.VitModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
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
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The TornadoVM backend against the CPU backend on the engine's fixtures: the same token counts per
 * block, logits within 1e-4 (relative to the largest), the same merges in every block (which tokens,
 * into which, the sizes after) and the same final holder of every input token, without reduction, with
 * a constant r and with a decreasing schedule, at batch 8 and batch 1 on one backend built for 8, and at
 * batch 3 on one built for 3.
 * Runs with -Dtornado.recover.bailout=False, so a kernel that TornadoVM would quietly run as Java fails.
 */
class TornadoParityTest {
    private static final String[] MODELS = {"vit-tiny-rand", "deit-tiny-distilled-rand", "vit-avg-rand"};
    private static final Map<String, Backend> devices = new HashMap<>();

    @BeforeAll
    static void deviceIsThere() {
        assertNull(new TornadoProvider().unavailable(), "a TornadoVM device");
        assertEquals("False", System.getProperty("tornado.recover.bailout"), "bailouts must fail the test");
    }

    @AfterAll
    static void close() {
        devices.values().forEach(Backend::close);
    }

    @TestFactory
    Stream<DynamicTest> matchesCpuBackend() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String name : MODELS) {
            Map<?, ?> expected = Fixtures.expected(name);
            for (Object o : (List<?>) expected.get("cases")) {
                String tome = (String) ((Map<?, ?>) o).get("tome");
                for (int batch : new int[] {8, 1}) {
                    tests.add(DynamicTest.dynamicTest(name + " tome=" + tome + " batch=" + batch,
                            () -> check(name, expected, tome, batch)));
                }
            }
        }
        // a capacity whose buffers aren't whole work groups: the GELU and exp kernels, which have no early
        // exit, once wrote past them (it crashed ViT-S/16 at batch 1)
        tests.add(DynamicTest.dynamicTest("vit-tiny-rand tome=8:-1 batch=3 on a backend built for 3",
                () -> check("vit-tiny-rand", Fixtures.expected("vit-tiny-rand"), "8:-1", 3, 3)));
        return tests.stream();
    }

    private static Backend device(String name, VitModel model, int capacity) {
        return devices.computeIfAbsent(name + "@" + capacity, n -> new TornadoProvider().create(model, "tome", capacity));
    }

    private void check(String name, Map<?, ?> expected, String tome, int batch) throws Exception {
        check(name, expected, tome, batch, 8);
    }

    private void check(String name, Map<?, ?> expected, String tome, int batch, int capacity) throws Exception {
        VitModel model = VitModel.load(Fixtures.model(name));
        var in = model.config().input();
        List<?> images = (List<?>) expected.get("images");
        float[] all = Fixtures.pixels(images, in.height(), in.mean(), in.std());
        int[] r = Schedule.parse(tome).perLayer(model.config().depth());
        int len = 3 * in.height() * in.width();

        Backend tornado = device(name, model, capacity);
        assertTrue(tornado instanceof TornadoBackend, "runs on the device, not a fallback");
        try (CpuBackend cpu = new CpuBackend(model, 2)) {
            Map<String, int[][]> onCpu = new HashMap<>(), onDevice = new HashMap<>();
            cpu.trace(recorder(onCpu));
            tornado.trace(recorder(onDevice));
            ForwardResult want = new ForwardResult(), got = new ForwardResult();
            for (int from = 0; from < images.size(); from += batch) {
                float[] px = Arrays.copyOfRange(all, from * len, (from + batch) * len);
                cpu.forward(px, batch, r, want);
                tornado.forward(px, batch, r, got);
                String what = name + " tome=" + tome + " batch=" + batch + " from image " + from;
                assertArrayEquals(want.tokens, got.tokens, what + ": tokens per block");
                // merges first: a merge that differs explains any logit difference after it
                assertEquals(new java.util.TreeSet<>(onCpu.keySet()), new java.util.TreeSet<>(onDevice.keySet()),
                        what + ": blocks/images that merged");
                for (String key : new java.util.TreeSet<>(onCpu.keySet())) {
                    int[][] c = onCpu.get(key), d = onDevice.get(key);
                    assertArrayEquals(c[0], d[0], what + " block/image " + key + ": merged tokens (strongest first)");
                    assertArrayEquals(c[1], d[1], what + " block/image " + key + ": their destinations");
                    assertArrayEquals(c[2], d[2], what + " block/image " + key + ": sizes after the merge");
                }
                for (int b = 0; b < batch; b++) {
                    float[] w = want.logitsOf(b), g = got.logitsOf(b);
                    float maxAbs = 0, maxDiff = 0;
                    for (int k = 0; k < w.length; k++) {
                        maxAbs = Math.max(maxAbs, Math.abs(w[k]));
                        maxDiff = Math.max(maxDiff, Math.abs(w[k] - g[k]));
                    }
                    assertTrue(maxDiff <= 1e-4f * Math.max(1f, maxAbs), what + " image " + b + ": max |Δlogit| " + maxDiff);
                    assertArrayEquals(want.sourcesOf(b), got.sourcesOf(b), what + " image " + b + ": sources");
                }
                onCpu.clear();
                onDevice.clear();
            }
            tornado.trace(null);
        }
    }

    private static io.tomestream.backend.MergeTrace recorder(Map<String, int[][]> into) {
        return (layer, image, plan, sizes, off, outT) -> {
            int[][] t = new int[3][];
            t[0] = Arrays.copyOf(plan.src, plan.merged);
            t[1] = Arrays.copyOf(plan.dst, plan.merged);
            t[2] = new int[outT];
            for (int i = 0; i < outT; i++) t[2][i] = Math.round(sizes[off + i]);
            into.put(layer + "/" + image, t);
        };
    }
}
