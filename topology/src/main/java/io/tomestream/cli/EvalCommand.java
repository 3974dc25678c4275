package io.tomestream.cli;

import io.tomestream.backend.select.BackendChoice;
import io.tomestream.merge.Reducer;
import io.tomestream.backend.select.Backends;
import io.tomestream.dataset.FashionMnist;
import io.tomestream.eval.AccuracyPlot;
import io.tomestream.eval.Evaluation;
import io.tomestream.model.ModelConfig;
import io.tomestream.model.ModelException;
import io.tomestream.model.VitModel;

import java.io.IOException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code eval}: top-1 accuracy and img/s of token reducers and budgets on a labelled data set, against
 * no reduction; a markdown table on stdout, optionally a CSV file and an accuracy-vs-speed plot.
 */
@Command(name = "eval", description = "Top-1 accuracy, img/s and GFLOPs of each reducer and budget against no reduction, on a labelled data set.")
final class EvalCommand extends CliCommand {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "A timm model folder.")
    String modelDir;
    @Option(names = "--dataset", defaultValue = "fashion-mnist", description = "The data set: fashion-mnist.")
    String dataset;
    @Option(names = "--dataset-dir", paramLabel = "DIR", description = "Its folder (default: Debian's).")
    Path datasetDir;
    @Option(names = "--split", defaultValue = "test", description = "test or train.")
    String splitName;
    @Option(names = "--limit", paramLabel = "N", description = "The first N images only (default: all).")
    Integer limit;
    @Option(names = "--reducer", defaultValue = "tome", paramLabel = "R[,R...]", split = ",", completionCandidates = Reducers.class,
            description = "Token reducers: ${COMPLETION-CANDIDATES}.")
    List<Reducer> reducers;
    @Option(names = {"--budget", "--tome"}, defaultValue = "8", paramLabel = "SPEC[;SPEC...]", description = "Budgets, each beside 0.")
    String budget;
    @Option(names = "--batch", defaultValue = "64", paramLabel = "B", description = "Images per forward pass.")
    int batch;
    @Option(names = "--threads", paramLabel = "T", description = "CPU threads (default: one per core).")
    Integer threadCount;
    @Option(names = "--backend", defaultValue = "auto", completionCandidates = BackendNames.class, description = "${COMPLETION-CANDIDATES}.")
    BackendChoice backend;
    @Option(names = "--warmup", defaultValue = "1", paramLabel = "S", description = "Warm-up seconds per configuration, untimed.")
    double warmup;
    @Option(names = "--with", paramLabel = "DIR", split = ",",
            description = "More model folders on the same body (a TokenLearner, PatchMerger or MSViT fine-tune), each run at budget 0 and --with-budget: their rows join the table and plot, against this model's baseline.")
    List<String> with = new ArrayList<>();
    @Option(names = "--with-budget", paramLabel = "SPEC[;SPEC...]", defaultValue = "",
            description = "Budgets for the --with models, each beside 0 (e.g. 8:-1 or split=12 for MSViT).")
    String withBudget;
    @Option(names = "--csv", paramLabel = "FILE", description = "Also write the table as CSV.")
    Path csv;
    @Option(names = "--plot", paramLabel = "FILE.png", description = "Also draw accuracy against img/s.")
    Path plot;

    EvalCommand(PrintStream out, PrintStream err) {
        super(out, err);
    }

    @Override
    public Integer call() throws ModelException {
        if (!dataset.equals("fashion-mnist")) throw usage("--dataset must be fashion-mnist, got '" + dataset + "'");
        FashionMnist.Split split;
        try {
            split = FashionMnist.Split.parse(splitName);
        } catch (IllegalArgumentException e) {
            throw usage("--split: " + e.getMessage());
        }
        Path dir = datasetDir == null ? FashionMnist.DEBIAN_DIR : datasetDir;
        int limit = this.limit == null ? Integer.MAX_VALUE : atLeast("--limit", this.limit, 1);
        atLeast("--batch", batch, 1);
        int threads = threadCount == null ? Backends.defaultThreads() : atLeast("--threads", threadCount, 1);
        List<String> budgets = list(budget, ";");
        if (reducers.isEmpty() || budgets.isEmpty()) throw usage("--reducer and --budget need at least one value each");
        List<String> withBudgets = new ArrayList<>(List.of("0"));
        withBudgets.addAll(list(withBudget, ";"));
        for (String b : budgets) io.tomestream.merge.Schedule.parse(b); // a bad spec fails before any work
        for (String b : withBudgets) io.tomestream.merge.Schedule.parse(b);

        if (!FashionMnist.present(dir, split)) {
            throw new IllegalArgumentException("Fashion-MNIST (" + split + ") is not in " + dir + ": it needs " + split.images() + " and "
                    + split.labels() + " (Debian: apt-get install dataset-fashion-mnist), or --dataset-dir DIR");
        }
        VitModel model = VitModel.load(modelDir);
        ModelConfig cfg = model.config();
        FashionMnist data;
        try {
            data = FashionMnist.read(dir, split, limit);
        } catch (IOException e) {
            throw new IllegalArgumentException("can't read Fashion-MNIST: " + e.getMessage());
        }
        err.printf("tomestream eval: %s (%s) on Fashion-MNIST %s, %d images, batch %d, %d threads%n", model.id(), cfg.architecture(),
                split, data.size(), batch, threads);
        err.println("  warming up...");
        Progress progress = new Progress(err);
        Evaluation.Result result = Evaluation.run(model, data, reducers, budgets, backend, threads, batch, warmup, progress);
        progress.finish();
        List<Evaluation.Row> rows = new ArrayList<>(result.rows());
        for (String dirWith : with) {
            VitModel other = VitModel.load(dirWith);
            err.printf("tomestream eval: with %s%s%n", other.id(), other.config().module() == null ? "" : " (" + other.config().module() + ")");
            Progress more = new Progress(err);
            // named by the folder too: two fine-tunes with the same module are two curves
            for (Evaluation.Row row : Evaluation.run(other, data, List.of(Reducer.TOME), withBudgets, backend, threads, batch, warmup, more).rows()) {
                rows.add(new Evaluation.Row(row.config(), row.label() + " (" + other.id() + ")", row.images(), row.correct(), row.seconds(),
                        row.gflops(), row.inputTokens(), row.finalTokens()));
            }
            more.finish();
        }
        result = new Evaluation.Result(rows);

        out.printf("model %s (%s), Fashion-MNIST %s, %d images, batch %d, threads %d%n%n", model.id(), cfg.architecture(), split,
                data.size(), batch, threads);
        out.println("| reducer | budget | top-1 % | Δ top-1 | img/s | speedup | GFLOPs/img | tokens entering block 1 | tokens at last block |");
        out.println("|---|---|---:|---:|---:|---:|---:|---:|---:|");
        for (Evaluation.Row row : result.rows()) {
            String delta = row == result.baseline() ? "" : String.format(Locale.ROOT, "%+.2f", result.delta(row));
            out.printf(Locale.ROOT, "| %s | %s | %.2f | %s | %.1f | %.2fx | %.3f | %s | %s |%n", row.label(), row.config().budget(),
                    row.accuracy(), delta, row.imagesPerSecond(), result.speedup(row), row.gflops(), Tokens.count(row.inputTokens()),
                    Tokens.count(row.finalTokens()));
        }
        try {
            if (csv != null) writeCsv(result, csv);
            if (plot != null) {
                String title = String.format(Locale.ROOT, "%s on Fashion-MNIST %s (%d images), batch %d, %d threads", model.id(), split,
                        data.size(), batch, threads);
                AccuracyPlot.write(result, title, plot);
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("can't write " + e.getMessage(), e);
        }
        return 0;
    }

    static void writeCsv(Evaluation.Result result, Path file) throws IOException {
        StringBuilder sb = new StringBuilder("reducer,budget,images,correct,top1_percent,delta_top1,img_per_s,speedup,gflops_per_img,"
                + "input_tokens,final_tokens\n");
        for (Evaluation.Row row : result.rows()) {
            sb.append(String.format(Locale.ROOT, "%s,\"%s\",%d,%d,%.4f,%.4f,%.3f,%.4f,%.6f,%s,%s%n", row.label(), row.config().budget(),
                    row.images(), row.correct(), row.accuracy(), result.delta(row), row.imagesPerSecond(), result.speedup(row), row.gflops(),
                    Tokens.count(row.inputTokens()), Tokens.count(row.finalTokens())));
        }
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        Files.writeString(file, sb);
    }

    private static List<String> list(String s, String separator) {
        List<String> out = new ArrayList<>();
        for (String part : s.split(separator)) if (!part.isBlank()) out.add(part.strip());
        return out;
    }

    /** A bar on stderr that redraws in place, at most once per percent. */
    private static final class Progress implements Evaluation.Progress {
        private static final int WIDTH = 30;
        private final PrintStream err;
        private long start = System.nanoTime();
        private int lastPercent = -1;

        Progress(PrintStream err) {
            this.err = err;
        }

        @Override
        public void update(int done, int total) {
            if (done == 0) start = System.nanoTime();
            int percent = (int) (100L * done / total);
            if (percent == lastPercent) return;
            lastPercent = percent;
            int filled = (int) ((long) WIDTH * done / total);
            err.printf(Locale.ROOT, "\r  [%s%s] %3d%%  %d/%d images  %.0f s", "#".repeat(filled), ".".repeat(WIDTH - filled), percent,
                    done, total, (System.nanoTime() - start) / 1e9);
            err.flush();
        }

        void finish() {
            if (lastPercent >= 0) err.println();
        }
    }
}
