package io.tomestream.cli;

import io.tomestream.backend.select.BackendChoice;
import io.tomestream.merge.Reducer;
import io.tomestream.backend.Backend;
import io.tomestream.backend.select.Backends;
import io.tomestream.backend.ForwardResult;
import io.tomestream.merge.Schedule;
import io.tomestream.merge.Flops;
import io.tomestream.model.ModelConfig;
import io.tomestream.model.ModelException;
import io.tomestream.model.VitModel;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

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
@Command(name = "bench", description = "Measure img/s of each budget of one token reducer against no reduction, on the same backend and batch.")
final class BenchCommand extends CliCommand {
    @Option(names = "--model", required = true, paramLabel = "DIR|random:ARCH", description = "A timm model folder, or random weights of a timm architecture.")
    String modelDir;
    @Option(names = "--reducer", defaultValue = "tome", completionCandidates = Reducers.class, description = "Token reducer: ${COMPLETION-CANDIDATES}.")
    Reducer reducer;
    @Option(names = {"--budget", "--tome"}, defaultValue = "0", paramLabel = "SPEC[;SPEC...]", description = "Budgets to time beside 0 (see tomestream --help).")
    String budget;
    @Option(names = "--batch", defaultValue = "8", paramLabel = "B", description = "Images per forward pass.")
    int batch;
    @Option(names = "--threads", paramLabel = "T", description = "CPU threads (default: the backend's own choice, one per core).")
    Integer threadCount;
    @Option(names = "--seconds", defaultValue = "5", paramLabel = "S", description = "Timed seconds, in interleaved rounds.")
    double seconds;
    @Option(names = "--warmup", defaultValue = "2", paramLabel = "S", description = "Warm-up seconds, untimed.")
    double warmupSeconds;
    @Option(names = "--backend", defaultValue = "auto", completionCandidates = BackendNames.class, description = "${COMPLETION-CANDIDATES}.")
    BackendChoice backend;

    BenchCommand(PrintStream out, PrintStream err) {
        super(out, err);
    }

    @Override
    public Integer call() throws ModelException {
        atLeast("--batch", batch, 1);
        int threads = threadCount == null ? Backends.defaultThreads() : atLeast("--threads", threadCount, 1);
        Set<String> specs = new LinkedHashSet<>();
        specs.add("0"); // the baseline every speedup is measured against
        for (String s : budget.split(";")) if (!s.isBlank()) specs.add(s.strip());

        VitModel model = VitModel.load(modelDir);
        ModelConfig cfg = model.config();
        List<String> names = new ArrayList<>(specs);
        int[][] schedules = new int[names.size()][];
        int[] splits = new int[names.size()];
        for (int i = 0; i < names.size(); i++) {
            Schedule s = Schedule.parse(names.get(i));
            s.checkFor(cfg);
            schedules[i] = s.perLayer(cfg.depth());
            splits[i] = s.splits();
        }

        int imageLen = cfg.inChans() * cfg.imgSize() * cfg.imgSize();
        float[] pixels = new float[batch * imageLen];
        SplittableRandom rnd = new SplittableRandom(7);
        for (int i = 0; i < pixels.length; i++) pixels[i] = (float) (rnd.nextDouble() * 4 - 2);

        try (Backend backend = Backends.create(this.backend, model, threads, reducer, batch)) {
            err.printf("tomestream bench: %s (%s), batch %d, %s, reducer %s, warming up...%n", model.id(), cfg.architecture(),
                    batch, backend.device(), reducer);
            ForwardResult result = new ForwardResult();
            double[] finalTokens = new double[names.size()], gflops = new double[names.size()];
            long warmEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
            do {
                for (int i = 0; i < names.size(); i++) {
                    backend.forward(pixels, batch, schedules[i], splits[i], result);
                    // averaged over the batch: MSViT's threshold gives each image its own token count
                    finalTokens[i] = gflops[i] = 0;
                    for (int b = 0; b < batch; b++) {
                        int[] tokens = result.tokensOf(b);
                        finalTokens[i] += tokens[tokens.length - 1] / (double) batch;
                        gflops[i] += Flops.perImage(cfg, model.weights().distilled(), tokens, reducer, result.moduleTokens) / 1e9 / batch;
                    }
                }
            } while (System.nanoTime() < warmEnd);

            List<List<Double>> millis = new ArrayList<>();
            for (int i = 0; i < names.size(); i++) millis.add(new ArrayList<>());
            long end = System.nanoTime() + (long) (seconds * 1e9);
            int rounds = 0;
            while (rounds < 3 || System.nanoTime() < end) {
                for (int i = 0; i < names.size(); i++) {
                    long t0 = System.nanoTime();
                    backend.forward(pixels, batch, schedules[i], splits[i], result);
                    millis.get(i).add((System.nanoTime() - t0) / 1e6);
                }
                rounds++;
                err.printf("\r  round %d", rounds);
            }
            err.println();

            out.printf("model %s (%s), batch %d, threads %d, backend %s, reducer %s, %d rounds%n%n", model.id(), cfg.architecture(),
                    batch, threads, backend.device(), reducer, rounds);
            out.printf("| %s | img/s | ms/batch | tokens at last block | GFLOPs/img | speedup |%n",
                    reducer == Reducer.TOME ? "ToMe" : reducer + " budget");
            out.println("|---|---:|---:|---:|---:|---:|");
            double base = median(millis.getFirst());
            for (int i = 0; i < names.size(); i++) {
                double ms = median(millis.get(i));
                out.printf("| %s | %.1f | %.2f | %s | %.3f | %.2fx |%n", names.get(i), batch * 1000.0 / ms, ms,
                        Tokens.count(finalTokens[i]), gflops[i], base / ms);
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
