package io.tomestream.config;

import io.tomestream.backend.select.BackendChoice;
import io.tomestream.merge.Reducer;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.streams.StreamsConfig;

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
    /** The older name of {@code budget}, still accepted in config files, the environment and --set. */
    public static final String BUDGET_ALIAS = "tome";
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

    /** The app's defaults, as strings, in declaration order. */
    private static final Map<String, String> APP_DEFAULTS = appDefaults();

    /** The app's own keys; all others are Kafka's or the serde's. */
    public static final Set<String> APP_KEYS = Collections.unmodifiableSet(APP_DEFAULTS.keySet());

    private static final Map<String, String> KAFKA_DEFAULTS = ordered(
            StreamsConfig.APPLICATION_ID_CONFIG, "tomestream",
            StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2,
            // The topology has no global stores; this only stops Kafka 4.3 warning about them at start-up.
            StreamsConfig.PROCESSING_EXCEPTION_HANDLER_GLOBAL_ENABLED_CONFIG, "true");

    /** Kafka Streams' per-partition input queue; deprecated for input.buffer.max.bytes, which counts bytes, not records. */
    private static final String BUFFERED_RECORDS = "buffered.records.per.partition";


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
    private final boolean decodeFast;

    private Settings(Map<String, String> merged) {
        this.values = Collections.unmodifiableMap(merged);
        this.modelDir = get(MODEL_DIR);
        if (modelDir.isBlank()) {
            throw new ConfigException("model.dir is required: set it in the --config file, as TOMESTREAM_MODEL_DIR, or with --set model.dir=DIR");
        }
        AbstractConfig app = parseAppSettings();
        this.batchSize = app.getInt(BATCH_SIZE);
        this.batchMaxWaitMs = app.getLong(BATCH_MAX_WAIT_MS);
        this.threads = app.getInt(THREADS);
        this.topK = app.getInt(TOP_K);
        this.imageMaxBytes = app.getInt(IMAGE_MAX_BYTES);
        this.metricsPort = app.getInt(METRICS_PORT);
        this.shutdownTimeoutMs = app.getLong(SHUTDOWN_TIMEOUT_MS);
        this.registryRetryMaxMs = app.getLong(REGISTRY_RETRY_MAX_MS);
        this.warmupSeconds = app.getDouble(WARMUP_SECONDS);
        this.latencyTargetMs = app.getLong(LATENCY_TARGET_MS);
        this.batchCoalesceMs = app.getLong(BATCH_COALESCE_MS);
        this.decodeFast = app.getBoolean(DECODE_FAST);
        String budget = get(BUDGET).strip(), tome = get(BUDGET_ALIAS).strip();
        // tome at its default means only budget was given
        if (!budget.isEmpty() && !tome.equals(APP_DEFAULTS.get(BUDGET_ALIAS)) && !budget.equals(tome)) {
            throw new ConfigException("budget and tome name the same setting; give one (got '" + budget + "' and '" + tome + "')");
        }
        if (topicInput().equals(topicOutput()) || topicInput().equals(topicDlq())) {
            throw new ConfigException("topic.input '" + topicInput() + "' must differ from topic.output and topic.dlq");
        }
        validateKafka();
    }

    /**
     * The app's keys through their {@link AppSettings} declarations, one at a time so that the first bad
     * one is named in a sentence: its type and bounds, and the value given.
     */
    private AbstractConfig parseAppSettings() {
        Map<String, String> app = new LinkedHashMap<>();
        for (ConfigDef.ConfigKey key : AppSettings.DEF.configKeys().values()) {
            String value = get(key.name);
            app.put(key.name, value);
            Object parsed;
            try {
                parsed = ConfigDef.parseType(key.name, value, key.type);
            } catch (org.apache.kafka.common.config.ConfigException e) {
                throw new ConfigException(key.name + " must be " + AppSettings.expected(key) + ", got '" + value + "'");
            }
            if (key.validator != null) key.validator.ensureValid(key.name, parsed);
        }
        return new AbstractConfig(AppSettings.DEF, app, false);
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
        return new Settings(SettingsLayers.fromCommandLine(argv, env, defaults()));
    }

    /** Defaults, then {@code file} (may be null), then {@code env}, then {@code sets}. */
    public static Settings load(Path file, Map<String, String> env, Map<String, String> sets) {
        return new Settings(SettingsLayers.merge(defaults(), file, env, sets));
    }

    /** The settings the environment variables give, by the mapping in the class comment. */
    static Map<String, String> fromEnvironment(Map<String, String> env) {
        return SettingsLayers.fromEnvironment(env);
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
        return budget.isEmpty() ? get(BUDGET_ALIAS).strip() : budget;
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
        return decodeFast;
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

    public Reducer reducer() {
        return Reducer.of(get(REDUCER));
    }

    public BackendChoice backend() {
        return BackendChoice.of(get(BACKEND));
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

    private static Map<String, String> ordered(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return m;
    }

    private static Map<String, String> appDefaults() {
        Map<String, String> m = new LinkedHashMap<>();
        for (ConfigDef.ConfigKey key : AppSettings.DEF.configKeys().values()) {
            m.put(key.name, ConfigDef.convertToString(key.defaultValue, key.type));
        }
        return m;
    }
}
