package io.tomestream.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tomestream.schema.DeadLetterReason;

import java.time.Duration;
import java.util.EnumMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The pipeline's own meters. Prometheus names (after Micrometer's renaming):
 * {@code tomestream_events_consumed_total}, {@code tomestream_events_tombstones_total},
 * {@code tomestream_events_classified_total}, {@code tomestream_events_dead_lettered_total{reason}} (attempts: counted
 * when forwarded, so an aborted transaction's records count too), {@code tomestream_events_classified_committed_total} and
 * {@code tomestream_events_dead_lettered_committed_total{reason}} (counted when their transaction commits; see
 * {@code CommittedCounts}),
 * {@code tomestream_latency_end_to_end_seconds} (now minus the event's eventTime),
 * {@code tomestream_batch_duration_seconds} (one classify call), {@code tomestream_batch_size},
 * {@code tomestream_tokens_final} (tokens left at the last block, per image),
 * {@code tomestream_budget_r_mean} and {@code tomestream_budget_batches_total{budget}} (see {@link #budget}) and
 * {@code tomestream_model_info{model,version,reducer,tome,backend,device}}. Consumer lag comes from Kafka's
 * own client metrics ({@code kafka_consumer_fetch_manager_records_lag_max}), bound separately.
 * Thread-safe: every stream task records into the same meters.
 */
public final class PipelineMetrics {
    private final MeterRegistry registry;
    private final Counter consumed;
    private final Counter tombstones;
    private final Counter classified;
    private final Map<DeadLetterReason, Counter> deadLettered = new EnumMap<>(DeadLetterReason.class);
    private final Counter classifiedCommitted;
    private final Map<DeadLetterReason, Counter> deadLetteredCommitted = new EnumMap<>(DeadLetterReason.class);
    private final Timer endToEnd;
    private final Timer batchDuration;
    private final DistributionSummary batchSize;
    private final DistributionSummary finalTokens;
    /** Mean r per block of the schedule the last batch ran with. */
    private final AtomicLong budgetMeanRBits = new AtomicLong(Double.doubleToLongBits(0));
    private final Map<String, Counter> budgetBatches = new ConcurrentHashMap<>();

    private final Map<String, Counter> retries = new ConcurrentHashMap<>();
    /** Why the app is waiting out an outage now, or null. */
    private volatile String outage;

    public PipelineMetrics(MeterRegistry registry) {
        this.registry = registry;
        Gauge.builder("tomestream.outage", this, m -> m.outage == null ? 0 : 1)
                .description("1 while a stream thread waits out a transient fault (the schema registry unreachable) instead of dead-lettering")
                .register(registry);
        consumed = Counter.builder("tomestream.events.consumed")
                .description("Input records read, tombstones and bad records included").register(registry);
        tombstones = Counter.builder("tomestream.events.tombstones")
                .description("Input records with a null value, skipped").register(registry);
        classified = Counter.builder("tomestream.events.classified")
                .description("Classifications forwarded, in transactions that may still abort: attempts").register(registry);
        classifiedCommitted = Counter.builder("tomestream.events.classified.committed")
                .description("Classifications in committed transactions: what read_committed consumers see").register(registry);
        // Every reason is registered up front, so alerts see a 0 series rather than none.
        for (DeadLetterReason reason : DeadLetterReason.values()) {
            deadLettered.put(reason, Counter.builder("tomestream.events.dead.lettered")
                    .description("Dead letters forwarded, by reason, in transactions that may still abort: attempts")
                    .tag("reason", reason.name()).register(registry));
            deadLetteredCommitted.put(reason, Counter.builder("tomestream.events.dead.lettered.committed")
                    .description("Dead letters in committed transactions, by reason").tag("reason", reason.name()).register(registry));
        }
        endToEnd = Timer.builder("tomestream.latency.end.to.end")
                .description("From the event's eventTime to its classification being forwarded")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofMinutes(10)).register(registry);
        batchDuration = Timer.builder("tomestream.batch.duration")
                .description("Model latency: one classify call for a whole batch, decoding included")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofMinutes(1)).register(registry);
        batchSize = DistributionSummary.builder("tomestream.batch.size")
                .description("Images per classify call")
                .serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64, 128, 256).register(registry);
        finalTokens = DistributionSummary.builder("tomestream.tokens.final")
                .description("Tokens left at the last block, per image (fewer = more merging)")
                .publishPercentileHistogram().minimumExpectedValue(1.0).maximumExpectedValue(1024.0).register(registry);
        Gauge.builder("tomestream.budget.r.mean", budgetMeanRBits, bits -> Double.longBitsToDouble(bits.get()))
                .description("Mean tokens removed per block by the schedule of the last batch (budget=auto changes it per batch)")
                .register(registry);
    }


    /**
     * A batch ran with {@code spec}, whose mean r per block is {@code meanR}: the
     * {@code tomestream_budget_r_mean} gauge shows the schedule in use now, and
     * {@code tomestream_budget_batches_total{budget}} how often each was used.
     */
    public void budget(String spec, double meanR) {
        budgetMeanRBits.set(Double.doubleToLongBits(meanR));
        budgetBatches.computeIfAbsent(spec, b -> Counter.builder("tomestream.budget.batches")
                .description("Batches run with each schedule (budget=auto picks one per batch)").tag("budget", b)
                .register(registry)).increment();
    }

    /**
     * {@code tomestream_engine_busy_seconds_total}: wall time the shared engine spent on batches. Its rate is the
     * engine's utilisation; below 1 under a backlog, the engine waits on the stream threads.
     */
    public <T> void engineBusy(T engine, java.util.function.ToDoubleFunction<T> seconds) {
        // Micrometer holds the object weakly: it must be the engine itself, which outlives the registry, not a lambda.
        io.micrometer.core.instrument.FunctionCounter.builder("tomestream.engine.busy", engine, seconds)
                .baseUnit("seconds").description("Wall time the engine spent classifying batches").register(registry);
    }

    /** Meters that go nowhere; for tests that don't look at them. */
    public static PipelineMetrics discarding() {
        return new PipelineMetrics(new SimpleMeterRegistry());
    }

    public MeterRegistry registry() {
        return registry;
    }

    /** A constant 1 gauge whose tags say which model serves, for dashboards. */
    public void modelInfo(String model, String version, String reducer, String tome, String backend, String device) {
        Gauge.builder("tomestream.model.info", () -> 1)
                .description("The model being served; always 1")
                .tags("model", model, "version", version, "reducer", reducer, "tome", tome, "backend", backend, "device", device)
                .register(registry);
    }

    public void consumed() {
        consumed.increment();
    }

    public void tombstone() {
        tombstones.increment();
    }

    public void classified(int tokensFinal, long endToEndMs) {
        classified.increment();
        finalTokens.record(tokensFinal);
        endToEnd.record(Math.max(0, endToEndMs), TimeUnit.MILLISECONDS);
    }

    /** A transaction committed (or, without transactions, the broker acknowledged) these outputs. */
    public void committed(long classified, Map<DeadLetterReason, Long> deadLettered) {
        if (classified > 0) classifiedCommitted.increment(classified);
        deadLettered.forEach((reason, n) -> deadLetteredCommitted.get(reason).increment(n));
    }

    public double classifiedCommittedCount() {
        return classifiedCommitted.count();
    }

    public double deadLetteredCommittedCount(DeadLetterReason reason) {
        return deadLetteredCommitted.get(reason).count();
    }

    public void deadLettered(DeadLetterReason reason) {
        deadLettered.get(reason).increment();
    }

    public void batch(int size, long nanos) {
        batchSize.record(size);
        batchDuration.record(nanos, TimeUnit.NANOSECONDS);
    }

    public double consumedCount() {
        return consumed.count();
    }

    public double classifiedCount() {
        return classified.count();
    }

    public double tombstoneCount() {
        return tombstones.count();
    }

    public double deadLetteredCount(DeadLetterReason reason) {
        return deadLettered.get(reason).count();
    }

    /** One more retry of a record through a transient fault; {@code cause} is what failed, such as {@code registry}. */
    public void retry(String cause) {
        retries.computeIfAbsent(cause, c -> Counter.builder("tomestream.transient.retries")
                .description("Retries through transient faults, by what failed; those records were not dead-lettered")
                .tag("cause", c).register(registry)).increment();
    }

    /** A transient fault began ({@code why}) or ended (null); readiness reports it. */
    public void outage(String why) {
        outage = why;
    }

    /** Why the app is waiting out a transient fault, or null. */
    public String outage() {
        return outage;
    }
}
