package io.tomestream.cli;

import io.tomestream.dataset.FashionMnist;
import io.tomestream.merge.Schedule;
import io.tomestream.model.ModelException;
import io.tomestream.streambench.StreamBench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;

/** {@code bench-stream}: see {@link StreamBench}. */
final class BenchStreamCommand {
    static final String DEFAULT_MODEL = "random:vit_small_patch16_224";

    private BenchStreamCommand() {
    }

    static int run(String[] argv, PrintStream out, PrintStream err) throws ModelException {
        Args args = new Args(argv, 0, Set.of("model", "events", "batch", "budget", "threads", "partitions", "rates", "seconds",
                "drain", "latency-target", "plot", "photos", "dataset", "baseline-seconds"), Set.of());
        if (!args.positionals().isEmpty()) throw new Args.UsageException("unexpected argument '" + args.positionals().getFirst() + "'");
        String events = args.get("events", "camera");
        if (!events.equals("camera") && !events.equals("fashion-mnist")) {
            throw new Args.UsageException("--events must be camera or fashion-mnist, got '" + events + "'");
        }
        String budget = args.get("budget", "0").strip();
        if (!budget.equalsIgnoreCase("auto")) {
            try {
                Schedule.parse(budget);
            } catch (IllegalArgumentException e) {
                throw new Args.UsageException("--budget: " + e.getMessage() + " (or auto)");
            }
        }
        double[] rates;
        try {
            rates = Arrays.stream(args.get("rates", "0.5,0.8,1.0,1.2,1.5").split(",")).map(String::strip).mapToDouble(Double::parseDouble).toArray();
        } catch (NumberFormatException e) {
            throw new Args.UsageException("--rates takes fractions of the drain rate, e.g. 0.5,1.0,1.5");
        }
        if (rates.length == 0 || Arrays.stream(rates).anyMatch(r -> !(r > 0) || r > 10)) {
            throw new Args.UsageException("--rates takes fractions of the drain rate from above 0 to 10, e.g. 0.5,1.0,1.5");
        }
        boolean camera = events.equals("camera");
        StreamBench.Options options = new StreamBench.Options(
                args.get("model", DEFAULT_MODEL), events,
                args.integer("batch", camera ? 8 : 16, 1),
                budget,
                args.integer("threads", Runtime.getRuntime().availableProcessors(), 1),
                args.integer("partitions", 3, 1),
                rates,
                args.number("seconds", 20),
                args.integer("drain", camera ? 240 : 4000, 2),
                args.integer("latency-target", 1000, 1),
                Path.of(args.get("plot", "target/bench-stream/latency.png")),
                Path.of(args.get("photos", "/usr/share/backgrounds/mate/nature")),
                Path.of(args.get("dataset", FashionMnist.DEBIAN_DIR.toString())),
                args.number("baseline-seconds", 8));
        try {
            return StreamBench.run(options, out, err);
        } catch (IOException e) {
            err.println("tomestream bench-stream: " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }
}
