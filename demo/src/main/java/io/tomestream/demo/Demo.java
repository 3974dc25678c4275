package io.tomestream.demo;

import io.tomestream.dataset.FashionMnist;
import io.tomestream.classify.Classifier;
import io.tomestream.config.Settings;
import io.tomestream.metrics.Percentile;
import io.tomestream.metrics.PipelineMetrics;
import io.tomestream.model.ModelConfig;
import io.tomestream.model.ModelException;
import io.tomestream.schema.Classification;
import io.tomestream.schema.DeadLetter;
import io.tomestream.schema.DeadLetterReason;
import io.tomestream.schema.ImageEvent;
import io.tomestream.schema.SingleObjectSerde;
import io.tomestream.topology.ClassificationTopology;
import io.tomestream.topology.InputLag;
import io.tomestream.topology.SharedEngine;
import io.tomestream.topology.SingleObjectAvroSerde;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.apache.kafka.server.common.MetadataVersion;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import java.util.zip.CRC32;

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
 * one JSON object. Everything it started is stopped before it returns.
 */
public final class Demo {
    /** Folder of the Fashion-MNIST model that the README's training run writes, relative to the project root. */
    public static final String DEFAULT_MODEL = "models/fmnist-vit-49";
    static final String FIXTURES = "tornado-kernels/src/test/resources/fixtures";
    static final String FIXTURE_MODEL = FIXTURES + "/vit-tiny-rand";
    static final int FIXTURE_IMAGES = 8;

    static final String INPUT = "image-events", OUTPUT = "classifications", DLQ = "image-events-dlq";
    static final String APPLICATION_ID = "tomestream-demo";
    /** Gives up when no result has arrived for this long. */
    private static final Duration STALL_TIMEOUT = Duration.ofSeconds(60);

    /** The single node's settings: replication factor 1 everywhere, so transactions (exactly_once_v2) work. */
    public static final Map<String, String> BROKER_CONFIG = Map.ofEntries(
            Map.entry("listeners", "EXTERNAL://127.0.0.1:0,CONTROLLER://127.0.0.1:0"),
            Map.entry("offsets.topic.replication.factor", "1"),
            Map.entry("offsets.topic.num.partitions", "1"),
            Map.entry("transaction.state.log.replication.factor", "1"),
            Map.entry("transaction.state.log.min.isr", "1"),
            Map.entry("transaction.state.log.num.partitions", "1"),
            Map.entry("share.coordinator.state.topic.replication.factor", "1"),
            Map.entry("share.coordinator.state.topic.min.isr", "1"),
            Map.entry("default.replication.factor", "1"),
            Map.entry("min.insync.replicas", "1"),
            Map.entry("auto.create.topics.enable", "false"),
            Map.entry("group.initial.rebalance.delay.ms", "0"),
            Map.entry("unstable.api.versions.enable", "false"),
            Map.entry("unstable.feature.versions.enable", "false"));

    /**
     * @param model      model folder; null picks {@link #DEFAULT_MODEL} if it exists, else the fixture model
     * @param data       {@code auto} (Fashion-MNIST for a Fashion-MNIST model, else fixtures), {@code fashion-mnist} or {@code fixtures}
     * @param datasetDir where the gzipped Fashion-MNIST IDX files are
     * @param rate       events per second to produce at; 0 = as fast as possible
     */
    public record Options(int events, int bad, String model, String data, Path datasetDir, String budget,
                          int partitions, int threads, double rate) {
        public static Options defaults() {
            return new Options(500, 5, null, "auto", FashionMnist.DEBIAN_DIR, "0", 3, 0, 0);
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

        public Options withData(String d) {
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

    /** Bad input the demo sends on purpose, and the reason the topology should give it. */
    enum BadKind {
        CORRUPT_PNG(DeadLetterReason.UNDECODABLE_IMAGE),
        NOT_AVRO(DeadLetterReason.SCHEMA_ERROR),
        HUGE_PNG(DeadLetterReason.IMAGE_TOO_LARGE),
        TRUNCATED_PNG(DeadLetterReason.UNDECODABLE_IMAGE),
        AVIF(DeadLetterReason.UNSUPPORTED_FORMAT);

        final DeadLetterReason expected;

        BadKind(DeadLetterReason expected) {
            this.expected = expected;
        }
    }

    /** A wrong value or argument: reported in one line, exit code 2. */
    public static final class DemoException extends RuntimeException {
        DemoException(String message) {
            super(message);
        }
    }

    /** What one planned event is: a good image (label -1 if unknown) or a bad one. */
    private record Planned(String id, byte[] image, int label, BadKind bad) {
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
        quietKafkaLogs();
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
        CompletableFuture<KafkaClusterTestKit> broker = CompletableFuture.supplyAsync(() -> startBroker(Map.of()));
        Path stateDir = null;
        Classifier classifier = null;
        SharedEngine shared = null;
        KafkaStreams streams = null;
        try {
            classifier = Classifier.open(modelDir, Classifier.Options.defaults()
                    .withBudget(options.budgetIsAuto() ? "0" : options.budget()).withThreads(options.threads()).withTopK(3));
            ModelConfig config = classifier.config();
            boolean fmnistModel = isFashionMnistModel(config);
            String data = switch (options.data()) {
                case "auto" -> fmnistModel ? "fashion-mnist" : "fixtures";
                case "fashion-mnist", "fixtures" -> options.data();
                default -> throw new DemoException("--data must be auto, fashion-mnist or fixtures, got '" + options.data() + "'");
            };
            List<Planned> plan = plan(data);
            classifier.warmUp(16, 1.0);
            err.printf("tomestream demo: model %s (%s, %d classes, %dx%d, in_chans %d), ToMe %s, %s; loaded and warmed up in %.1f s%n",
                    classifier.model().id(), config.architecture(), config.numClasses(), config.imgSize(), config.imgSize(),
                    config.inChans(), budgetName(classifier), classifier.backend().device(), seconds(t0));

            KafkaClusterTestKit kit = awaitBroker(broker);
            String bootstrap = bootstrapServers(kit);
            createTopics(bootstrap);
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

            Results results = stream(bootstrap, plan, streamError);
            printSummary(classifier, data, plan, results);
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

    // ------------------------------------------------------------------ model and data

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

    /** The events to send, in order: good images with bad ones spread evenly among them. */
    private List<Planned> plan(String data) throws IOException {
        List<byte[]> images = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        if (data.equals("fashion-mnist")) {
            Path dir = options.datasetDir();
            if (!FashionMnist.present(dir)) {
                throw new DemoException("Fashion-MNIST is not in " + dir + " (" + FashionMnist.TEST_IMAGES + ", " + FashionMnist.TEST_LABELS
                        + "): apt-get install dataset-fashion-mnist, or use --data fixtures");
            }
            FashionMnist set = FashionMnist.readTestSet(dir, Math.max(1, options.events()));
            for (int i = 0; i < set.size(); i++) {
                images.add(set.png(i));
                labels.add(set.label(i));
            }
            err.printf("tomestream demo: data: the first %d Fashion-MNIST test images (%dx%d, PNG), labels in attributes[\"label\"]%n",
                    set.size(), set.cols(), set.rows());
        } else {
            Path dir = home.resolve(FIXTURES).resolve("images");
            for (int i = 0; i < FIXTURE_IMAGES; i++) {
                Path p = dir.resolve("img" + i + ".png");
                if (!Files.isRegularFile(p)) throw new DemoException("fixture image " + p + " does not exist");
                images.add(Files.readAllBytes(p));
                labels.add(-1);
            }
            err.printf("tomestream demo: data: the %d fixture images, cycled; labels unknown%n", images.size());
        }
        int total = options.events() + options.bad();
        List<Planned> plan = new ArrayList<>(total);
        int good = 0, bad = 0;
        for (int i = 0; i < total; i++) {
            // Bad event j goes to position (j+1) * total / (bad+1), so they are spread over the run.
            boolean badHere = bad < options.bad() && (good == options.events()
                    || i >= (long) (bad + 1) * total / (options.bad() + 1));
            if (badHere) {
                BadKind kind = BadKind.values()[bad % BadKind.values().length];
                plan.add(new Planned(String.format(Locale.ROOT, "demo-bad-%03d-%s", bad, kind.name().toLowerCase(Locale.ROOT)),
                        badImage(kind, images.getFirst(), bad), -1, kind));
                bad++;
            } else {
                int k = good % images.size();
                plan.add(new Planned(String.format(Locale.ROOT, "demo-%05d", good), images.get(k), labels.get(k), null));
                good++;
            }
        }
        return plan;
    }

    /** The image bytes of a bad event (for NOT_AVRO, the whole record value). */
    static byte[] badImage(BadKind kind, byte[] goodPng, int seed) {
        return switch (kind) {
            case CORRUPT_PNG -> {
                byte[] b = new byte[256];
                new Random(seed).nextBytes(b);
                System.arraycopy(goodPng, 0, b, 0, 8); // the PNG signature, then noise
                yield b;
            }
            case NOT_AVRO -> "this is not an Avro ImageEvent".getBytes(StandardCharsets.UTF_8);
            case HUGE_PNG -> pngClaiming(20000, 20000);
            case TRUNCATED_PNG -> Arrays.copyOf(goodPng, goodPng.length / 2);
            case AVIF -> Arrays.copyOf("\0\0\0\u001cftypavif".getBytes(StandardCharsets.ISO_8859_1), 32);
        };
    }

    /**
     * A PNG whose header alone claims {@code width x height}; the decoder refuses it before reading a pixel.
     * The tests send the same bad input.
     */
    public static byte[] pngClaiming(int width, int height) {
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        png.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteBuffer ihdr = ByteBuffer.allocate(4 + 13).put("IHDR".getBytes(StandardCharsets.US_ASCII))
                .putInt(width).putInt(height).put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        CRC32 crc = new CRC32();
        crc.update(ihdr.array());
        png.writeBytes(ByteBuffer.allocate(4).putInt(13).array());
        png.writeBytes(ihdr.array());
        png.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
        return png.toByteArray();
    }

    // ------------------------------------------------------------------ broker

    /**
     * Starts a single-node KRaft cluster (combined broker and controller) with {@link #BROKER_CONFIG}
     * plus {@code extraConfig}; the integration tests start theirs the same way.
     */
    public static KafkaClusterTestKit startBroker(Map<String, String> extraConfig) {
        KafkaClusterTestKit kit = null;
        try {
            TestKitNodes nodes = new TestKitNodes.Builder()
                    .setCombined(true)
                    .setNumBrokerNodes(1)
                    .setNumControllerNodes(1)
                    .setBootstrapMetadataVersion(MetadataVersion.latestProduction())
                    .build();
            KafkaClusterTestKit.Builder builder = new KafkaClusterTestKit.Builder(nodes);
            BROKER_CONFIG.forEach(builder::setConfigProp);
            extraConfig.forEach(builder::setConfigProp);
            kit = builder.build();
            formatQuietly(kit);
            kit.startup();
            kit.waitForReadyBrokers();
            return kit;
        } catch (Exception e) {
            if (kit != null) {
                try {
                    kit.close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            throw new IllegalStateException("could not start the KRaft broker: " + e, e);
        }
    }

    /** The storage formatter prints two lines to System.out, which is the summary's stream. */
    private static synchronized void formatQuietly(KafkaClusterTestKit kit) throws Exception {
        PrintStream stdout = System.out;
        System.setOut(new PrintStream(OutputStream.nullOutputStream()));
        try {
            kit.format();
        } finally {
            System.setOut(stdout);
        }
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
            return; // never started; startBroker cleaned up after itself
        }
        try {
            kit.close();
        } catch (Exception e) {
            err.println("tomestream demo: stopping the broker: " + e);
        }
    }

    private static String bootstrapServers(KafkaClusterTestKit kit) {
        // The kit names its node "localhost"; the broker listens on and advertises 127.0.0.1.
        return kit.bootstrapServers().replace("localhost:", "127.0.0.1:");
    }

    private void createTopics(String bootstrap) throws InterruptedException {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            admin.createTopics(Stream.of(INPUT, OUTPUT, DLQ).map(t -> new NewTopic(t, options.partitions(), (short) 1)).toList())
                    .all().get(60, TimeUnit.SECONDS);
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("could not create the topics: " + e.getMessage(), e);
        }
    }

    // ------------------------------------------------------------------ producing and reading back

    /** What came back. */
    private record Results(int produced, int classified, int deadLettered, int duplicates, int missing,
                           Map<String, Integer> dlqByReason, int unexpectedDlq, long[] latenciesMs,
                           int labelled, int correct, double seconds, Map<String, Integer> byBudget) {
        boolean complete() {
            return missing == 0 && duplicates == 0;
        }
    }

    private Results stream(String bootstrap, List<Planned> plan, AtomicReference<Throwable> streamError) throws InterruptedException {
        Map<String, Planned> byId = new HashMap<>();
        for (Planned p : plan) byId.put(p.id(), p);
        AtomicInteger sent = new AtomicInteger();
        AtomicReference<Throwable> sendError = new AtomicReference<>();
        long start = System.nanoTime();
        Thread producer = new Thread(() -> produce(bootstrap, plan, sent, sendError, start), "tomestream-demo-producer");
        producer.start();

        Deserializer<SpecificRecord> values = new SingleObjectAvroSerde().deserializer();
        Map<String, Integer> seen = new HashMap<>();
        Map<String, Integer> byReason = new TreeMap<>();
        List<Long> latencies = new ArrayList<>();
        Map<String, Integer> byBudget = new TreeMap<>();
        int classified = 0, dead = 0, duplicates = 0, unexpectedDlq = 0, labelled = 0, correct = 0;
        long lastResult = System.nanoTime(), lastProgress = 0;
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "tomestream-demo-reader");
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : List.of(OUTPUT, DLQ)) {
                consumer.partitionsFor(topic, Duration.ofSeconds(30)).forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            while (seen.size() < plan.size()) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    lastResult = System.nanoTime();
                    SpecificRecord value = values.deserialize(r.topic(), r.value());
                    String id = r.key() == null ? null : new String(r.key(), StandardCharsets.UTF_8);
                    if (id != null && seen.merge(id, 1, Integer::sum) > 1) duplicates++;
                    Planned p = id == null ? null : byId.get(id);
                    if (value instanceof Classification c) {
                        classified++;
                        byBudget.merge(String.valueOf(c.getTomeSpec()), 1, Integer::sum);
                        latencies.add(c.getProcessingTime().toEpochMilli() - c.getEventTime().toEpochMilli());
                        if (p != null && p.label() >= 0) {
                            labelled++;
                            if (!c.getTopK().isEmpty() && c.getTopK().getFirst().getIndex() == p.label()) correct++;
                        }
                    } else if (value instanceof DeadLetter d) {
                        dead++;
                        byReason.merge(d.getReason().name(), 1, Integer::sum);
                        if (p == null || p.bad() == null || p.bad().expected != d.getReason()) unexpectedDlq++;
                    }
                }
                long now = System.nanoTime();
                if (now - lastProgress > 200_000_000L) {
                    lastProgress = now;
                    progress(sent.get(), plan.size(), classified, dead, (now - start) / 1e9);
                }
                if (sendError.get() != null || streamError.get() != null || !producer.isAlive() && sent.get() < plan.size()) break;
                if (now - lastResult > STALL_TIMEOUT.toNanos() && !producer.isAlive()) break;
            }
        } finally {
            if (producer.isAlive()) producer.interrupt();
            producer.join(30_000);
        }
        double seconds = (lastResult - start) / 1e9;
        progress(sent.get(), plan.size(), classified, dead, seconds);
        err.println();
        if (sendError.get() != null) err.println("tomestream demo: producing failed: " + sendError.get());
        if (streamError.get() != null) err.println("tomestream demo: Kafka Streams failed: " + streamError.get());
        int missing = plan.size() - (int) plan.stream().filter(p -> seen.containsKey(p.id())).count();
        long[] lat = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
        return new Results(sent.get(), classified, dead, duplicates, missing, byReason, unexpectedDlq, lat, labelled, correct, seconds, byBudget);
    }

    private void produce(String bootstrap, List<Planned> plan, AtomicInteger sent, AtomicReference<Throwable> error, long start) {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        props.put(ProducerConfig.CLIENT_ID_CONFIG, "tomestream-demo-producer");
        SingleObjectSerde<ImageEvent> events = SingleObjectSerde.imageEvents();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < plan.size(); i++) {
                if (options.rate() > 0) {
                    long due = start + (long) (i * 1e9 / options.rate());
                    long wait = due - System.nanoTime();
                    if (wait > 0) Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                }
                Planned p = plan.get(i);
                byte[] value = p.bad() == BadKind.NOT_AVRO ? p.image() : events.encode(event(p));
                producer.send(new ProducerRecord<>(INPUT, p.id().getBytes(StandardCharsets.UTF_8), value), (md, e) -> {
                    if (e != null) error.compareAndSet(null, e);
                    else sent.incrementAndGet();
                });
            }
            producer.flush();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            error.compareAndSet(null, e);
        }
    }

    private static ImageEvent event(Planned p) {
        Map<String, String> attributes = p.label() >= 0 ? Map.of("label", Integer.toString(p.label())) : Map.of();
        return ImageEvent.newBuilder()
                .setEventId(p.id())
                .setEventTime(Instant.now())
                .setSource("tomestream-demo")
                .setContentType(p.bad() == BadKind.AVIF ? "image/avif" : "image/png")
                .setImage(ByteBuffer.wrap(p.image()))
                .setAttributes(attributes)
                .build();
    }

    private void progress(int sent, int total, int classified, int dead, double seconds) {
        err.printf(Locale.ROOT, "\rtomestream demo: sent %d/%d, classified %d, dead letters %d, %.1f s, %.0f events/s   ",
                sent, total, classified, dead, seconds, seconds > 0 ? (classified + dead) / seconds : 0.0);
        err.flush();
    }

    // ------------------------------------------------------------------ summary

    private String budgetName(Classifier classifier) {
        return options.budgetIsAuto() ? Settings.AUTO : classifier.schedule().toString();
    }

    private void printSummary(Classifier classifier, String data, List<Planned> plan, Results r) {
        Long p50 = Percentile.nearestRank(r.latenciesMs(), 0.50), p99 = Percentile.nearestRank(r.latenciesMs(), 0.99);
        Double accuracy = r.labelled() > 0 ? round((double) r.correct() / r.labelled(), 4) : null;
        double rate = r.seconds() > 0 ? round((r.classified() + r.deadLettered()) / r.seconds(), 1) : 0;
        int bad = (int) plan.stream().filter(p -> p.bad() != null).count();
        out.printf(Locale.ROOT, "model         %s (%s), ToMe %s, %s%n", classifier.model().id(), classifier.config().architecture(),
                budgetName(classifier), classifier.backend().device());
        if (options.budgetIsAuto()) {
            StringBuilder used = new StringBuilder();
            r.byBudget().forEach((k, v) -> used.append(used.isEmpty() ? "" : ", ").append(k).append(' ').append(v));
            out.printf(Locale.ROOT, "budget        auto, schedules used (images): %s%n", used);
        }
        out.printf(Locale.ROOT, "data          %s: %d images + %d bad events, %d partitions, exactly_once_v2%n",
                data.equals("fashion-mnist") ? "Fashion-MNIST test set" : "fixture images", plan.size() - bad, bad, options.partitions());
        out.printf(Locale.ROOT, "produced      %d%n", r.produced());
        out.printf(Locale.ROOT, "classified    %d%s%n", r.classified(), accuracy == null ? " (labels unknown: no accuracy)"
                : String.format(Locale.ROOT, ", top-1 accuracy %.4f (%d of %d)", accuracy, r.correct(), r.labelled()));
        StringBuilder reasons = new StringBuilder();
        r.dlqByReason().forEach((k, v) -> reasons.append(reasons.isEmpty() ? "" : ", ").append(k).append(' ').append(v));
        out.printf(Locale.ROOT, "dead letters  %d%s%s%n", r.deadLettered(), reasons.isEmpty() ? "" : ": " + reasons,
                r.unexpectedDlq() > 0 ? " (" + r.unexpectedDlq() + " not among the deliberately bad events)" : "");
        out.printf(Locale.ROOT, "throughput    %.1f events/s (first send to last result, %.2f s)%n", rate, r.seconds());
        out.printf(Locale.ROOT, "latency       p50 %s ms, p99 %s ms (event time to classification processing time%s)%n",
                p50, p99, options.rate() > 0 ? "" : "; all events were sent at once, so this includes queueing");
        if (r.duplicates() > 0 || r.missing() > 0) {
            out.printf(Locale.ROOT, "INCOMPLETE    %d events without a result, %d duplicate results%n", r.missing(), r.duplicates());
        }
        try {
            out.println(JSON.writeValueAsString(new Summary(r.produced(), r.classified(), r.deadLettered(), rate, p50, p99, accuracy)));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("the summary as JSON", e);
        }
        out.flush();
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    /** The summary's last line, for scripts: accuracy and the percentiles are null when unknown. */
    record Summary(long produced, long classified, @JsonProperty("dlq") long deadLettered,
                   @JsonProperty("events_per_s") double eventsPerSecond, @JsonProperty("p50_ms") Long p50Ms,
                   @JsonProperty("p99_ms") Long p99Ms, Double accuracy) {
    }

    private static double round(double v, int places) {
        double f = Math.pow(10, places);
        return Math.round(v * f) / f;
    }

    private static double seconds(long sinceNanos) {
        return (System.nanoTime() - sinceNanos) / 1e9;
    }

    /**
     * The broker and clients log a lot at INFO and some harmless WARNs while starting up; the demo
     * shows their errors only. Applies to slf4j-simple (bin/tomestream) before its first logger, and
     * never overrides a level the user set with -D.
     */
    private static void quietKafkaLogs() {
        for (String logger : List.of("kafka", "org.apache.kafka", "state.change.logger")) {
            String key = "org.slf4j.simpleLogger.log." + logger;
            if (System.getProperty(key) == null) System.setProperty(key, "error");
        }
    }

    private static void deleteRecursively(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temp folder left behind is harmless
        }
    }
}
