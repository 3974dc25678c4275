package io.tomestream.topology;

import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tomestream.classify.Classifier;
import io.tomestream.image.ImageDecoder;
import io.tomestream.config.ConfigException;
import io.tomestream.config.Settings;
import io.tomestream.metrics.MetricsServer;
import io.tomestream.metrics.PipelineMetrics;
import io.tomestream.model.ModelException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code tomestream run}: loads and warms up the model, starts the metrics server and the Kafka
 * Streams application, and runs until SIGTERM (or a fatal stream error, exit code 1).
 */
public final class StreamingApp {
    private static final Logger log = LoggerFactory.getLogger(StreamingApp.class);

    private final Settings settings;
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final CountDownLatch stopped = new CountDownLatch(1);
    /** Set when the cluster refused the app (credentials, certificate, ACLs): run() ends with its one line. */
    private volatile KafkaRefusal refused;
    private volatile PipelineMetrics pipelineMetrics;
    private final AtomicBoolean shutDown = new AtomicBoolean();
    private volatile MetricsServer server;
    private volatile Classifier classifier;
    private volatile KafkaStreams streams;
    private volatile KafkaStreamsMetrics kafkaMetrics;
    private volatile SharedEngine sharedEngine;

    private StreamingApp(Settings settings) {
        this.settings = settings;
    }

    /** Runs until stopped; returns the exit code. Bad settings throw {@link ConfigException}, a bad model {@link ModelException}. */
    public static int run(Settings settings) throws ModelException {
        return new StreamingApp(settings).run();
    }

    private int run() throws ModelException {
        try {
            // Started first, so that liveness answers while a large model loads and warms up.
            if (settings.metricsPort() > 0) {
                server = MetricsServer.start(settings.metricsPort(), registry, this::notReadyBecause);
                log.info("metrics on :{}/metrics, health on /health/live and /health/ready", server.port());
            }
            bindJvmMetrics();
            log.info("settings: {}", settings.redacted());
            Preflight.check(settings); // seconds, before a model that may take a minute to load
            startStreams(openClassifier());
            // Until SIGTERM's shutdown hook has closed the streams, or a stream thread failed.
            stopped.await();
            KafkaStreams.State end = streams.state();
            shutdown();
            if (refused != null) throw refused;
            return end == KafkaStreams.State.ERROR || end == KafkaStreams.State.PENDING_ERROR ? 1 : 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        } finally {
            shutdown();
        }
    }

    private Classifier openClassifier() throws ModelException {
        long t0 = System.nanoTime();
        Classifier c = Classifier.open(settings.modelDir(), classifierOptions(settings));
        classifier = c;
        log.info("model {} ({}) on {} ({}), reducer {} with budget {}, loaded in {} ms; JPEG decoder {}", c.model().id(),
                c.config().architecture(), c.backend().name(), c.backend().device(), c.reducer(),
                settings.budgetIsAuto() ? "auto" : c.schedule(), Math.round((System.nanoTime() - t0) / 1e6), ImageDecoder.jpegDecoder());
        double warm = c.warmUp(settings.batchSize(), settings.warmupSeconds());
        log.info("warmed up with batches of 1 and {} in {} ms", settings.batchSize(), Math.round(warm));
        return c;
    }

    static Classifier.Options classifierOptions(Settings settings) {
        return SharedEngine.classifierOptions(settings);
    }

    private void startStreams(Classifier c) {
        PipelineMetrics metrics = new PipelineMetrics(registry);
        pipelineMetrics = metrics;
        metrics.modelInfo(c.model().id(), settings.modelVersion(), c.reducer(), settings.budgetIsAuto() ? Settings.AUTO : c.schedule().toString(),
                c.backend().name(), c.backend().device());
        InputLag lag = new InputLag(settings.topicInput());
        SharedEngine shared = SharedEngine.start(settings, c, metrics, lag);
        sharedEngine = shared;
        Engine engine = shared.engine();
        KafkaStreams s;
        try {
            s = ClassificationTopology.streams(settings, engine, metrics);
        } catch (KafkaException e) {
            Throwable root = e;
            while (root.getCause() != null) root = root.getCause();
            throw new ConfigException("Kafka Streams can't start: " + e.getMessage() + (root == e ? "" : " (" + root.getMessage() + ")"));
        }
        lag.attach(s);
        s.setStateListener((now, before) -> {
            log.info("Kafka Streams {} -> {}", before, now);
            if (now == KafkaStreams.State.NOT_RUNNING || now == KafkaStreams.State.ERROR) stopped.countDown();
        });
        // Our processor handles every per-record failure, so what arrives here is Kafka-level. A broker
        // failover's transient fault gets a new stream thread (ThreadReplacements); anything else (a refusal,
        // a registry outage longer than registry.retry.max.ms, ...) exits, for the platform to restart the process.
        ThreadReplacements replacements = new ThreadReplacements(System::currentTimeMillis);
        s.setUncaughtExceptionHandler(e -> {
            KafkaRefusal refusal = KafkaRefusal.of(e);
            if (refusal != null) {
                refused = refusal;
                log.error("{}; shutting down", refusal.getMessage());
                return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
            }
            if (replacements.allow(e)) {
                metrics.retry("broker");
                log.warn("a stream thread failed on a transient broker fault; replacing it (its open transaction aborts): {}", e.toString());
                return StreamThreadExceptionResponse.REPLACE_THREAD;
            }
            log.error("a stream thread failed; shutting down: {}", e.toString(), e);
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        kafkaMetrics = new KafkaStreamsMetrics(s); // includes records-lag-max, the consumer lag
        kafkaMetrics.bindTo(registry);
        streams = s;
        Runtime.getRuntime().addShutdownHook(new Thread(this::shutdown, "tomestream-shutdown"));
        log.info("{} reads {}, writes {} and {}; batches of {} or {} ms; {}", settings.applicationId(), settings.topicInput(),
                settings.topicOutput(), settings.topicDlq(), settings.batchSize(), settings.batchMaxWaitMs(),
                settings.get(StreamsConfig.PROCESSING_GUARANTEE_CONFIG));
        s.start();
    }

    /**
     * Null when ready: the model is loaded and Kafka Streams is RUNNING. REBALANCING counts as not
     * ready on purpose: the app serves no traffic, so readiness only paces rollouts and disruption
     * budgets, and a rolling restart should wait for the group to settle (and restore its buffers)
     * before it takes down the next instance. Liveness stays 200 throughout.
     */
    private String notReadyBecause() {
        KafkaStreams s = streams;
        if (s == null) return "loading the model";
        KafkaStreams.State state = s.state();
        if (state != KafkaStreams.State.RUNNING) return "Kafka Streams is " + state;
        PipelineMetrics m = pipelineMetrics;
        return m == null ? null : m.outage(); // waiting out a registry outage: live, but not ready
    }

    /** Idempotent: called by the shutdown hook on SIGTERM and by {@link #run()} when the streams stop on their own. */
    private void shutdown() {
        if (!shutDown.compareAndSet(false, true)) return;
        boolean threadsStopped = true;
        KafkaStreams s = streams;
        if (s != null) {
            // Without static membership (group.instance.id), leave the group so that the partitions move
            // at once instead of after session.timeout.ms; a static member keeps them for its restart.
            CloseOptions.GroupMembershipOperation membership = settings.get(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG) == null
                    ? CloseOptions.GroupMembershipOperation.LEAVE_GROUP : CloseOptions.GroupMembershipOperation.REMAIN_IN_GROUP;
            threadsStopped = s.close(CloseOptions.timeout(Duration.ofMillis(settings.shutdownTimeoutMs()))
                    .withGroupMembershipOperation(membership));
            if (!threadsStopped) log.warn("Kafka Streams did not stop within {} ms", settings.shutdownTimeoutMs());
        }
        if (kafkaMetrics != null) kafkaMetrics.close();
        // A stream thread still inside classify() must not see the engine closed under it.
        if (sharedEngine != null && threadsStopped) sharedEngine.close();
        if (classifier != null && threadsStopped) classifier.close();
        if (server != null) server.close();
        registry.close();
        stopped.countDown();
        log.info("stopped");
    }

    private void bindJvmMetrics() {
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
    }
}
