package io.tomestream.config;

import io.tomestream.merge.Reducer;
import io.tomestream.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Layering (defaults < file < environment < --set), the environment mapping, pass-through and validation. */
class SettingsTest {
    private static final Map<String, String> MINIMAL = Map.of("model.dir", "models/m", "bootstrap.servers", "k:9092");

    @Test
    void laterLayersWin(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("app.properties");
        Files.writeString(file, """
                model.dir = models/from-file
                bootstrap.servers = file:9092
                batch.size = 8
                tome = 13
                topic.input = from-file
                security.protocol = SSL
                """);
        Map<String, String> env = Map.of(
                "TOMESTREAM_BATCH_SIZE", "24",
                "TOMESTREAM_TOME", "16:-1",
                "TOMESTREAM_KAFKA_BOOTSTRAP_SERVERS", "env:9092");
        Settings s = Settings.fromCommandLine(new String[] {"--config", file.toString(), "--set", "batch.size=32", "--set=top.k=3"}, env);
        assertEquals("models/from-file", s.modelDir(), "file only");
        assertEquals("from-file", s.topicInput(), "file only");
        assertEquals("16:-1", s.budget(), "environment over file");
        assertEquals("env:9092", s.kafkaProperties().getProperty("bootstrap.servers"), "environment over file");
        assertEquals(32, s.batchSize(), "--set over environment over file");
        assertEquals(3, s.topK());
        assertEquals("SSL", s.kafkaProperties().getProperty("security.protocol"));
        assertEquals(50, s.batchMaxWaitMs(), "default");
        assertEquals("classifications", s.topicOutput(), "default");
    }

    @Test
    void defaults() {
        Settings s = Settings.of(MINIMAL);
        assertEquals(16, s.batchSize());
        assertEquals(50, s.batchMaxWaitMs());
        assertEquals(16 << 20, s.imageMaxBytes());
        assertEquals(9464, s.metricsPort());
        assertEquals(io.tomestream.backend.select.BackendChoice.AUTO, s.backend());
        assertEquals("image-events", s.topicInput());
        assertEquals("image-events-dlq", s.topicDlq());
        assertEquals(Settings.SINGLE_OBJECT_SERDE, s.valueSerde());
        Properties kafka = s.kafkaProperties();
        assertEquals("tomestream", kafka.getProperty("application.id"));
        assertEquals("exactly_once_v2", kafka.getProperty("processing.guarantee"));
        assertEquals("25", kafka.getProperty("poll.ms"), "idle polls must not outlast half a batch wait");
        assertEquals("7", Settings.of(Map.of("model.dir", "m", "bootstrap.servers", "k:1", "poll.ms", "7")).kafkaProperties().getProperty("poll.ms"));
    }

    @Test
    void environmentVariablesMapToKeys() {
        Map<String, String> mapped = Settings.fromEnvironment(Map.of(
                "TOMESTREAM_BATCH_SIZE", "4",
                "TOMESTREAM_BATCH_MAX_WAIT_MS", "20",
                "TOMESTREAM_MODEL_DIR", "/models/deit",
                "TOMESTREAM_KAFKA_BOOTSTRAP_SERVERS", "b:9093",
                "TOMESTREAM_KAFKA_SASL_JAAS_CONFIG", "org.apache.kafka.common.security.plain.PlainLoginModule required;",
                "TOMESTREAM_KAFKA_SCHEMA_REGISTRY_URL", "http://sr:8081",
                "TOMESTREAM_KAFKA_APICURIO_REGISTRY_USE__ID", "contentId",
                "TOMESTREAM_JAVA_OPTS", "-Xmx2g",
                "TOMESTREAM_SKIP_BUILD", "1",
                "PATH", "/usr/bin"));
        assertEquals(Map.of(
                "batch.size", "4",
                "batch.max.wait.ms", "20",
                "model.dir", "/models/deit",
                "bootstrap.servers", "b:9093",
                "sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required;",
                "schema.registry.url", "http://sr:8081",
                "apicurio.registry.use-id", "contentId"), mapped);
    }

    @Test
    void kafkaAndRegistrySettingsPassThroughAndAppSettingsDoNot() {
        Settings s = Settings.of(Map.of("model.dir", "m", "bootstrap.servers", "k:9092", "batch.size", "8",
                "producer.batch.size", "65536", "ssl.truststore.location", "/etc/ts.jks", "sasl.mechanism", "SCRAM-SHA-512",
                "num.stream.threads", "2", "schema.registry.url", "http://sr:8081", "apicurio.registry.auto-register", "true"));
        Properties kafka = s.kafkaProperties();
        for (String key : Settings.APP_KEYS) assertFalse(kafka.containsKey(key), key + " is the app's, not Kafka's");
        assertEquals("65536", kafka.getProperty("producer.batch.size"));
        assertEquals("/etc/ts.jks", kafka.getProperty("ssl.truststore.location"));
        assertEquals("SCRAM-SHA-512", kafka.getProperty("sasl.mechanism"));
        assertEquals("2", kafka.getProperty("num.stream.threads"));
        Map<String, Object> serde = s.serdeConfigs();
        assertEquals("http://sr:8081", serde.get("schema.registry.url"));
        assertEquals("true", serde.get("apicurio.registry.auto-register"));
        assertNull(serde.get("batch.size"));
        assertEquals(8, s.batchSize());
    }

    @Test
    void theReducerAndItsBudgetAreSettingsWithTomeAsTheBudgetsOlderName() {
        Settings dflt = Settings.of(MINIMAL);
        assertEquals(Reducer.TOME, dflt.reducer());
        assertEquals("0", dflt.budget());
        assertEquals("8:-1", Settings.of(with("tome", "8:-1")).budget(), "old config files keep working");
        Settings pool = Settings.fromCommandLine(new String[] {"--set", "budget=8:-1"},
                Map.of("TOMESTREAM_MODEL_DIR", "m", "TOMESTREAM_KAFKA_BOOTSTRAP_SERVERS", "k:1", "TOMESTREAM_REDUCER", "pool"));
        assertEquals(Reducer.POOL, pool.reducer());
        assertEquals("8:-1", pool.budget());
        assertEquals("8", Settings.of(with("budget", "8", "tome", "8")).budget(), "both, agreeing");
    }

    @Test
    void theLoadAdaptiveBudgetHasALadderAndALatencyTarget() {
        Settings dflt = Settings.of(MINIMAL);
        assertFalse(dflt.budgetIsAuto());
        assertEquals("0;4:-1;8:-1;16:-1;24:-1", dflt.budgetLadder());
        assertEquals(1000, dflt.latencyTargetMs());
        assertEquals(5, dflt.batchCoalesceMs());
        assertEquals(1, dflt.streamThreads());
        Settings auto = Settings.fromCommandLine(new String[] {"--set", "budget=auto", "--set", "budget.ladder=0;16:-1"},
                Map.of("TOMESTREAM_MODEL_DIR", "m", "TOMESTREAM_KAFKA_BOOTSTRAP_SERVERS", "k:1", "TOMESTREAM_LATENCY_TARGET_MS", "250",
                        "TOMESTREAM_KAFKA_NUM_STREAM_THREADS", "3"));
        assertTrue(auto.budgetIsAuto());
        assertEquals("0;16:-1", auto.budgetLadder());
        assertEquals(250, auto.latencyTargetMs());
        assertEquals(3, auto.streamThreads());
        assertEquals("8", Settings.of(with("budget", "8")).budget());
        assertError("budget.ladder: '16:z': ToMe spec '16:z' doesn't parse", with("budget", "auto", "budget.ladder", "0;16:z"));
        assertError("budget.ladder must name at least one schedule", with("budget.ladder", " "));
        assertError("latency.target.ms must be a whole number from 1", with("latency.target.ms", "0"));
        assertError("(or 'auto', the load-adaptive budget)", with("budget", "fast"));
    }

    @Test
    void mistakesFailFastWithOneLine(@TempDir Path dir) {
        assertError("model.dir is required", Map.of("bootstrap.servers", "k:1"));
        assertError("bootstrap.servers is required", Map.of("model.dir", "m"));
        assertError("batch.size must be a whole number from 1 to 4096, got 'lots'", with("batch.size", "lots"));
        assertError("batch.size must be a whole number from 1 to 4096, got '0'", with("batch.size", "0"));
        assertError("batch.max.wait.ms must be a whole number", with("batch.max.wait.ms", "-5"));
        assertError("metrics.port must be a whole number from 0 to 65535, got '70000'", with("metrics.port", "70000"));
        assertError("image.max.bytes must be a whole number", with("image.max.bytes", "16MiB"));
        assertError("tome: ToMe spec '16:x' doesn't parse", with("tome", "16:x"));
        assertError("budget: ToMe spec '8:?' doesn't parse", with("budget", "8:?"));
        assertError("reducer must be one of tome, prune, pool, got 'merge'", with("reducer", "merge"));
        assertError("budget and tome name the same setting; give one (got '8' and '13')", with("budget", "8", "tome", "13"));
        assertError("warmup.seconds must be a number", with("warmup.seconds", "soon"));
        assertError("topic.input 'x' must differ", with("topic.input", "x", "topic.output", "x"));
        assertError("processing.guarantee", with("processing.guarantee", "exactly_once"));
        assertError("num.stream.threads", with("num.stream.threads", "two"));
        assertCommandLineError("config file " + dir.resolve("nope.properties") + " does not exist", "--config", dir.resolve("nope.properties").toString());
        assertCommandLineError("--set needs key=value, got 'batch.size'", "--set", "batch.size");
        assertCommandLineError("unknown option --model", "--model", "m");
        assertCommandLineError("--config needs a value", "--config");
        assertCommandLineError("run takes no positional arguments, got 'extra'", "extra");
        ConfigException ambiguous = assertThrows(ConfigException.class,
                () -> Settings.fromEnvironment(Map.of("TOMESTREAM_KAFKA_BATCH_SIZE", "65536")));
        assertEquals("TOMESTREAM_KAFKA_BATCH_SIZE names the app setting batch.size, not a Kafka one: use TOMESTREAM_BATCH_SIZE,"
                + " or TOMESTREAM_KAFKA_PRODUCER_BATCH_SIZE for the producer's", ambiguous.getMessage());
    }

    @Test
    void theRunCommandReportsBadSettingsInOneLineWithExitCode2() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Main.run(new String[] {"run", "--set", "bootstrap.servers=k:1"},
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(2, code);
        String e = err.toString(StandardCharsets.UTF_8);
        assertTrue(e.startsWith("tomestream: model.dir is required"), e);
        assertEquals(1, e.strip().lines().count(), e);
        assertEquals("", out.toString(StandardCharsets.UTF_8));
    }

    private static Map<String, String> with(String... kv) {
        Map<String, String> m = new java.util.HashMap<>(MINIMAL);
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return m;
    }

    private static void assertError(String fragment, Map<String, String> values) {
        ConfigException e = assertThrows(ConfigException.class, () -> Settings.of(values));
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }

    private static void assertCommandLineError(String fragment, String... argv) {
        ConfigException e = assertThrows(ConfigException.class, () -> Settings.fromCommandLine(argv, MINIMAL_ENV));
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
    }

    private static final Map<String, String> MINIMAL_ENV = Map.of("TOMESTREAM_MODEL_DIR", "m", "TOMESTREAM_KAFKA_BOOTSTRAP_SERVERS", "k:1");

    @Test
    void theSettingsLineHidesEverySecretAndNothingElse() {
        Settings s = Settings.of(Map.ofEntries(Map.entry("model.dir", "m"), Map.entry("bootstrap.servers", "broker:9093"),
                Map.entry("security.protocol", "SASL_SSL"),
                Map.entry("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"s3cret-1\";"),
                Map.entry("ssl.keystore.password", "s3cret-2"),
                Map.entry("producer.ssl.key.password", "s3cret-3"),
                Map.entry("listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config", "s3cret-4"),
                Map.entry("apicurio.registry.auth.client-secret", "s3cret-5"),
                Map.entry("apicurio.registry.tls.truststore.password", "s3cret-6"),
                Map.entry("basic.auth.user.info", "user:s3cret-7"),
                Map.entry("ssl.truststore.location", "/etc/trust.p12")));
        String line = s.redacted();
        for (String secret : new String[] {"s3cret-1", "s3cret-2", "s3cret-3", "s3cret-4", "s3cret-5", "s3cret-6", "s3cret-7", "ScramLoginModule"}) {
            assertFalse(line.contains(secret), secret + " in " + line);
        }
        assertTrue(line.contains("sasl.jaas.config=[hidden]"), line);
        assertTrue(line.contains("bootstrap.servers=broker:9093") && line.contains("ssl.truststore.location=/etc/trust.p12")
                && line.contains("security.protocol=SASL_SSL"), "what is not secret stays readable: " + line);
    }
}
