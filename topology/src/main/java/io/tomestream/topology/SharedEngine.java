package io.tomestream.topology;

import io.tomestream.classify.Classifier;
import io.tomestream.classify.Outcome;
import io.tomestream.config.ConfigException;
import io.tomestream.config.Settings;
import io.tomestream.metrics.PipelineMetrics;
import io.tomestream.serving.BudgetController;
import io.tomestream.serving.CostModel;
import io.tomestream.serving.EngineBatcher;
import io.tomestream.serving.Rung;
import org.apache.kafka.streams.StreamsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * The engine every stream thread of an instance shares: one classifier behind one
 * {@link EngineBatcher}, running the settings' budget, fixed or {@code auto}.
 */
public final class SharedEngine implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SharedEngine.class);

    private final EngineBatcher batcher;
    private final Engine engine;

    private SharedEngine(EngineBatcher batcher, Engine engine) {
        this.batcher = batcher;
        this.engine = engine;
    }

    /**
     * @param lag the input's consumer lag, for budget=auto (see {@link InputLag})
     */
    public static SharedEngine start(Settings settings, Classifier c, PipelineMetrics metrics, LongSupplier lag) {
        // Waiting for other stream threads' events only makes sense when there are others.
        long coalesceMs = settings.streamThreads() > 1 ? settings.batchCoalesceMs() : 0;
        EngineBatcher batcher = new EngineBatcher((images, r) -> {
            List<Outcome> outcomes = c.classify(images, r);
            return new EngineBatcher.Timed(outcomes, c.lastPrepareMillis(), c.lastForwardMillis());
        }, controller(settings, c), settings.batchSize(), coalesceMs, lag, rung -> metrics.budget(rung.spec(), rung.meanR()));
        metrics.engineBusy(batcher, EngineBatcher::busySeconds);
        String budget = settings.budgetIsAuto() ? Settings.AUTO : c.schedule().toString();
        return new SharedEngine(batcher, Engine.batched(batcher, c, settings.modelVersion(), budget));
    }

    /** Classifier options for the settings; with budget=auto the classifier's own schedule is the ladder's first. */
    public static Classifier.Options classifierOptions(Settings settings) {
        return Classifier.Options.defaults()
                .withBudget(settings.budgetIsAuto() ? firstRung(settings) : settings.budget())
                .withReducer(settings.reducer())
                .withBackend(settings.backend())
                .withThreads(settings.threads())
                .withTopK(settings.topK())
                .withFastDecode(settings.decodeFast());
    }

    private static String firstRung(Settings settings) {
        for (String spec : settings.budgetLadder().split(";")) {
            if (!spec.isBlank()) return spec.strip();
        }
        return "0";
    }

    /**
     * The schedules the app may run: the ladder with budget=auto, else the one budget. Each one's forward
     * pass is timed here, at the batch size, as the cost model's starting point.
     */
    private static BudgetController controller(Settings settings, Classifier c) {
        int depth = c.config().depth();
        if (settings.budgetIsAuto() && c.config().learned() != null) {
            // Its ladder's budgets remove tokens in every block, and the blocks after the module must not.
            throw new ConfigException(Settings.BUDGET + "=auto needs a model without a learned token reducer; this one has a "
                    + c.config().learned().kind().label() + " (give a per-block budget for the blocks before it, or 0)");
        }
        List<Rung> ladder;
        try {
            ladder = settings.budgetIsAuto() ? Rung.ladder(settings.budgetLadder(), depth) : List.of(Rung.of(settings.budget(), depth));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(Settings.BUDGET_LADDER + ": " + e.getMessage());
        }
        double[] msPerImage = new double[ladder.size()];
        for (int i = 0; i < ladder.size(); i++) {
            msPerImage[i] = c.measureForward(settings.batchSize(), ladder.get(i).rPerBlock(), 3) / settings.batchSize();
        }
        if (settings.budgetIsAuto()) {
            StringBuilder costs = new StringBuilder();
            for (int i = 0; i < ladder.size(); i++) {
                costs.append(i == 0 ? "" : ", ").append(ladder.get(i).spec())
                        .append(String.format(Locale.ROOT, " %.1f ms", msPerImage[i]));
            }
            log.info("budget auto: latency target {} ms (aiming at {} ms before the commit); forward pass per image at batch {}: {}",
                    settings.latencyTargetMs(), aimMs(settings), settings.batchSize(), costs);
        }
        return new BudgetController(ladder, new CostModel(msPerImage), aimMs(settings), System::currentTimeMillis);
    }

    /**
     * What the controller aims for: the latency target less the commit interval. A result forwarded now is
     * seen by read_committed consumers only when its transaction commits, up to commit.interval.ms later,
     * and the target is the latency those consumers see.
     */
    static long aimMs(Settings settings) {
        String interval = settings.get(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG);
        boolean exactlyOnce = !StreamsConfig.AT_LEAST_ONCE.equals(settings.get(StreamsConfig.PROCESSING_GUARANTEE_CONFIG));
        long commitMs = interval != null ? Long.parseLong(interval.strip()) : exactlyOnce ? 100 : 30_000;
        // At-least-once outputs are visible when sent; only exactly-once holds them back until the commit.
        return Math.max(1, settings.latencyTargetMs() - (exactlyOnce ? commitMs : 0));
    }

    public Engine engine() {
        return engine;
    }

    public EngineBatcher batcher() {
        return batcher;
    }

    @Override
    public void close() {
        batcher.close();
    }
}
