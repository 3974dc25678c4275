package io.tomestream.cli;

import io.tomestream.backend.select.BackendChoice;
import io.tomestream.merge.Reducer;
import io.tomestream.classify.Classifier;
import io.tomestream.classify.Outcome;
import io.tomestream.classify.Prediction;
import io.tomestream.eval.TokenMap;
import io.tomestream.image.ImageException;
import io.tomestream.image.Preprocessor;
import io.tomestream.model.ModelConfig;
import io.tomestream.model.ModelException;

import java.io.IOException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code visualize}: classifies one image and draws which patches ended in the same final token
 * ({@link Prediction#sources()}), next to the image as the model saw it.
 */
@Command(name = "visualize", description = "Draw which patches ended in the same token, beside the image as the model saw it.")
final class VisualizeCommand extends CliCommand {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "A timm model folder.")
    String modelDir;
    @Option(names = "--reducer", defaultValue = "tome", completionCandidates = Reducers.class, description = "Token reducer: ${COMPLETION-CANDIDATES}.")
    Reducer reducer;
    @Option(names = {"--budget", "--tome"}, defaultValue = "8", paramLabel = "SPEC", description = "Tokens removed per block.")
    String budget;
    @Option(names = "--out", required = true, paramLabel = "FILE.png", description = "The picture to write.")
    Path target;
    @Option(names = "--backend", defaultValue = "auto", completionCandidates = BackendNames.class, description = "${COMPLETION-CANDIDATES}.")
    BackendChoice backend;
    @Option(names = "--threads", defaultValue = "0", paramLabel = "T", description = "CPU threads; 0 = one per core.")
    int threads;
    @Parameters(paramLabel = "IMAGE", arity = "0..*", description = "One image file.")
    List<String> images;

    VisualizeCommand(PrintStream out, PrintStream err) {
        super(out, err);
    }

    @Override
    public Integer call() throws ModelException {
        if (images == null || images.size() != 1) throw usage("visualize takes exactly one IMAGE, got " + (images == null ? 0 : images.size()));
        String image = images.getFirst();
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(Path.of(image));
        } catch (NoSuchFileException e) {
            err.println("tomestream: " + image + ": no such file");
            return 1;
        } catch (IOException e) {
            err.println("tomestream: " + image + ": " + e.getMessage());
            return 1;
        }
        Classifier.Options options = Classifier.Options.defaults()
                .withBudget(budget)
                .withReducer(reducer)
                .withBackend(backend)
                .withThreads(atLeast("--threads", threads, 0))
                .withTopK(1);
        try (Classifier classifier = Classifier.open(modelDir, options)) {
            Prediction p;
            switch (classifier.classify(List.of(bytes)).getFirst()) {
                case Outcome.Classified c -> p = c.prediction();
                case Outcome.Rejected r -> {
                    ImageException e = r.error();
                    err.println("tomestream: " + image + ": " + e.getMessage());
                    return 1;
                }
            }
            ModelConfig cfg = classifier.config();
            Preprocessor prep = new Preprocessor(cfg.input());
            float[] tensor = new float[prep.tensorLength()];
            try {
                prep.toTensor(bytes, tensor, 0);
            } catch (ImageException e) {
                throw new IllegalStateException("decoded once, not twice", e);
            }
            String reducer = classifier.reducer();
            String caption1 = String.format(Locale.ROOT, "%s, %s %s: %d -> %d tokens (%s)", classifier.model().id(),
                    reducer.equals("tome") ? "ToMe" : reducer, classifier.schedule(), p.tokens()[0], p.finalTokens(), tokenCounts(p.tokens()));
            String caption2 = String.format(Locale.ROOT, "%s: %s %.1f%%; same colour = same final token", Path.of(image).getFileName(),
                    p.best().label(), 100 * p.best().score());
            List<String> caption = new ArrayList<>(List.of(caption1, caption2));
            if (p.split() != null) {
                caption.add(String.format(Locale.ROOT, "left: the gate's scale per region, %d of %d split into fine patches", p.splitRegions(),
                        p.split().length));
            }
            int prefix = classifier.model().prefixTokens(), factor = cfg.msvit() == null ? 0 : cfg.msvit().factor();
            TokenMap.write(TokenMap.render(tensor, 0, cfg.input(), p.sources(), prefix, cfg.gridSize(), p.split(), factor, caption), target);
            out.printf(Locale.ROOT, "%s: %d -> %d tokens, %s (%.3f), wrote %s%n", image, p.tokens()[0], p.finalTokens(), p.best().label(),
                    p.best().score(), target);
            return 0;
        } catch (IOException e) {
            throw new IllegalArgumentException("can't write " + e.getMessage(), e);
        }
    }

    private static String tokenCounts(int[] tokens) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < tokens.length; i++) sb.append(i == 0 ? "" : " ").append(tokens[i]);
        return sb.toString();
    }
}
