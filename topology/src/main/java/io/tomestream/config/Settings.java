package io.tomestream.config;

import io.tomestream.merge.Schedule;
import io.tomestream.merge.TokenReducer;
import org.apache.kafka.streams.StreamsConfig;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

/**
 * Everything {@code tomestream run} is configured with. Four layers, each overriding the one before:
 * built-in defaults, the properties file ({@code --config FILE}), environment variables, and
 * {@code --set key=value} flags.
 *
 * <p>There are two kinds of keys:
 * <ul>
 *   <li>the app's own ({@link #APP_KEYS}: {@code model.dir}, {@code batch.size}, ...), typed and
 *       validated here and never passed to Kafka. {@code batch.size} is also a producer setting (in
 *       bytes); set that one as {@code producer.batch.size}, as Kafka Streams allows.</li>
 *   <li>every other key, passed untouched to Kafka Streams, which hands it on to its consumers,
 *       producers and admin client ({@code bootstrap.servers}, {@code security.protocol},
 *       {@code ssl.*}, {@code sasl.*}, {@code consumer.*}, {@code producer.*}, ...), and to the value
 *       serde's {@code configure()} ({@code schema.registry.*}, {@code apicurio.*}, ...), the way
 *       Kafka itself hands all its settings to serdes.</li>
 * </ul>
 *
 * <p>Environment variables: {@code TOMESTREAM_} plus an app key in upper case with dots as
 * underscores ({@code TOMESTREAM_BATCH_SIZE} is {@code batch.size}, {@code TOMESTREAM_MODEL_DIR}
 * is {@code model.dir}); {@code TOMESTREAM_KAFKA_} plus any other key in upper case, where
 * {@code _} stands for a dot and {@code __} for a dash ({@code TOMESTREAM_KAFKA_BOOTSTRAP_SERVERS}
 * is {@code bootstrap.servers}, {@code TOMESTREAM_KAFKA_SASL_JAAS_CONFIG} is
 * {@code sasl.jaas.config}, {@code TOMESTREAM_KAFKA_APICURIO_REGISTRY_USE__ID} is
 * {@code apicurio.registry.use-id}). Other {@code TOMESTREAM_} variables, such as the launcher's
 * {@code TOMESTREAM_JAVA_OPTS}, are not settings and are ignored.
 */
public final class Settings {
    public static final String MODEL_DIR = "model.dir";
    public static final String MODEL_VERSION = "model.version";
    public static final String TOME = "tome";
    /** The token reducer: tome, prune or pool. */
    public static final String REDUCER = "reducer";
    /** The reducer's budget; the newer name of {@code tome}, which stays for old config files. */
    public static final String BUDGET = "budget";
    /** The budget value that turns on the load-adaptive budget. */
    public static final String AUTO = "auto";
    /** With budget=auto: the schedules to choose from, least merging first, separated by ';'. */
    public static final String BUDGET_LADDER = "budget.ladder";
    /** With budget=auto: the latency, from event time to result, that the budget keeps under. */
    public static final String LATENCY_TARGET_MS = "latency.target.ms";
    /** How long the shared engine waits for other stream threads' events to fill a batch. */
    public static final String BATCH_COALESCE_MS = "batch.coalesce.ms";
    /** JPEG draft decoding (DCT-domain downscaling), off by default: faster, and no longer PIL's exact pixels. */
    public static final String DECODE_FAST = "decode.fast";
    public static final String BACKEND = "backend";
    public static final String THREADS = "threads";
    public static final String TOP_K = "top.k";
    public static final String BATCH_SIZE = "batch.size";
    public static final String BATCH_MAX_WAIT_MS = "batch.max.wait.ms";
    public static final String IMAGE_MAX_BYTES = "image.max.bytes";
    public static final String TOPIC_INPUT = "topic.input";
    public static final String TOPIC_OUTPUT = "topic.output";
    public static final String TOPIC_DLQ = "topic.dlq";
    public static final String VALUE_SERDE = "value.serde";
    public static final String METRICS_PORT = "metrics.port";
    public static final String WARMUP_SECONDS = "warmup.seconds";
    public static final String SHUTDOWN_TIMEOUT_MS = "shutdown.timeout.ms";
    /** How long a record waits through a schema-registry outage before the app gives up and exits. */
    public static final String REGISTRY_RETRY_MAX_MS = "registry.retry.max.ms";
    /** Extra Avro writer schemas (files or folders of .avsc, comma-separated) that the registry-less serde reads. */
    public static final String WRITER_SCHEMAS = "writer.schemas";

    /** The default value serde: Avro single-object encoding, no registry. */
    public static final String SINGLE_OBJECT_SERDE = "io.tomestream.topology.SingleObjectAvroSerde";

    private static final Map<String, String> APP_DEFAULTS = ordered(
            MODEL_DIR, "",
            MODEL_VERSION, "unversioned",
            TOME, "0",
            REDUCER, "tome",
            BUDGET, "",
            BUDGET_LADDER, "0;4:-1;8:-1;16:-1;24:-1",
            LATENCY_TARGET_MS, "1000",
            BATCH_COALESCE_MS, "5",
            DECODE_FAST, "false",
            BACKEND, "auto",
            THREADS, "0",
            TOP_K, "5",
            BATCH_SIZE, "16",
            BATCH_MAX_WAIT_MS, "50",
            IMAGE_MAX_BYTES, String.valueOf(16 << 20),
            TOPIC_INPUT, "image-events",
            TOPIC_OUTPUT, "classifications",
            TOPIC_DLQ, "image-events-dlq",
            VALUE_SERDE, SINGLE_OBJECT_SERDE,
            METRICS_PORT, "9464",
            WARMUP_SECONDS, "2",
            // long enough for a batch in flight to finish and its transaction to commit
            SHUTDOWN_TIMEOUT_MS, "30000",
            // below max.poll.interval.ms (5 min), past which the group moves the waiting task anyway
            REGISTRY_RETRY_MAX_MS, "240000",
            WRITER_SCHEMAS, "");

    /** The app's own keys; all others are Kafka's or the serde's. */
    public static final Set<String> APP_KEYS = Collections.unmodifiableSet(APP_DEFAULTS.keySet());

    private static final Map<String, String> KAFKA_DEFAULTS = ordered(
            StreamsConfig.APPLICATION_ID_CONFIG, "tomestream",
            StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2,
            // The topology has no global stores; this only stops Kafka 4.3 warning about them at start-up.
            StreamsConfig.PROCESSING_EXCEPTION_HANDLER_GLOBAL_ENABLED_CONFIG, "true");

    /** Kafka Streams' per-partition input queue; deprecated for input.buffer.max.bytes, which counts bytes, not records. */
    private static final String BUFFERED_RECORDS = "buffered.records.per.partition";

    private static final String ENV_PREFIX = "TOMESTREAM_";
    private static final String KAFKA_ENV_PREFIX = "TOMESTREAM_KAFKA_";

    private final Map<String, String> values;
    private final String modelDir;
    private final int batchSize;
    private final long batchMaxWaitMs;
    private final int threads;
    private final int topK;
    private final int imageMaxBytes;
    private final int metricsPort;
    private final double warmupSeconds;
    private final long shutdownTimeoutMs;
    private final long registryRetryMaxMs;
    private final long latencyTargetMs;
    private final long batchCoalesceMs;

    private Settings(Map<String, String> merged) {
        this.values = Collections.unmodifiableMap(merged);
        this.modelDir = get(MODEL_DIR);
        if (modelDir.isBlank()) {
            throw new ConfigException("model.dir is required: set it in the --config file, as TOMESTREAM_MODEL_DIR, or with --set model.dir=DIR");
        }
        this.batchSize = (int) number(BATCH_SIZE, 1, 4096);
        this.batchMaxWaitMs = number(BATCH_MAX_WAIT_MS, 1, 3_600_000);
        this.threads = (int) number(THREADS, 0, 1024);
        this.topK = (int) number(TOP_K, 1, 1000);
        this.imageMaxBytes = (int) number(IMAGE_MAX_BYTES, 1, Integer.MAX_VALUE - 64);
        this.metricsPort = (int) number(METRICS_PORT, 0, 65535);
        this.shutdownTimeoutMs = number(SHUTDOWN_TIMEOUT_MS, 0, 3_600_000);
        this.registryRetryMaxMs = number(REGISTRY_RETRY_MAX_MS, 0, 3_600_000);
        this.warmupSeconds = decimal(WARMUP_SECONDS, 0, 600);
        String budget = get(BUDGET).strip(), tome = get(TOME).strip();
        // tome at its default means only budget was given
        if (!budget.isEmpty() && !tome.equals(APP_DEFAULTS.get(TOME)) && !budget.equals(tome)) {
            throw new ConfigException("budget and tome name the same setting; give one (got '" + budget + "' and '" + tome + "')");
        }
        this.latencyTargetMs = number(LATENCY_TARGET_MS, 1, 3_600_000);
        if (!get(DECODE_FAST).equalsIgnoreCase("true") && !get(DECODE_FAST).equalsIgnoreCase("false")) {
            throw new ConfigException(DECODE_FAST + " must be true or false, got '" + get(DECODE_FAST) + "'");
        }
        this.batchCoalesceMs = number(BATCH_COALESCE_MS, 0, 60_000);
        if (!budgetIsAuto()) {
            try {
                Schedule.parse(budget());
            } catch (IllegalArgumentException e) {
                throw new ConfigException((budget.isEmpty() ? "tome: " : "budget: ") + e.getMessage()
                        + " (or 'auto', the load-adaptive budget)");
            }
        }
        String ladder = get(BUDGET_LADDER);
        if (ladder.isBlank()) throw new ConfigException(BUDGET_LADDER + " must name at least one schedule");
        for (String spec : ladder.split(";")) {
            if (spec.isBlank()) continue;
            try {
                Schedule.parse(spec.strip());
            } catch (IllegalArgumentException e) {
                throw new ConfigException(BUDGET_LADDER + ": '" + spec.strip() + "': " + e.getMessage());
            }
        }
        if (!TokenReducer.NAMES.contains(reducer())) {
            throw new ConfigException("reducer must be one of " + String.join(", ", TokenReducer.NAMES) + ", got '" + reducer() + "'");
        }
        for (String key : Set.of(TOPIC_INPUT, TOPIC_OUTPUT, TOPIC_DLQ, VALUE_SERDE, BACKEND)) {
            if (get(key).isBlank()) throw new ConfigException(key + " must not be empty");
        }
        if (topicInput().equals(topicOutput()) || topicInput().equals(topicDlq())) {
            throw new ConfigException("topic.input '" + topicInput() + "' must differ from topic.output and topic.dlq");
        }
        validateKafka();
    }

    /** Defaults overridden by {@code values}; for tests and embedding. */
    public static Settings of(Map<String, String> values) {
        Map<String, String> merged = defaults();
        merged.putAll(values);
        return new Settings(merged);
    }

    /**
     * Parses {@code run}'s arguments ({@code --config FILE}, {@code --set key=value}, repeatable,
     * also as {@code --name=value}) and layers file, environment and flags over the defaults.
     */
    public static Settings fromCommandLine(String[] argv, Map<String, String> env) {
        Path file = null;
        Map<String, String> sets = new LinkedHashMap<>();
        for (int i = 0; i < argv.length; i++) {
            String arg = argv[i], value = null;
            int eq = arg.indexOf('=');
            String flag = arg.startsWith("--") && eq > 0 ? arg.substring(0, eq) : arg;
            if (!flag.equals("--config") && !flag.equals("--set")) {
                throw new ConfigException(arg.startsWith("--") ? "unknown option " + flag + " (run takes --config FILE and --set key=value)"
                        : "run takes no positional arguments, got '" + arg + "'");
            }
            if (eq > 0 && arg.startsWith("--")) {
                value = arg.substring(eq + 1);
            } else if (i + 1 < argv.length) {
                value = argv[++i];
            } else {
                throw new ConfigException(flag + " needs a value");
            }
            if (flag.equals("--config")) {
                if (file != null) throw new ConfigException("--config may be given once");
                file = Path.of(value);
            } else {
                int kv = value.indexOf('=');
                if (kv <= 0) throw new ConfigException("--set needs key=value, got '" + value + "'");
                sets.put(value.substring(0, kv).strip(), value.substring(kv + 1));
            }
        }
        return load(file, env, sets);
    }

    /** Defaults, then {@code file} (may be null), then {@code env}, then {@code sets}. */
    public static Settings load(Path file, Map<String, String> env, Map<String, String> sets) {
        Map<String, String> merged = defaults();
        if (file != null) merged.putAll(readFile(file));
        merged.putAll(fromEnvironment(env));
        merged.putAll(sets);
        return new Settings(merged);
    }

    /** The settings the environment variables give, by the mapping in the class comment. */
    static Map<String, String> fromEnvironment(Map<String, String> env) {
        Map<String, String> out = new HashMap<>();
        for (Map.Entry<String, String> e : env.entrySet()) {
            String name = e.getKey();
            if (name.startsWith(KAFKA_ENV_PREFIX) && name.length() > KAFKA_ENV_PREFIX.length()) {
                String key = name.substring(KAFKA_ENV_PREFIX.length()).toLowerCase(Locale.ROOT)
                        .replace("__", "\u0000").replace('_', '.').replace('\u0000', '-');
                if (APP_KEYS.contains(key)) {
                    throw new ConfigException(name + " names the app setting " + key + ", not a Kafka one: use "
                            + ENV_PREFIX + name.substring(KAFKA_ENV_PREFIX.length())
                            + (key.equals(BATCH_SIZE) ? ", or TOMESTREAM_KAFKA_PRODUCER_BATCH_SIZE for the producer's" : ""));
                }
                out.put(key, e.getValue());
            } else if (name.startsWith(ENV_PREFIX)) {
                String key = name.substring(ENV_PREFIX.length()).toLowerCase(Locale.ROOT).replace('_', '.');
                if (APP_KEYS.contains(key)) out.put(key, e.getValue());
            }
        }
        return out;
    }

    private static Map<String, String> readFile(Path file) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (NoSuchFileException e) {
            throw new ConfigException("config file " + file + " does not exist");
        } catch (IOException | IllegalArgumentException e) {
            throw new ConfigException("config file " + file + " can't be read: " + e.getMessage());
        }
        Map<String, String> out = new HashMap<>();
        for (String name : p.stringPropertyNames()) out.put(name.strip(), p.getProperty(name));
        return out;
    }

    private static Map<String, String> defaults() {
        Map<String, String> m = new LinkedHashMap<>(APP_DEFAULTS);
        m.putAll(KAFKA_DEFAULTS);
        return m;
    }

    /**
     * Fails here, with Kafka's one-line message, on what Kafka Streams would refuse at start-up
     * (an unknown processing.guarantee, a non-numeric num.stream.threads, ...).
     */
    private void validateKafka() {
        String servers = values.get(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG);
        if (servers == null || servers.isBlank()) {
            throw new ConfigException("bootstrap.servers is required: set it in the --config file, as TOMESTREAM_KAFKA_BOOTSTRAP_SERVERS, or with --set bootstrap.servers=HOST:PORT");
        }
        try {
            new StreamsConfig(kafkaProperties());
        } catch (org.apache.kafka.common.config.ConfigException e) {
            throw new ConfigException(e.getMessage());
        }
    }

    /** The raw value of a key after all layers, or null. */
    public String get(String key) {
        String v = values.get(key);
        return v == null ? null : APP_KEYS.contains(key) ? v.strip() : v;
    }

    /**
     * The settings as a log line shows them: every key and value, sorted, with each secret shown as
     * Kafka's own config dump shows it, {@code [hidden]}.
     */
    public String redacted() {
        StringBuilder out = new StringBuilder();
        new java.util.TreeMap<>(values).forEach((k, v) -> {
            if (!out.isEmpty()) out.append(", ");
            out.append(k).append('=').append(isSecret(k) ? "[hidden]" : v);
        });
        return out.toString();
    }

    private static final String[] CLIENT_PREFIXES = {"main.consumer.", "restore.consumer.", "global.consumer.", "consumer.", "producer.", "admin."};
    private static final java.util.List<org.apache.kafka.common.config.ConfigDef> CLIENT_DEFS = java.util.List.of(
            StreamsConfig.configDef(), org.apache.kafka.clients.producer.ProducerConfig.configDef(),
            org.apache.kafka.clients.consumer.ConsumerConfig.configDef(), org.apache.kafka.clients.admin.AdminClientConfig.configDef());

    /**
     * Kafka's password-typed keys (with or without a client prefix or a listener.name... prefix), and
     * any other key that names a password, secret, token, credentials or JAAS config: a serde's or a
     * registry client's, whose types we can't look up.
     */
    static boolean isSecret(String key) {
        String k = key.toLowerCase(Locale.ROOT);
        if (k.contains("password") || k.contains("secret") || k.contains("jaas") || k.contains("token")
                || k.contains("credentials") || k.endsWith("user.info")) return true;
        for (String prefix : CLIENT_PREFIXES) {
            if (k.startsWith(prefix)) {
                k = k.substring(prefix.length());
                break;
            }
        }
        for (var def : CLIENT_DEFS) {
            var configKey = def.configKeys().get(k);
            if (configKey != null && configKey.type == org.apache.kafka.common.config.ConfigDef.Type.PASSWORD) return true;
        }
        return false;
    }

    /** Every key and value after all layers. */
    public Map<String, String> values() {
        return values;
    }

    /** Every setting that is not the app's own, for {@code new KafkaStreams(topology, props)}. */
    public Properties kafkaProperties() {
        Properties p = new Properties();
        values.forEach((k, v) -> {
            if (!APP_KEYS.contains(k)) p.setProperty(k, v);
        });
        // Wall-clock punctuation only runs between polls; an idle poll blocks up to poll.ms (100 ms by
        // default), so a batch would wait up to that long past batch.max.wait.ms. Poll at least twice per wait.
        p.putIfAbsent(StreamsConfig.POLL_MS_CONFIG, String.valueOf(Math.clamp(batchMaxWaitMs / 2, 1, 100)));
        if (budgetIsAuto()) {
            // budget=auto sees the backlog as consumer lag; a record already fetched into Kafka Streams' queues
            // (up to 1000 per partition by default) has left the lag and is invisible. Fetch little ahead instead.
            p.putIfAbsent(StreamsConfig.consumerPrefix("max.poll.records"), String.valueOf(2 * batchSize));
            p.putIfAbsent(BUFFERED_RECORDS, String.valueOf(batchSize));
        }
        return p;
    }

    /** What the value serde's {@code configure()} gets: every non-app setting, as Kafka would pass them. */
    public Map<String, Object> serdeConfigs() {
        Map<String, Object> m = new HashMap<>();
        kafkaProperties().forEach((k, v) -> m.put((String) k, v));
        // The registry-less serde's own setting; a registry serde ignores it.
        if (!get(WRITER_SCHEMAS).isBlank()) m.put(WRITER_SCHEMAS, get(WRITER_SCHEMAS));
        return m;
    }

    public String modelDir() {
        return modelDir;
    }

    public String modelVersion() {
        return get(MODEL_VERSION);
    }

    /** The budget spec for the reducer: {@code budget} when set, else {@code tome}. */
    public String budget() {
        String budget = get(BUDGET).strip();
        return budget.isEmpty() ? get(TOME).strip() : budget;
    }

    /** budget=auto: each micro-batch picks its schedule from {@link #budgetLadder()} to hold {@link #latencyTargetMs()}. */
    public boolean budgetIsAuto() {
        return budget().equalsIgnoreCase(AUTO);
    }

    /** The schedules budget=auto picks from, least merging first. */
    public String budgetLadder() {
        return get(BUDGET_LADDER);
    }

    public boolean decodeFast() {
        return get(DECODE_FAST).equalsIgnoreCase("true");
    }

    public long latencyTargetMs() {
        return latencyTargetMs;
    }

    public long batchCoalesceMs() {
        return batchCoalesceMs;
    }

    /** Kafka Streams' num.stream.threads, 1 unless set. */
    public int streamThreads() {
        String v = values.get(StreamsConfig.NUM_STREAM_THREADS_CONFIG);
        return v == null ? 1 : Integer.parseInt(v.strip());
    }

    public String reducer() {
        return get(REDUCER).strip();
    }

    public String backend() {
        return get(BACKEND);
    }

    /** Engine threads; 0 = one per available processor. */
    public int threads() {
        return threads;
    }

    public int topK() {
        return topK;
    }

    public int batchSize() {
        return batchSize;
    }

    public long batchMaxWaitMs() {
        return batchMaxWaitMs;
    }

    public int imageMaxBytes() {
        return imageMaxBytes;
    }

    public String topicInput() {
        return get(TOPIC_INPUT);
    }

    public String topicOutput() {
        return get(TOPIC_OUTPUT);
    }

    public String topicDlq() {
        return get(TOPIC_DLQ);
    }

    public String valueSerde() {
        return get(VALUE_SERDE);
    }

    /** 0 = no metrics server. */
    public int metricsPort() {
        return metricsPort;
    }

    public double warmupSeconds() {
        return warmupSeconds;
    }

    public long shutdownTimeoutMs() {
        return shutdownTimeoutMs;
    }

    public long registryRetryMaxMs() {
        return registryRetryMaxMs;
    }

    public String applicationId() {
        return values.get(StreamsConfig.APPLICATION_ID_CONFIG);
    }

    private long number(String key, long min, long max) {
        String v = get(key);
        try {
            long n = Long.parseLong(v);
            if (n >= min && n <= max) return n;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new ConfigException(key + " must be a whole number from " + min + " to " + max + ", got '" + v + "'");
    }

    private double decimal(String key, double min, double max) {
        String v = get(key);
        try {
            double d = Double.parseDouble(v);
            if (d >= min && d <= max) return d;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new ConfigException(key + " must be a number from " + min + " to " + max + ", got '" + v + "'");
    }

    private static Map<String, String> ordered(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return m;
    }
}
