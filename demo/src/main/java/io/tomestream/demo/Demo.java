package io.tomestream.demo;

import io.tomestream.classify.Classifier;
import io.tomestream.config.Settings;
import io.tomestream.dataset.FashionMnist;
import io.tomestream.demo.DemoEvents.Planned;
import io.tomestream.metrics.PipelineMetrics;
import io.tomestream.model.ModelConfig;
import io.tomestream.model.ModelException;
import io.tomestream.topology.ClassificationTopology;
import io.tomestream.topology.InputLag;
import io.tomestream.topology.SharedEngine;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

/**
 * {@code tomestream demo}: the whole pipeline on one machine with nothing installed. It starts a real
 * single-node KRaft broker in this JVM (Kafka's own {@link KafkaClusterTestKit}), creates the topics,
 * runs the Kafka Streams topology (registry-less single-object Avro, exactly_once_v2), produces image
 * events, and reads the classifications and dead letters back with a read_committed consumer.
 *
 * <p>The events are Fashion-MNIST test images (PNG-encoded, true label in {@code attributes["label"]})
 * when the model is a Fashion-MNIST model; otherwise the committed fixture images, whose labels are
 * unknown. A few deliberately bad events show the dead-letter path.
 *
 * <p>stderr gets status lines and a live progress line; stdout gets the summary, whose last line is
 * one JSON object. Everything it started is stopped before it returns. The parts: {@link EmbeddedBroker},
 * {@link DemoEvents} (what is sent), {@link Traffic} (sending and reading back), {@link DemoSummary}.
 */
public final class Demo {
    /** Folder of the Fashion-MNIST model that the README's training run writes, relative to the project root. */
    public static final String DEFAULT_MODEL = "models/fmnist-vit-49";
    static final String FIXTURE_MODEL = DemoEvents.FIXTURES + "/vit-tiny-rand";

    static final String INPUT = "image-events", OUTPUT = "classifications", DLQ = "image-events-dlq";
    static final String APPLICATION_ID = "tomestream-demo";

    /**
     * @param model      model folder; null picks {@link #DEFAULT_MODEL} if it exists, else the fixture model
     * @param data       where the good images come from
     * @param datasetDir where the gzipped Fashion-MNIST IDX files are
     * @param rate       events per second to produce at; 0 = as fast as possible
     */
    public record Options(int events, int bad, String model, DemoEvents.Data data, Path datasetDir, String budget,
                          int partitions, int threads, double rate) {
        public static Options defaults() {
            return new Options(500, 5, null, DemoEvents.Data.AUTO, FashionMnist.DEBIAN_DIR, "0", 3, 0, 0);
        }

        /** {@code --budget auto}: the load-adaptive budget. */
        boolean budgetIsAuto() {
            return budget.strip().equalsIgnoreCase(Settings.AUTO);
        }

        public Options withEvents(int n) {
            return new Options(n, bad, model, data, datasetDir, budget, partitions, threads, rate);
        }

        public Options withBad(int n) {
            return new Options(events, n, model, data, datasetDir, budget, partitions, threads, rate);
        }

        public Options withModel(String m) {
            return new Options(events, bad, m, data, datasetDir, budget, partitions, threads, rate);
        }

        public Options withData(DemoEvents.Data d) {
            return new Options(events, bad, model, d, datasetDir, budget, partitions, threads, rate);
        }

        public Options withDatasetDir(Path d) {
            return new Options(events, bad, model, data, d, budget, partitions, threads, rate);
        }

        public Options withBudget(String t) {
            return new Options(events, bad, model, data, datasetDir, t, partitions, threads, rate);
        }

        public Options withPartitions(int p) {
            return new Options(events, bad, model, data, datasetDir, budget, p, threads, rate);
        }

        public Options withThreads(int t) {
            return new Options(events, bad, model, data, datasetDir, budget, partitions, t, rate);
        }

        public Options withRate(double r) {
            return new Options(events, bad, model, data, datasetDir, budget, partitions, threads, r);
        }
    }

    /** A wrong value or argument: reported in one line, exit code 2. */
    public static final class DemoException extends RuntimeException {
        DemoException(String message) {
            super(message);
        }
    }

    private final Options options;
    private final PrintStream out, err;
    private final Path home;

    private Demo(Options options, PrintStream out, PrintStream err) {
        this.options = options;
        this.out = out;
        this.err = err;
        this.home = home();
    }

    /** Runs the demo; 0 when every event got exactly one result, 1 otherwise. */
    public static int run(Options options, PrintStream out, PrintStream err) throws ModelException {
        if (options.events() < 0 || options.bad() < 0 || options.events() + options.bad() == 0) {
            throw new DemoException("--events and --bad must not be negative, and not both 0");
        }
        if (options.partitions() < 1) throw new DemoException("--partitions must be at least 1");
        EmbeddedBroker.quietLogs();
        return new Demo(options, out, err).run();
    }

    /**
     * The project root: {@code -Dtomestream.home} (bin/tomestream sets it), else the nearest folder at or
     * above the working directory that holds the fixtures, else the working directory.
     */
    static Path home() {
        String prop = System.getProperty("tomestream.home");
        if (prop != null && !prop.isBlank()) return Path.of(prop);
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve(FIXTURE_MODEL))) return p;
        }
        return Path.of("").toAbsolutePath();
    }

    private int run() throws ModelException {
        long t0 = System.nanoTime();
        String modelDir = chooseModel();
        // The broker is the slowest part of the start; it boots while the model loads and warms up.
        CompletableFuture<KafkaClusterTestKit> broker = CompletableFuture.supplyAsync(() -> EmbeddedBroker.start(Map.of()));
        Path stateDir = null;
        Classifier classifier = null;
        SharedEngine shared = null;
        KafkaStreams streams = null;
        try {
            classifier = Classifier.open(modelDir, Classifier.Options.defaults()
                    .withBudget(options.budgetIsAuto() ? "0" : options.budget()).withThreads(options.threads()).withTopK(3));
            ModelConfig config = classifier.config();
            DemoEvents.Data data = options.data();
            if (data == DemoEvents.Data.AUTO) data = isFashionMnistModel(config) ? DemoEvents.Data.FASHION_MNIST : DemoEvents.Data.FIXTURES;
            List<Planned> plan = DemoEvents.plan(data, options.events(), options.bad(), options.datasetDir(), home, err);
            classifier.warmUp(16, 1.0);
            String budget = options.budgetIsAuto() ? Settings.AUTO : classifier.schedule().toString();
            err.printf("tomestream demo: model %s (%s, %d classes, %dx%d, in_chans %d), ToMe %s, %s; loaded and warmed up in %.1f s%n",
                    classifier.model().id(), config.architecture(), config.numClasses(), config.imgSize(), config.imgSize(),
                    config.inChans(), budget, classifier.backend().device(), seconds(t0));

            String bootstrap = EmbeddedBroker.bootstrapServers(awaitBroker(broker));
            EmbeddedBroker.createTopics(bootstrap, options.partitions(), INPUT, OUTPUT, DLQ);
            err.printf("tomestream demo: KRaft broker at %s, topics %s, %s and %s with %d partitions (%.1f s)%n",
                    bootstrap, INPUT, OUTPUT, DLQ, options.partitions(), seconds(t0));

            stateDir = Files.createTempDirectory("tomestream-demo-state");
            Settings settings = Settings.of(Map.ofEntries(
                    Map.entry(Settings.MODEL_DIR, modelDir),
                    Map.entry(Settings.MODEL_VERSION, "demo"),
                    Map.entry(Settings.BUDGET, options.budget()),
                    Map.entry(Settings.METRICS_PORT, "0"),
                    Map.entry(Settings.TOPIC_INPUT, INPUT),
                    Map.entry(Settings.TOPIC_OUTPUT, OUTPUT),
                    Map.entry(Settings.TOPIC_DLQ, DLQ),
                    Map.entry(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap),
                    Map.entry(StreamsConfig.APPLICATION_ID_CONFIG, APPLICATION_ID),
                    Map.entry(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2),
                    Map.entry(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString())));
            InputLag lag = new InputLag(INPUT);
            shared = SharedEngine.start(settings, classifier, PipelineMetrics.discarding(), lag);
            streams = ClassificationTopology.streams(settings, shared.engine(), PipelineMetrics.discarding());
            lag.attach(streams);
            CountDownLatch running = new CountDownLatch(1);
            AtomicReference<Throwable> streamError = new AtomicReference<>();
            streams.setStateListener((now, before) -> {
                if (now == KafkaStreams.State.RUNNING) running.countDown();
            });
            streams.setUncaughtExceptionHandler(e -> {
                streamError.compareAndSet(null, e);
                return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
            });
            streams.start();
            if (!running.await(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("Kafka Streams did not reach RUNNING within 60 s (state " + streams.state() + ")");
            }
            err.printf("tomestream demo: Kafka Streams %s running (exactly_once_v2, batches of %d or %d ms) after %.1f s; sending %d events%s%n",
                    APPLICATION_ID, settings.batchSize(), settings.batchMaxWaitMs(), seconds(t0), plan.size(),
                    options.rate() > 0 ? String.format(Locale.ROOT, " at %.0f/s", options.rate()) : " at once");

            Traffic.Results results = new Traffic(bootstrap, INPUT, OUTPUT, DLQ, options.rate(), err).run(plan, streamError);
            DemoSummary.print(out, String.format(Locale.ROOT, "%s (%s), ToMe %s, %s", classifier.model().id(), config.architecture(),
                            budget, classifier.backend().device()), options.budgetIsAuto(),
                    data == DemoEvents.Data.FASHION_MNIST ? "Fashion-MNIST test set" : "fixture images", options.partitions(), options.rate(),
                    plan, results);
            return results.complete() ? 0 : 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (IOException e) {
            throw new DemoException(e.getMessage());
        } finally {
            if (streams != null) {
                if (!streams.close(Duration.ofSeconds(30))) err.println("tomestream demo: Kafka Streams did not stop within 30 s");
            }
            if (shared != null) shared.close();
            if (classifier != null) classifier.close();
            stopBroker(broker);
            if (stateDir != null) deleteRecursively(stateDir);
        }
    }

    private String chooseModel() {
        if (options.model() != null) return options.model();
        Path trained = home.resolve(DEFAULT_MODEL);
        if (Files.isRegularFile(trained.resolve("config.json"))) return trained.toString();
        Path fixture = home.resolve(FIXTURE_MODEL);
        if (!Files.isRegularFile(fixture.resolve("config.json"))) {
            throw new DemoException("no model: " + trained + " and " + fixture + " do not exist; pass --model DIR");
        }
        err.println("tomestream demo: " + DEFAULT_MODEL + " not found; using the committed random-init fixture model "
                + "(vit-tiny-rand) and the fixture images instead, whose labels are unknown, so accuracy is null");
        return fixture.toString();
    }

    static boolean isFashionMnistModel(ModelConfig c) {
        return c.labelNames().equals(FashionMnist.LABEL_NAMES) || (c.numClasses() == 10 && c.inChans() == 1 && c.imgSize() == 28);
    }

    private static KafkaClusterTestKit awaitBroker(CompletableFuture<KafkaClusterTestKit> broker) throws InterruptedException {
        try {
            return broker.get(120, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("the KRaft broker did not start within 120 s");
        }
    }

    private void stopBroker(CompletableFuture<KafkaClusterTestKit> broker) {
        KafkaClusterTestKit kit;
        try {
            kit = broker.get(120, TimeUnit.SECONDS);
        } catch (Exception e) {
            return; // never started; EmbeddedBroker.start cleaned up after itself
        }
        try {
            kit.close();
        } catch (Exception e) {
            err.println("tomestream demo: stopping the broker: " + e);
        }
    }

    private static double seconds(long sinceNanos) {
        return (System.nanoTime() - sinceNanos) / 1e9;
    }

    private static void deleteRecursively(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temp folder left behind is harmless
        }
    }
}
