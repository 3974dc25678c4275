package io.tomestream.cli;

import io.tomestream.classify.Classifier;
import io.tomestream.classify.Outcome;
import io.tomestream.classify.Prediction;
import io.tomestream.classify.Score;
import io.tomestream.image.ImageException;
import io.tomestream.json.Json;
import io.tomestream.model.ModelException;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@code classify}: one line per image, in the order given; bad images are reported and skipped. */
final class ClassifyCommand {
    private ClassifyCommand() {
    }

    static int run(String[] argv, PrintStream out, PrintStream err) throws ModelException {
        Args args = new Args(argv, 0, Set.of("model", "tome", "budget", "reducer", "top", "backend", "threads", "batch"), Set.of("json", "fast-decode"));
        String modelDir = args.require("model");
        List<String> images = args.positionals();
        if (images.isEmpty()) throw new Args.UsageException("classify needs at least one IMAGE");
        boolean json = args.has("json");
        int batch = args.integer("batch", 16, 1);
        Classifier.Options options = Classifier.Options.defaults()
                .withTome(args.budget("0"))
                .withReducer(args.reducer())
                .withBackend(args.get("backend", "auto"))
                .withThreads(args.integer("threads", 0, 0))
                .withTopK(args.integer("top", 5, 1))
                .withFastDecode(args.has("fast-decode"));

        long t0 = System.nanoTime();
        try (Classifier classifier = Classifier.open(modelDir, options)) {
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
                        report(out, err, json, name, "NOT_FOUND", "no such file");
                    } catch (IOException e) {
                        failed++;
                        report(out, err, json, name, "UNREADABLE", e.getMessage());
                    }
                }
                List<Outcome> outcomes = classifier.classify(bytes);
                for (int i = 0; i < outcomes.size(); i++) {
                    String name = readable.get(i);
                    switch (outcomes.get(i)) {
                        case Outcome.Classified c -> print(out, json, name, c.prediction());
                        case Outcome.Rejected r -> {
                            failed++;
                            ImageException e = r.error();
                            report(out, err, json, name, e.reason().name(), e.getMessage());
                        }
                    }
                }
            }
            return failed == 0 ? 0 : 1;
        }
    }

    private static void print(PrintStream out, boolean json, String image, Prediction p) {
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("image", image);
            o.put("logits", p.logits());
            List<Map<String, Object>> top = new ArrayList<>();
            for (Score s : p.top()) {
                Map<String, Object> t = new LinkedHashMap<>();
                t.put("index", s.index());
                t.put("label", s.label());
                t.put("score", s.score());
                top.add(t);
            }
            o.put("top", top);
            o.put("tokens", p.tokens());
            o.put("millis", Math.round(p.millis() * 1000) / 1000.0);
            out.println(Json.write(o));
        } else {
            StringBuilder sb = new StringBuilder(image).append('\t');
            for (Score s : p.top()) sb.append(String.format("%s %.3f  ", s.label(), s.score()));
            sb.append(String.format("\ttokens %d->%d\t%.1f ms", p.tokens()[0], p.finalTokens(), p.millis()));
            out.println(sb);
        }
    }

    private static void report(PrintStream out, PrintStream err, boolean json, String image, String reason, String message) {
        err.println("tomestream: " + image + ": " + message);
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("image", image);
            o.put("error", reason);
            o.put("message", message);
            out.println(Json.write(o));
        }
    }
}
