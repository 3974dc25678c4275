package io.tomestream.cli;

import io.tomestream.dataset.FashionMnist;
import io.tomestream.merge.Schedule;
import io.tomestream.model.ModelException;
import io.tomestream.streambench.EventKind;
import io.tomestream.streambench.StreamBench;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;

/** {@code bench-stream}: see {@link StreamBench}. */
@Command(name = "bench-stream", description = {
        "The whole path under load: engine and classify img/s, then a broker and `run` in their own processes,",
        "the drain rate of a pre-filled topic and p50/p99 at fixed offered rates; the last line is JSON."})
final class BenchStreamCommand extends CliCommand {
    static final String DEFAULT_MODEL = "random:vit_small_patch16_224";

    @Option(names = "--model", defaultValue = DEFAULT_MODEL, paramLabel = "DIR|random:ARCH", description = "The model to serve.")
    String model;
    @Option(names = "--events", defaultValue = "camera", completionCandidates = Events.class,
            description = "${COMPLETION-CANDIDATES}: camera frames (Debian's photographs, re-encoded as 1280x720 JPEGs) or Fashion-MNIST PNGs.")
    EventKind events;
    @Option(names = "--batch", paramLabel = "B", description = "batch.size (default: 8 for camera, 16 for fashion-mnist).")
    Integer batch;
    @Option(names = "--budget", defaultValue = "0", paramLabel = "SPEC|auto", description = "A budget, or auto (the load-adaptive one).")
    String budget;
    @Option(names = "--threads", paramLabel = "T", description = "Engine threads (default: one per core).")
    Integer threads;
    @Option(names = "--partitions", defaultValue = "3", paramLabel = "N", description = "Input partitions.")
    int partitions;
    @Option(names = "--rates", defaultValue = "0.5,0.8,1.0,1.2,1.5", split = ",", paramLabel = "F", description = "Offered rates, as fractions of the drain rate.")
    double[] rates;
    @Option(names = "--seconds", defaultValue = "20", paramLabel = "S", description = "Seconds per offered rate.")
    double seconds;
    @Option(names = "--drain", paramLabel = "N", description = "Events in the pre-filled topic (default: 240 for camera, 4000 for fashion-mnist).")
    Integer drain;
    @Option(names = "--latency-target", defaultValue = "1000", paramLabel = "MS", description = "latency.target.ms, for budget=auto.")
    int latencyTarget;
    @Option(names = "--plot", defaultValue = "target/bench-stream/latency.png", paramLabel = "FILE.png", description = "The latency plot.")
    Path plot;
    @Option(names = "--photos", defaultValue = "/usr/share/backgrounds/mate/nature", paramLabel = "DIR", description = "Photographs for camera events.")
    Path photos;
    @Option(names = "--dataset", paramLabel = "DIR", description = "Fashion-MNIST's folder (default: Debian's).")
    Path dataset;
    @Option(names = "--baseline-seconds", defaultValue = "8", paramLabel = "S", description = "Seconds of the engine-only baselines.")
    double baselineSeconds;

    BenchStreamCommand(PrintStream out, PrintStream err) {
        super(out, err);
    }

    static final class Events implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return EventKind.labels().iterator();
        }
    }

    @Override
    public Integer call() throws ModelException {
        String spec = budget.strip();
        if (!spec.equalsIgnoreCase("auto")) {
            try {
                Schedule.parse(spec);
            } catch (IllegalArgumentException e) {
                throw usage("--budget: " + e.getMessage() + " (or auto)");
            }
        }
        if (rates.length == 0 || Arrays.stream(rates).anyMatch(r -> !(r > 0) || r > 10)) {
            throw usage("--rates takes fractions of the drain rate from above 0 to 10, e.g. 0.5,1.0,1.5");
        }
        boolean camera = events == EventKind.CAMERA;
        StreamBench.Options options = new StreamBench.Options(model, events,
                atLeast("--batch", batch == null ? (camera ? 8 : 16) : batch, 1),
                spec,
                atLeast("--threads", threads == null ? Runtime.getRuntime().availableProcessors() : threads, 1),
                atLeast("--partitions", partitions, 1),
                rates,
                seconds,
                atLeast("--drain", drain == null ? (camera ? 240 : 4000) : drain, 2),
                atLeast("--latency-target", latencyTarget, 1),
                plot, photos, dataset == null ? FashionMnist.DEBIAN_DIR : dataset, baselineSeconds);
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
