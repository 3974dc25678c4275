package io.tomestream.streambench;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.tomestream.classify.Classifier;
import io.tomestream.config.Settings;
import io.tomestream.image.ImageDecoder;
import io.tomestream.image.ImageException;
import io.tomestream.image.Preprocessor;
import io.tomestream.model.ModelException;
import io.tomestream.schema.ImageEvent;
import io.tomestream.schema.SingleObjectSerde;
import io.tomestream.serving.Rung;
import io.tomestream.topology.SingleObjectAvroSerde;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code tomestream bench-stream}: the whole path measured as a user meets it. In one run, on the same
 * images, batch and budget:
 * <ol>
 *   <li>the engine's forward pass alone, and {@code Classifier.classify} on the encoded images (in this JVM,
 *       before anything else starts);</li>
 *   <li>a Kafka broker in its own process ({@code deploy/local/kafka-broker}) and the app as
 *       {@code bin/tomestream run} in another, so the app's CPU is read apart from the broker's;</li>
 *   <li>the drain rate of a pre-filled topic (closed loop), then fixed offered rates (open loop), as
 *       fractions of that drain rate, with p50 and p99 from event time to a read_committed consumer.</li>
 * </ol>
 * With {@code --budget auto}, the drain rate is the r=0 app's, the r=0 app is also driven at the top rate
 * (its backlog grows without bound), and then an app with the load-adaptive budget is driven at every rate.
 */
public final class StreamBench {
    static final String INPUT = "bench-images", OUTPUT = "bench-classifications", DLQ = "bench-dead-letters";
    private static final String ENGINE_BUSY = "tomestream_engine_busy_seconds_total";

    public record Options(String model, EventKind events, int batch, String budget, int threads, int partitions, double[] rates,
                          double secondsPerRate, int drainEvents, long latencyTargetMs, Path plot, Path photos, Path datasetDir,
                          double baselineSeconds) {
        public boolean auto() {
            return budget.equalsIgnoreCase(Settings.AUTO);
        }
    }

    /** One open-loop step's outcome. */
    record Step(String budget, double fraction, double offered, double achieved, long p50, long p99, double budgetMean,
                Double accuracy, int events, int missing) {
    }

    private final Options o;
    private final PrintStream out, err;
    private final Path home;
    private final Path work;
    /** The event log is rewritten by each run, then appended to by each step. */
    private boolean eventLogFresh = true;

    private StreamBench(Options o, PrintStream out, PrintStream err, Path home, Path work) {
        this.o = o;
        this.out = out;
        this.err = err;
        this.home = home;
        this.work = work;
    }

    public static int run(Options o, PrintStream out, PrintStream err) throws IOException, ModelException, InterruptedException {
        Path home = Path.of(System.getProperty("tomestream.home", "")).toAbsolutePath();
        if (!Files.isExecutable(home.resolve("bin/tomestream")) || !Files.isExecutable(home.resolve("deploy/local/kafka-broker"))) {
            throw new IOException("bench-stream runs bin/tomestream and deploy/local/kafka-broker from the project folder; "
                    + home + " has neither (run it through bin/tomestream)");
        }
        Path work = Files.createTempDirectory("tomestream-bench-stream");
        boolean done = false;
        try {
            int rc = new StreamBench(o, out, err, home, work).run();
            done = true;
            return rc;
        } finally {
            if (done) deleteRecursively(work);
            else err.println("bench-stream: the broker's and the app's logs are kept in " + work);
        }
    }

    private int run() throws IOException, ModelException, InterruptedException {
        BenchEvents events = o.events() == EventKind.CAMERA ? BenchEvents.camera(o.photos())
                : BenchEvents.fashionMnist(o.datasetDir(), Math.max(o.drainEvents(), 2000));
        err.printf("bench-stream: %d distinct images: %s%n", events.size(), events.name());
        String fixedBudget = o.auto() ? "0" : o.budget();

        // 1. The engine alone, with nothing else running.
        double[] baseline = baselines(events, fixedBudget);
        double engineImgS = baseline[0], classifyImgS = baseline[1], engineCpuMs = baseline[2];
        int depth = (int) baseline[3];
        err.printf(Locale.ROOT, "bench-stream: engine %.1f img/s (forward only), classify %.1f img/s (%.2fx), engine CPU %.1f ms/image%n",
                engineImgS, classifyImgS, classifyImgS / engineImgS, engineCpuMs);

        // 2. The broker, in its own process.
        int port = freePort(), controllerPort = freePort();
        String bootstrap = "127.0.0.1:" + port;
        List<Step> steps = new ArrayList<>();
        List<Step> fixedAtTop = new ArrayList<>();
        double drain;
        double appCpuMsPerEvent, brokerCpuMsPerEvent, benchCpuMsPerEvent, engineBusy;
        try (ChildProcess broker = ChildProcess.start("the broker", List.of(home.resolve("deploy/local/kafka-broker").toString(),
                work.resolve("kafka").toString(), Integer.toString(port), Integer.toString(controllerPort)), Map.of(), work.resolve("broker.log"))) {
            broker.awaitPort(port, Duration.ofMinutes(5));
            createTopics(bootstrap);
            err.printf("bench-stream: broker at %s (its own process)%n", bootstrap);
            try (Tracker tracker = new Tracker(bootstrap, List.of(OUTPUT, DLQ), new SingleObjectAvroSerde().deserializer());
                 KafkaProducer<byte[], byte[]> producer = producer(bootstrap)) {
                Sender sender = new Sender(producer, tracker, events);

                // 3. Closed loop: a pre-filled topic, drained by an app with the fixed budget (r=0 for auto).
                sender.prefill("drain", o.drainEvents());
                double[] drained;
                try (ChildProcess app = startApp(bootstrap, fixedBudget, "app-" + fixedBudget.replace(':', '_'))) {
                    drained = drain(app, broker, tracker, o.drainEvents());
                    drain = drained[0];
                    appCpuMsPerEvent = drained[1];
                    brokerCpuMsPerEvent = drained[2];
                    benchCpuMsPerEvent = drained[3];
                    engineBusy = drained[4];
                    err.printf(Locale.ROOT, "bench-stream: drained %d events at %.1f events/s (%.2fx classify); CPU per event: app %.1f ms, "
                                    + "broker %.1f ms, this load generator %.1f ms; the engine was busy %.0f%% of the time%n",
                            o.drainEvents(), drain, drain / classifyImgS, appCpuMsPerEvent, brokerCpuMsPerEvent, benchCpuMsPerEvent, engineBusy * 100);
                    // 4. Open loop at fixed rates.
                    double[] fractions = o.auto() ? new double[] {Arrays.stream(o.rates()).max().orElse(1.5)} : o.rates();
                    for (double f : fractions) {
                        Step s = openLoop(sender, tracker, fixedBudget, f, drain, depth, app);
                        (o.auto() ? fixedAtTop : steps).add(s);
                    }
                }
                if (o.auto()) {
                    try (ChildProcess app = startApp(bootstrap, Settings.AUTO, "app-auto")) {
                        awaitReady(app, tracker, sender);
                        for (double f : o.rates()) steps.add(openLoop(sender, tracker, Settings.AUTO, f, drain, depth, app));
                    }
                }
                if (tracker.duplicates() > 0) err.printf("bench-stream: %d duplicate results%n", tracker.duplicates());
            }
        }
        report(events, engineImgS, classifyImgS, drain, new double[] {appCpuMsPerEvent, brokerCpuMsPerEvent, benchCpuMsPerEvent, engineBusy},
                engineCpuMs, steps, fixedAtTop);
        return 0;
    }

    // ------------------------------------------------------------------ the engine alone

    /** {forward-only img/s, classify img/s, process CPU ms per image of the forward pass, depth}. */
    private double[] baselines(BenchEvents events, String budget) throws ModelException, IOException {
        Classifier.Options options = Classifier.Options.defaults().withBudget(budget).withThreads(o.threads());
        try (Classifier c = Classifier.open(o.model(), options)) {
            c.warmUp(o.batch(), 2);
            int batch = o.batch(), len = c.imageLength();
            Preprocessor pre = new Preprocessor(c.config().input());
            int distinct = Math.min(events.size(), 4 * batch);
            float[] tensors = new float[distinct * len];
            for (int i = 0; i < distinct; i++) {
                try {
                    pre.toTensor(events.images().get(i), tensors, i * len);
                } catch (ImageException e) {
                    throw new IOException("bench image " + i + " does not decode: " + e.getMessage());
                }
            }
            com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
            // Interleaved rounds, so a machine that gets busier slows both alike.
            long forwardNanos = 0, classifyNanos = 0, forwardCpu = 0;
            int forwardImages = 0, classifyImages = 0, round = 0;
            long end = System.nanoTime() + (long) (o.baselineSeconds() * 2e9);
            float[] pixels = new float[batch * len];
            while (System.nanoTime() < end || round < 2) {
                for (int k = 0; k < 3; k++, round++) {
                    int from = (round * batch) % distinct;
                    for (int b = 0; b < batch; b++) System.arraycopy(tensors, ((from + b) % distinct) * len, pixels, b * len, len);
                    long cpu0 = os.getProcessCpuTime(), t0 = System.nanoTime();
                    c.classifyPixels(pixels, batch);
                    forwardNanos += System.nanoTime() - t0;
                    forwardCpu += os.getProcessCpuTime() - cpu0;
                    forwardImages += batch;
                }
                for (int k = 0; k < 3; k++, round++) {
                    List<byte[]> images = new ArrayList<>(batch);
                    for (int b = 0; b < batch; b++) images.add(events.images().get((round * batch + b) % events.size()));
                    long t0 = System.nanoTime();
                    c.classify(images);
                    classifyNanos += System.nanoTime() - t0;
                    classifyImages += batch;
                }
            }
            return new double[] {forwardImages / (forwardNanos / 1e9), classifyImages / (classifyNanos / 1e9),
                    forwardCpu / 1e6 / forwardImages, c.config().depth()};
        }
    }

    // ------------------------------------------------------------------ the app

    private ChildProcess startApp(String bootstrap, String budget, String name) throws IOException, InterruptedException {
        int metricsPort = freePort();
        Properties p = new Properties();
        p.setProperty(Settings.MODEL_DIR, o.model());
        p.setProperty(Settings.BUDGET, budget);
        p.setProperty(Settings.BATCH_SIZE, Integer.toString(o.batch()));
        p.setProperty(Settings.THREADS, Integer.toString(o.threads()));
        p.setProperty(Settings.LATENCY_TARGET_MS, Long.toString(o.latencyTargetMs()));
        p.setProperty(Settings.TOPIC_INPUT, INPUT);
        p.setProperty(Settings.TOPIC_OUTPUT, OUTPUT);
        p.setProperty(Settings.TOPIC_DLQ, DLQ);
        p.setProperty(Settings.METRICS_PORT, Integer.toString(metricsPort));
        p.setProperty("bootstrap.servers", bootstrap);
        p.setProperty("application.id", "tomestream-bench-stream");
        p.setProperty("state.dir", work.resolve("state-" + name).toString());
        Path config = work.resolve(name + ".properties");
        try (var w = Files.newBufferedWriter(config)) {
            p.store(w, "bench-stream");
        }
        Map<String, String> env = new HashMap<>();
        env.put("TOMESTREAM_SKIP_BUILD", "1");
        ChildProcess app = ChildProcess.start(name, List.of(home.resolve("bin/tomestream").toString(), "run", "--config", config.toString()),
                env, work.resolve(name + ".log"));
        app.withMetricsPort(metricsPort).awaitPort(metricsPort, Duration.ofMinutes(3));
        err.printf("bench-stream: app (budget %s) started as bin/tomestream run, its own process%n", budget);
        return app;
    }

    /**
     * {events/s from the first result to the last, and over the same span the CPU ms per event of the app,
     * the broker and this process (the load generator and result reader)}: all three share this machine's cores.
     */
    private double[] drain(ChildProcess app, ChildProcess broker, Tracker tracker, int n) throws IOException, InterruptedException {
        com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long stallDeadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
        int last = 0;
        long firstAt = 0;
        double appFirst = 0, brokerFirst = 0, selfFirst = 0, busyFirst = Double.NaN;
        while (tracker.done() < n) {
            check(app, tracker);
            int now = tracker.done();
            if (firstAt == 0 && now > 0) {
                firstAt = System.nanoTime();
                appFirst = app.cpuMillis();
                brokerFirst = broker.cpuMillis();
                selfFirst = os.getProcessCpuTime() / 1e6;
                busyFirst = app.metric(ENGINE_BUSY);
            }
            if (now != last) {
                last = now;
                stallDeadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
            }
            if (System.nanoTime() > stallDeadline) throw new IOException("the drain stalled at " + now + " of " + n + " results; see " + app.log());
            Thread.sleep(20);
        }
        long endAt = System.nanoTime();
        double busy = (app.metric(ENGINE_BUSY) - busyFirst) / ((System.nanoTime() - firstAt) / 1e9);
        int counted = n - 1; // the first result opens the interval
        return new double[] {counted / ((endAt - firstAt) / 1e9), (app.cpuMillis() - appFirst) / counted,
                (broker.cpuMillis() - brokerFirst) / counted, (os.getProcessCpuTime() / 1e6 - selfFirst) / counted, busy};
    }

    /** A freshly started app's first results, so that open-loop steps do not time its start-up. */
    private void awaitReady(ChildProcess app, Tracker tracker, Sender sender) throws IOException, InterruptedException {
        int before = tracker.done();
        sender.prefill("warm", o.batch() * 2);
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (tracker.done() < before + o.batch() * 2) {
            check(app, tracker);
            if (System.nanoTime() > deadline) throw new IOException("the app gave no results within 3 minutes; see " + app.log());
            Thread.sleep(20);
        }
    }

    private Step openLoop(Sender sender, Tracker tracker, String budget, double fraction, double drain, int depth, ChildProcess app)
            throws IOException, InterruptedException {
        String step = budget + "@" + fraction;
        double rate = fraction * drain;
        int count = Math.max(2, (int) Math.round(rate * o.secondsPerRate()));
        err.printf(Locale.ROOT, "bench-stream: budget %s, %.0f%% of the drain rate: %d events at %.1f/s%n", budget, fraction * 100, count, rate);
        long t0 = System.currentTimeMillis();
        double sentSeconds = sender.paced(step, count, rate);
        long stallDeadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        int last = -1;
        while (tracker.count(step) < count) {
            check(app, tracker);
            int now = tracker.count(step);
            if (now != last) {
                last = now;
                stallDeadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
            }
            if (System.nanoTime() > stallDeadline) break;
            Thread.sleep(20);
        }
        List<Tracker.Done> done = tracker.results(step);
        eventLog(step, t0, done);
        long[] latencies = done.stream().mapToLong(Tracker.Done::latencyMs).sorted().toArray();
        long lastAt = done.stream().mapToLong(Tracker.Done::receivedMs).max().orElse(t0);
        double meanR = done.stream().filter(d -> d.budget() != null).mapToDouble(d -> Rung.of(d.budget(), depth).meanR()).average().orElse(0);
        long labelled = done.stream().filter(d -> d.sent().label() >= 0 && d.budget() != null).count();
        long correct = done.stream().filter(d -> d.sent().label() >= 0 && d.top1() == d.sent().label()).count();
        Step s = new Step(budget, fraction, count / sentSeconds, done.size() / ((lastAt - t0) / 1e3),
                percentile(latencies, 0.50), percentile(latencies, 0.99), meanR, labelled > 0 ? (double) correct / labelled : null,
                count, count - done.size());
        err.printf(Locale.ROOT, "bench-stream:   achieved %.1f/s, p50 %d ms, p99 %d ms, mean r %.2f%s%n", s.achieved(), s.p50(), s.p99(),
                s.budgetMean(), s.missing() > 0 ? ", " + s.missing() + " results missing" : "");
        return s;
    }

    /** Every event of every step, next to the plot: when it was sent, its latency and its schedule. */
    private void eventLog(String step, long t0, List<Tracker.Done> done) throws IOException {
        Path csv = o.plot().resolveSibling(o.plot().getFileName().toString().replaceFirst("\\.png$", "") + "-events.csv");
        if (csv.toAbsolutePath().getParent() != null) Files.createDirectories(csv.toAbsolutePath().getParent());
        StringBuilder sb = new StringBuilder();
        if (!Files.exists(csv) || eventLogFresh) sb.append("step,sent_ms,latency_ms,budget\n");
        List<Tracker.Done> sorted = new ArrayList<>(done);
        sorted.sort(java.util.Comparator.comparingLong(d -> d.sent().eventTimeMs()));
        for (Tracker.Done d : sorted) {
            sb.append(step).append(',').append(d.sent().eventTimeMs() - t0).append(',').append(d.latencyMs()).append(',')
                    .append(d.budget() == null ? "" : d.budget()).append('\n');
        }
        if (eventLogFresh) {
            Files.writeString(csv, sb);
            eventLogFresh = false;
        } else {
            Files.writeString(csv, sb, java.nio.file.StandardOpenOption.APPEND);
        }
    }

    private static void check(ChildProcess app, Tracker tracker) throws IOException {
        if (!app.alive()) throw new IOException("the app exited; see " + app.log());
        if (tracker.failure() != null) throw new IOException("reading the results failed: " + tracker.failure());
    }

    // ------------------------------------------------------------------ report

    /** @param cpu ms per event while draining: {app, broker, this process}, then the engine's busy share */
    private void report(BenchEvents events, double engine, double classify, double drain, double[] cpu, double engineCpu,
                        List<Step> steps, List<Step> fixedAtTop) throws IOException {
        double appCpu = cpu[0];
        String modelName = o.model();
        out.printf(Locale.ROOT, "## bench-stream: %s, %s, batch %d, budget %s, %d threads, %d partitions%n%n", modelName,
                o.events().description(), o.batch(), o.budget(), o.threads(), o.partitions());
        out.printf(Locale.ROOT, "events: %s; JPEG decoder %s%n%n", events.name(), ImageDecoder.jpegDecoder());
        out.println("| path | img/s or events/s | ratio |");
        out.println("|---|---:|---:|");
        out.printf(Locale.ROOT, "| engine, forward pass only (budget %s) | %.1f | 1.00 |%n", o.auto() ? "0" : o.budget(), engine);
        out.printf(Locale.ROOT, "| `Classifier.classify` on the encoded images | %.1f | %.2f of engine |%n", classify, classify / engine);
        out.printf(Locale.ROOT, "| stream, draining a pre-filled topic | %.1f | %.2f of classify, %.2f of engine |%n", drain, drain / classify, drain / engine);
        out.printf(Locale.ROOT, "%nCPU per event while draining, from /proc: the app %.1f ms, the broker %.1f ms, the load generator and "
                + "result reader %.1f ms, all on the same %d cores; the engine's forward pass alone %.1f ms per image. The app's engine "
                + "was busy %.0f%% of the drain (tomestream_engine_busy_seconds_total).%n%n",
                appCpu, cpu[1], cpu[2], Runtime.getRuntime().availableProcessors(), engineCpu, cpu[3] * 100);
        boolean labelled = events.labels().length > 0 && events.labels()[0] >= 0;
        out.println("| budget | offered (% of drain) | offered events/s | achieved events/s | p50 ms | p99 ms | mean r per block |"
                + (labelled ? " top-1 |" : ""));
        out.println("|---|---:|---:|---:|---:|---:|---:|" + (labelled ? "---:|" : ""));
        List<Step> all = new ArrayList<>(fixedAtTop);
        all.addAll(steps);
        for (Step s : all) {
            out.printf(Locale.ROOT, "| %s | %.0f%% | %.1f | %.1f | %d | %d | %.2f |%s%n", s.budget(), s.fraction() * 100, s.offered(), s.achieved(),
                    s.p50(), s.p99(), s.budgetMean(), labelled ? String.format(Locale.ROOT, " %.4f |", s.accuracy() == null ? Double.NaN : s.accuracy()) : "");
        }
        if (all.stream().anyMatch(s -> s.missing() > 0)) {
            out.println("\nA step's results still missing after 2 minutes without progress are left out of its percentiles.");
        }
        List<LatencyPlot.Series> series = new ArrayList<>();
        for (String budget : all.stream().map(Step::budget).distinct().toList()) {
            series.add(new LatencyPlot.Series(budget, all.stream().filter(s -> s.budget().equals(budget))
                    .map(s -> new double[] {s.offered(), s.p50(), s.p99()}).toList()));
        }
        LatencyPlot.write(series, String.format(Locale.ROOT, "%s, %s, batch %d", modelName,
                o.events() == EventKind.CAMERA ? "camera JPEGs" : "Fashion-MNIST", o.batch()), o.auto() ? o.latencyTargetMs() : 0, o.plot());
        out.printf("%nplot: %s (every event: %s)%n%n", o.plot(),
                o.plot().resolveSibling(o.plot().getFileName().toString().replaceFirst("\\.png$", "") + "-events.csv"));

        Summary summary = new Summary(modelName, o.events(), o.batch(), o.budget(), o.auto() ? (Long) o.latencyTargetMs() : null,
                round(engine, 1), round(classify, 1), round(drain, 1), round(appCpu, 2), round(engineCpu, 2), round(cpu[1], 2),
                round(cpu[2], 2), round(cpu[3], 3), steps.stream().map(Rate::of).toList(),
                o.auto() ? fixedAtTop.stream().map(Rate::of).toList() : null);
        out.println(json(summary));
    }

    /** The run's last line, for scripts; its keys are the fields' names in snake case, latency_target_ms null unless the budget is auto. */
    record Summary(String model, EventKind events, int batch, String budget, Long latencyTargetMs, double engineImgS,
                   double classifyImgS, double streamEventsS, double appCpuMsPerEvent, double engineCpuMsPerImage,
                   double brokerCpuMsPerEvent, double loadGeneratorCpuMsPerEvent, double engineBusyShare, List<Rate> rates,
                   @JsonInclude(JsonInclude.Include.NON_NULL) List<Rate> fixedR0Rates) {
    }

    /** One offered rate: {@code accuracy} only for labelled events, {@code missing} only when results went missing. */
    record Rate(double offered, double achieved, long p50Ms, long p99Ms, double budgetMean, double fractionOfDrain,
                @JsonInclude(JsonInclude.Include.NON_NULL) Double accuracy, @JsonInclude(JsonInclude.Include.NON_NULL) Integer missing) {
        static Rate of(Step s) {
            return new Rate(round(s.offered(), 1), round(s.achieved(), 1), s.p50(), s.p99(), round(s.budgetMean(), 3), s.fraction(),
                    s.accuracy() == null ? null : round(s.accuracy(), 4), s.missing() > 0 ? s.missing() : null);
        }
    }

    private static final ObjectMapper JSON = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .build();

    static String json(Summary summary) throws com.fasterxml.jackson.core.JsonProcessingException {
        return JSON.writeValueAsString(summary);
    }

    // ------------------------------------------------------------------ Kafka

    private void createTopics(String bootstrap) throws IOException {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            admin.createTopics(List.of(new NewTopic(INPUT, o.partitions(), (short) 1), new NewTopic(OUTPUT, o.partitions(), (short) 1),
                    new NewTopic(DLQ, 1, (short) 1))).all().get(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IOException("could not create the topics: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    private static KafkaProducer<byte[], byte[]> producer(String bootstrap) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "1");
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(16 << 20));
        p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, Long.toString(256L << 20));
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "bench-stream-producer");
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /** Sends events, each with its event time set at the moment it is sent. */
    private final class Sender {
        private final KafkaProducer<byte[], byte[]> producer;
        private final Tracker tracker;
        private final BenchEvents events;
        private final SingleObjectSerde<ImageEvent> serde = SingleObjectSerde.imageEvents();
        private final AtomicReference<Exception> error = new AtomicReference<>();
        private int next;

        Sender(KafkaProducer<byte[], byte[]> producer, Tracker tracker, BenchEvents events) {
            this.producer = producer;
            this.tracker = tracker;
            this.events = events;
        }

        void prefill(String step, int n) throws IOException {
            for (int i = 0; i < n; i++) send(step);
            producer.flush();
            if (error.get() != null) throw new IOException("producing failed: " + error.get());
        }

        /** @return the seconds the sending took */
        double paced(String step, int n, double rate) throws IOException, InterruptedException {
            long start = System.nanoTime();
            for (int i = 0; i < n; i++) {
                long wait = start + (long) (i * 1e9 / rate) - System.nanoTime();
                if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
                send(step);
            }
            producer.flush();
            if (error.get() != null) throw new IOException("producing failed: " + error.get());
            // n events sent at the rate span (n - 1) intervals; the last one's own interval is counted too
            return Math.max(1e-3, (System.nanoTime() - start) / 1e9 + 1 / rate);
        }

        private void send(String step) {
            int k = next++ % events.size();
            String id = "bench-" + step + "-" + next;
            long now = System.currentTimeMillis();
            tracker.sent(id, new Tracker.Sent(step, now, events.labels()[k]));
            ImageEvent e = ImageEvent.newBuilder().setEventId(id).setEventTime(Instant.ofEpochMilli(now)).setSource("bench-stream")
                    .setContentType(events.contentType()).setImage(ByteBuffer.wrap(events.images().get(k)))
                    .setAttributes(events.labels()[k] >= 0 ? Map.of("label", Integer.toString(events.labels()[k])) : Map.of()).build();
            producer.send(new ProducerRecord<>(INPUT, id.getBytes(StandardCharsets.UTF_8), serde.encode(e)), (md, ex) -> {
                if (ex != null) error.compareAndSet(null, ex);
            });
        }
    }

    // ------------------------------------------------------------------ small things

    /** The nearest-rank percentile; -1 when a step got no results. */
    private static long percentile(long[] sorted, double q) {
        Long p = io.tomestream.metrics.Percentile.nearestRank(sorted, q);
        return p == null ? -1 : p;
    }

    private static double round(double v, int digits) {
        double f = Math.pow(10, digits);
        return Math.round(v * f) / f;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static void deleteRecursively(Path dir) {
        try (var paths = Files.walk(dir)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temp folder left behind
        }
    }
}
