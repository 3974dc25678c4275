package io.tomestream.cli;

import io.tomestream.backend.select.BackendChoice;
import io.tomestream.merge.Reducer;
import io.tomestream.classify.Classifier;
import io.tomestream.classify.Outcome;
import io.tomestream.classify.Prediction;
import io.tomestream.classify.Score;
import io.tomestream.image.ImageException;
import io.tomestream.model.ModelException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code classify}: one line per image, in the order given; bad images are reported and skipped. */
@Command(name = "classify", description = "Classify images (PNG, JPEG, BMP, GIF, TIFF, WebP) with a timm ViT/DeiT model folder: one line per image.")
final class ClassifyCommand extends CliCommand {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "A timm model folder (config.json and model.safetensors).")
    String model;
    @Option(names = "--reducer", defaultValue = "tome", completionCandidates = Reducers.class, description = "Token reducer: ${COMPLETION-CANDIDATES}.")
    Reducer reducer;
    @Option(names = {"--budget", "--tome"}, defaultValue = "0", paramLabel = "SPEC", description = "Tokens removed per block (see below).")
    String budget;
    @Option(names = "--top", defaultValue = "5", paramLabel = "K", description = "Classes to print per image.")
    int top;
    @Option(names = "--backend", defaultValue = "auto", completionCandidates = BackendNames.class, description = "${COMPLETION-CANDIDATES}.")
    BackendChoice backend;
    @Option(names = "--threads", defaultValue = "0", paramLabel = "T", description = "CPU threads; 0 = one per core.")
    int threads;
    @Option(names = "--batch", defaultValue = "16", paramLabel = "B", description = "Images per forward pass.")
    int batch;
    @Option(names = "--json", description = "One JSON object per line: logits, top classes, token counts, milliseconds.")
    boolean json;
    @Option(names = "--fast-decode", description = "Decode large JPEGs at reduced scale (see bench-decode).")
    boolean fastDecode;
    @Parameters(paramLabel = "IMAGE", arity = "0..*", description = "Image files.")
    List<String> images;

    ClassifyCommand(PrintStream out, PrintStream err) {
        super(out, err);
    }

    /** What {@code --json} prints for an image: its prediction, or why it has none. */
    /** One JSON line; {@code tokens} are those entering block 1, then after each block, and {@code splitRegions} MSViT's split regions. */
    record Result(String image, float[] logits, List<Score> top, int[] tokens, Integer splitRegions, Double millis, String error,
                  String message) {
    }

    @Override
    public Integer call() throws ModelException {
        if (images == null || images.isEmpty()) throw usage("classify needs at least one IMAGE");
        atLeast("--batch", batch, 1);
        atLeast("--top", top, 1);
        atLeast("--threads", threads, 0);
        Classifier.Options options = Classifier.Options.defaults()
                .withBudget(budget)
                .withReducer(reducer)
                .withBackend(backend)
                .withThreads(threads)
                .withTopK(top)
                .withFastDecode(fastDecode);

        long t0 = System.nanoTime();
        try (Classifier classifier = Classifier.open(model, options)) {
            classifier.backend().reserve(Math.min(batch, images.size())); // a device backend compiles for this batch now
            err.printf("tomestream: %s (%s) on %s, %s %s, loaded in %.0f ms%n", classifier.model().id(),
                    classifier.config().architecture(), classifier.backend().device(),
                    classifier.reducer().equals("tome") ? "ToMe" : "reducer " + classifier.reducer() + ", budget", classifier.schedule(),
                    (System.nanoTime() - t0) / 1e6);
            int failed = 0;
            for (int from = 0; from < images.size(); from += batch) {
                List<String> names = images.subList(from, Math.min(images.size(), from + batch));
                List<byte[]> bytes = new ArrayList<>();
                List<String> readable = new ArrayList<>();
                for (String name : names) {
                    try {
                        bytes.add(Files.readAllBytes(Path.of(name)));
                        readable.add(name);
                    } catch (NoSuchFileException e) {
                        failed++;
                        report(name, "NOT_FOUND", "no such file");
                    } catch (IOException e) {
                        failed++;
                        report(name, "UNREADABLE", e.getMessage());
                    }
                }
                List<Outcome> outcomes = classifier.classify(bytes);
                for (int i = 0; i < outcomes.size(); i++) {
                    String name = readable.get(i);
                    switch (outcomes.get(i)) {
                        case Outcome.Classified c -> print(name, c.prediction());
                        case Outcome.Rejected r -> {
                            failed++;
                            ImageException e = r.error();
                            report(name, e.reason().name(), e.getMessage());
                        }
                    }
                }
            }
            return failed == 0 ? 0 : 1;
        }
    }

    private void print(String image, Prediction p) {
        if (json) {
            out.println(JsonLines.write(new Result(image, p.logits(), p.top(), p.tokens(), p.split() == null ? null : p.splitRegions(),
                    Math.round(p.millis() * 1000) / 1000.0, null, null)));
        } else {
            StringBuilder sb = new StringBuilder(image).append('\t');
            for (Score s : p.top()) sb.append(String.format("%s %.3f  ", s.label(), s.score()));
            sb.append(String.format("\ttokens %d->%d\t%.1f ms", p.tokens()[0], p.finalTokens(), p.millis()));
            out.println(sb);
        }
    }

    private void report(String image, String reason, String message) {
        err.println("tomestream: " + image + ": " + message);
        if (json) out.println(JsonLines.write(new Result(image, null, null, null, null, null, reason, message)));
    }
}
