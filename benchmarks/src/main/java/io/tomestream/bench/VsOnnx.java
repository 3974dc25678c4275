package io.tomestream.bench;

import io.tomestream.backend.cpu.CpuBackend;
import io.tomestream.backend.ForwardResult;
import io.tomestream.backend.cpu.MatMul;
import io.tomestream.backend.cpu.PackedMatrix;
import io.tomestream.backend.Phase;
import io.tomestream.backend.cpu.WorkerPool;
import io.tomestream.json.Json;
import io.tomestream.merge.Schedule;
import io.tomestream.model.ModelConfig;
import io.tomestream.model.ModelException;
import io.tomestream.model.VitModel;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * {@code bin/tomestream bench --vs-onnx}: ONNX Runtime, our engine at r=0 and our engine with ToMe,
 * on the same weights, batch and thread count, timed in interleaved rounds in one process so that
 * machine noise falls on all of them alike. Prints img/s and the ratios; the last line is JSON.
 */
public final class VsOnnx {
    private static final String[] SPECS = {"13", "16:-1"};
    /** Pause before each timed run, so that no thread of the previous run still spins. */
    private static final long SETTLE_MS = 20;

    private VsOnnx() {
    }

    public static void main(String[] argv) throws Exception {
        List<String> models = new ArrayList<>();
        int[] batches = {1, 8, 32}, threads = {1, 2};
        double seconds = 4, warmup = 1.5;
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            switch (a) {
                case "--vs-onnx", "bench" -> { }
                case "--model" -> models.add(value(argv, ++i, a));
                case "--batches" -> batches = ints(value(argv, ++i, a));
                case "--threads" -> threads = ints(value(argv, ++i, a));
                case "--seconds" -> seconds = Double.parseDouble(value(argv, ++i, a));
                case "--warmup" -> warmup = Double.parseDouble(value(argv, ++i, a));
                default -> fail("unknown option " + a + " (bench --vs-onnx --model DIR [--model DIR] [--batches 1,8,32] [--threads 1,2] [--seconds S])");
            }
        }
        if (models.isEmpty()) fail("bench --vs-onnx needs at least one --model DIR holding model.onnx");

        Map<String, Object> summary = new LinkedHashMap<>();
        System.out.printf("ONNX Runtime %s vs tomestream, %s, JDK %s, %d-bit SIMD%n%n", ortVersion(), cpuModel(),
                Runtime.version(), jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize());
        System.out.println("| model | T | batch | ORT img/s | r=0 img/s | r=0/ORT | ToMe 13 img/s | 13/ORT | 13/r=0 | ToMe 16:-1 img/s | 16:-1/ORT | 16:-1/r=0 |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        List<String> profiles = new ArrayList<>();
        for (String dir : models) {
            VitModel model = load(dir);
            Path onnx = Path.of(dir, "model.onnx");
            boolean vitS = isVitSmall(model.config());
            for (int t : threads) {
                ModelConfig c = model.config();
                try (OnnxModel ort = new OnnxModel(onnx, t, c.inChans(), c.imgSize());
                     CpuBackend ours = new CpuBackend(model, t)) {
                    for (int b : batches) {
                        Cell cell = measure(model, ort, ours, b, seconds, warmup);
                        System.out.printf("| %s | %d | %d | %.1f | %.1f | %.2f | %.1f | %.2f | %.2f | %.1f | %.2f | %.2f |%n",
                                model.id(), t, b, cell.imgS[0], cell.imgS[1], cell.imgS[1] / cell.imgS[0],
                                cell.imgS[2], cell.imgS[2] / cell.imgS[0], cell.imgS[2] / cell.imgS[1],
                                cell.imgS[3], cell.imgS[3] / cell.imgS[0], cell.imgS[3] / cell.imgS[1]);
                        System.err.printf("  %s T=%d B=%d: ORT vs ours at r=0, max |Δlogit| %.2g%n", model.id(), t, b, cell.maxDiff);
                        if (b == 8 && t == 2) {
                            profiles.add(model.id() + " at ToMe 16:-1: " + cell.profile16);
                            profiles.add(model.id() + " at r=0:       " + cell.profile0);
                            if (vitS) {
                                summary.put("onnx_img_s", round(cell.imgS[0]));
                                summary.put("r0_img_s", round(cell.imgS[1]));
                                summary.put("tome13_img_s", round(cell.imgS[2]));
                                summary.put("tome16_inflect_img_s", round(cell.imgS[3]));
                            }
                        }
                    }
                }
            }
        }
        System.out.println();
        System.out.println("Where the time goes (share of the forward pass, batch 8, T=2):");
        for (String p : profiles) System.out.println("- " + p);

        // peak and matmul alternate, best of each, so that a noisy neighbour can't favour either
        int peakThreads = Arrays.stream(threads).max().orElse(2);
        double matmul = 0, peak = 0;
        for (int round = 0; round < 3; round++) {
            matmul = Math.max(matmul, matmulGflops(peakThreads));
            peak = Math.max(peak, FmaPeak.measure(peakThreads, 3));
        }
        System.out.printf("%nmatmul (ViT-S fc1: 1576x1536x384, T=%d): %.1f GFLOP/s = %.0f%% of the measured FMA peak %.1f GFLOP/s%n",
                peakThreads, matmul, 100 * matmul / peak, peak);
        summary.put("matmul_gflops", round(matmul));
        summary.put("peak_gflops", round(peak));
        System.out.println(Json.write(summary));
    }

    private record Cell(double[] imgS, double maxDiff, String profile0, String profile16) {
    }

    /** One (model, threads, batch) cell: ORT, r=0, ToMe 13, ToMe 16:-1, interleaved. */
    private static Cell measure(VitModel model, OnnxModel ort, CpuBackend ours, int batch, double seconds, double warmup)
            throws Exception {
        ModelConfig c = model.config();
        float[] pixels = new float[batch * c.inChans() * c.imgSize() * c.imgSize()];
        SplittableRandom rnd = new SplittableRandom(11);
        for (int i = 0; i < pixels.length; i++) pixels[i] = (float) rnd.nextGaussian();
        int[][] r = {null, new int[c.depth()], Schedule.parse(SPECS[0]).perLayer(c.depth()), Schedule.parse(SPECS[1]).perLayer(c.depth())};
        ForwardResult out = new ForwardResult();

        float[][] ortLogits = ort.run(pixels, batch);
        ours.forward(pixels, batch, r[1], out);
        double maxDiff = 0;
        for (int b = 0; b < batch; b++) {
            for (int k = 0; k < c.numClasses(); k++) {
                maxDiff = Math.max(maxDiff, Math.abs(ortLogits[b][k] - out.logits[b * c.numClasses() + k]));
            }
        }

        List<List<Double>> times = new ArrayList<>();
        for (int i = 0; i < 4; i++) times.add(new ArrayList<>());
        long[][] phases = new long[4][Phase.values().length];
        long warmEnd = System.nanoTime() + (long) (warmup * 1e9), end = 0;
        int rounds = 0;
        boolean timing = false;
        while (true) {
            for (int i = 0; i < 4; i++) {
                // Both engines' idle threads spin for a while after a run; on a 2-core machine that
                // steals a core from whichever runs next, which for a 2 ms forward pass is most of it.
                Thread.sleep(SETTLE_MS);
                long t0 = System.nanoTime();
                if (i == 0) ort.run(pixels, batch);
                else ours.forward(pixels, batch, r[i], out);
                long dt = System.nanoTime() - t0;
                if (timing) {
                    times.get(i).add(dt / 1e6);
                    if (i > 0) for (int p = 0; p < phases[i].length; p++) phases[i][p] += out.phaseNanos[p];
                }
            }
            if (!timing && System.nanoTime() > warmEnd) {
                timing = true;
                end = System.nanoTime() + (long) (seconds * 1e9);
            } else if (timing && ++rounds >= 3 && System.nanoTime() > end) {
                break;
            }
        }
        double[] imgS = new double[4];
        for (int i = 0; i < 4; i++) imgS[i] = batch * 1000.0 / median(times.get(i));
        return new Cell(imgS, maxDiff, profile(phases[1]), profile(phases[3]));
    }

    private static String profile(long[] nanos) {
        long total = Arrays.stream(nanos).sum();
        StringBuilder sb = new StringBuilder();
        for (Phase p : Phase.values()) {
            if (nanos[p.ordinal()] == 0) continue;
            if (!sb.isEmpty()) sb.append(", ");
            sb.append(String.format("%s %.1f%%", p.label(), 100.0 * nanos[p.ordinal()] / total));
        }
        return sb.toString();
    }

    /** The MLP's first matmul of ViT-S/16 at batch 8: the engine's most common GEMM shape. */
    private static double matmulGflops(int threads) {
        int m = 8 * 197, n = 1536, k = 384;
        SplittableRandom rnd = new SplittableRandom(3);
        float[] a = new float[m * k], w = new float[n * k], c = new float[m * n];
        for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
        PackedMatrix packed = new PackedMatrix(w, null, n, k);
        try (WorkerPool pool = new WorkerPool(threads)) {
            for (int i = 0; i < 20; i++) MatMul.run(pool, a, 0, m, packed, c, 0, false, MatMul.Epilogue.NONE);
            double best = Double.MAX_VALUE;
            long end = System.nanoTime() + 1_000_000_000L;
            for (int i = 0; i < 10 || System.nanoTime() < end; i++) {
                long t0 = System.nanoTime();
                MatMul.run(pool, a, 0, m, packed, c, 0, false, MatMul.Epilogue.NONE);
                best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            }
            return 2.0 * m * n * k / best / 1e9;
        }
    }

    private static boolean isVitSmall(ModelConfig c) {
        return c.imgSize() == 224 && c.patchSize() == 16 && c.embedDim() == 384 && c.depth() == 12 && c.numHeads() == 6;
    }

    private static VitModel load(String dir) throws ModelException {
        if (!Files.isRegularFile(Path.of(dir, "model.onnx"))) {
            fail(dir + " has no model.onnx; export it with: python3 tools/reference/export_onnx.py --model " + dir
                    + " --out " + Path.of(dir, "model.onnx") + "  (or run tools/bench/vs-onnx.sh)");
        }
        return VitModel.load(dir);
    }

    private static String ortVersion() {
        String v = ai.onnxruntime.OrtEnvironment.class.getPackage().getImplementationVersion();
        return v == null ? "1.29.0" : v;
    }

    static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) return line.substring(line.indexOf(':') + 1).strip() + ", "
                        + Runtime.getRuntime().availableProcessors() + " cores";
            }
        } catch (Exception ignored) {
            // not Linux: fall through
        }
        return System.getProperty("os.arch") + ", " + Runtime.getRuntime().availableProcessors() + " cores";
    }

    private static double median(List<Double> xs) {
        double[] a = xs.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(a);
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }

    private static double round(double x) {
        return Math.round(x * 100) / 100.0;
    }

    private static int[] ints(String csv) {
        return Arrays.stream(csv.split(",")).map(String::strip).mapToInt(Integer::parseInt).toArray();
    }

    private static String value(String[] argv, int i, String flag) {
        if (i >= argv.length) fail(flag + " needs a value");
        return argv[i];
    }

    private static void fail(String message) {
        System.err.println("tomestream: " + message);
        System.exit(2);
    }
}
