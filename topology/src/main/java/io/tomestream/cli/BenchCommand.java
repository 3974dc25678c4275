package io.tomestream.cli;

import io.tomestream.backend.Backend;
import io.tomestream.backend.Backends;
import io.tomestream.backend.ForwardResult;
import io.tomestream.merge.Schedule;
import io.tomestream.model.Flops;
import io.tomestream.model.ModelConfig;
import io.tomestream.model.ModelException;
import io.tomestream.model.VitModel;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * {@code bench}: img/s of each budget spec of one token reducer (ToMe by default) against no
 * reduction, on the same backend and batch. Specs
 * are timed in interleaved rounds so that a noisy machine slows them all alike; each row reports
 * the median batch.
 */
final class BenchCommand {
    private BenchCommand() {
    }

    static int run(String[] argv, PrintStream out, PrintStream err) throws ModelException {
        Args args = new Args(argv, 0, Set.of("model", "batch", "threads", "tome", "budget", "reducer", "backend", "seconds", "warmup"), Set.of());
        if (!args.positionals().isEmpty()) throw new Args.UsageException("unexpected argument '" + args.positionals().getFirst() + "'");
        int batch = args.integer("batch", 8, 1);
        int threads = args.integer("threads", Backends.defaultThreads(), 1);
        double seconds = args.number("seconds", 5);
        double warmupSeconds = args.number("warmup", 2);
        Set<String> specs = new LinkedHashSet<>();
        specs.add("0"); // the baseline every speedup is measured against
        for (String s : args.budget("0").split(";")) if (!s.isBlank()) specs.add(s.strip());
        String reducer = args.reducer();

        VitModel model = VitModel.load(args.require("model"));
        ModelConfig cfg = model.config();
        List<String> names = new ArrayList<>(specs);
        int[][] schedules = new int[names.size()][];
        for (int i = 0; i < names.size(); i++) schedules[i] = Schedule.parse(names.get(i)).perLayer(cfg.depth());

        int imageLen = cfg.inChans() * cfg.imgSize() * cfg.imgSize();
        float[] pixels = new float[batch * imageLen];
        SplittableRandom rnd = new SplittableRandom(7);
        for (int i = 0; i < pixels.length; i++) pixels[i] = (float) (rnd.nextDouble() * 4 - 2);

        try (Backend backend = Backends.create(args.get("backend", "auto"), model, threads, reducer, batch)) {
            err.printf("tomestream bench: %s (%s), batch %d, %s, reducer %s, warming up...%n", model.id(), cfg.architecture(),
                    batch, backend.device(), reducer);
            ForwardResult result = new ForwardResult();
            int[] finalTokens = new int[names.size()];
            double[] gflops = new double[names.size()];
            long warmEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
            do {
                for (int i = 0; i < names.size(); i++) {
                    backend.forward(pixels, batch, schedules[i], result);
                    finalTokens[i] = result.finalTokens();
                    gflops[i] = Flops.perImage(cfg, model.weights().distilled(), result.tokens, reducer) / 1e9;
                }
            } while (System.nanoTime() < warmEnd);

            List<List<Double>> millis = new ArrayList<>();
            for (int i = 0; i < names.size(); i++) millis.add(new ArrayList<>());
            long end = System.nanoTime() + (long) (seconds * 1e9);
            int rounds = 0;
            while (rounds < 3 || System.nanoTime() < end) {
                for (int i = 0; i < names.size(); i++) {
                    long t0 = System.nanoTime();
                    backend.forward(pixels, batch, schedules[i], result);
                    millis.get(i).add((System.nanoTime() - t0) / 1e6);
                }
                rounds++;
                err.printf("\r  round %d", rounds);
            }
            err.println();

            out.printf("model %s (%s), batch %d, threads %d, backend %s, reducer %s, %d rounds%n%n", model.id(), cfg.architecture(),
                    batch, threads, backend.device(), reducer, rounds);
            out.printf("| %s | img/s | ms/batch | tokens at last block | GFLOPs/img | speedup |%n",
                    reducer.equals("tome") ? "ToMe" : reducer + " budget");
            out.println("|---|---:|---:|---:|---:|---:|");
            double base = median(millis.getFirst());
            for (int i = 0; i < names.size(); i++) {
                double ms = median(millis.get(i));
                out.printf("| %s | %.1f | %.2f | %d | %.3f | %.2fx |%n", names.get(i), batch * 1000.0 / ms, ms,
                        finalTokens[i], gflops[i], base / ms);
            }
        }
        return 0;
    }

    private static double median(List<Double> xs) {
        double[] a = xs.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(a);
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }
}
