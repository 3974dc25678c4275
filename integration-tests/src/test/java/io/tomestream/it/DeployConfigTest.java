package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.StringReader;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.streams.StreamsConfig;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;

import io.tomestream.config.ConfigException;
import io.tomestream.config.Settings;

/**
 * Static checks of deploy/: the container images, compose and Kubernetes set only settings the app
 * reads, agree on its ports and endpoints, and start the same launcher the README uses. The known
 * settings come from the app itself ({@link Settings#APP_KEYS} and its environment mapping, Kafka's
 * config definitions, the Apicurio serdes' config constants), never from a copy.
 */
class DeployConfigTest {
    private static final Path DEPLOY = Pipelines.ROOT.resolve("deploy");
    private static final Path DOCKERFILE = DEPLOY.resolve("docker/Dockerfile"), DOCKERFILE_GPU = DEPLOY.resolve("docker/Dockerfile.gpu");
    private static final Path COMPOSE = DEPLOY.resolve("compose/compose.yaml");
    private static final Path K8S = DEPLOY.resolve("k8s");
    /** The app's services in compose; the others are Kafka's, the registry's and Prometheus' images. */
    private static final Set<String> APP_SERVICES = Set.of("tomestream", "send-images");
    /** The launcher's own variables (not settings): bin/tomestream must read each. */
    private static final Set<String> LAUNCHER_VARS = Set.of("TOMESTREAM_SKIP_BUILD", "TOMESTREAM_JAVA_OPTS");
    /** TornadoVM's SDK location: the launcher or the engine's backend selection must read each. */
    private static final Set<String> TORNADO_VARS = Set.of("TORNADO_SDK", "TORNADOVM_HOME");
    /** The platform's, read by the JVM, the shell or the NVIDIA container runtime. */
    private static final Set<String> PLATFORM_VARS = Set.of("JAVA_HOME", "PATH", "NVIDIA_DRIVER_CAPABILITIES", "NVIDIA_VISIBLE_DEVICES");
    private static final Set<String> CLIENT_PREFIXES = Set.of("consumer.", "producer.", "admin.", "main.consumer.",
            "restore.consumer.", "global.consumer.", "topic.");
    private static final List<String> APICURIO_CONFIG_CLASSES = List.of(
            "io.apicurio.registry.serde.config.SerdeConfig",
            "io.apicurio.registry.resolver.config.SchemaResolverConfig",
            "io.apicurio.registry.serde.avro.AvroSerdeConfig",
            "io.apicurio.registry.serde.kafka.config.KafkaSerdeConfig",
            "io.apicurio.registry.serde.kafka.headers.DefaultHeadersHandlerConfig");

    // ---------------------------------------------------------------- environment variables and keys

    @Test
    void everyEnvironmentVariableTheImagesComposeAndKubernetesSetIsOneTheAppReads() throws IOException {
        Map<String, String> all = new LinkedHashMap<>();
        all.putAll(dockerfileEnv(DOCKERFILE));
        all.putAll(dockerfileEnv(DOCKERFILE_GPU));
        composeServices().forEach((name, service) -> {
            if (APP_SERVICES.contains(name)) all.putAll(stringMap(service.get("environment")));
        });
        all.putAll(kubernetesEnv());
        assertTrue(all.size() > 20, "found the variables: " + all.keySet());
        List<String> unknown = new ArrayList<>();
        all.forEach((name, value) -> {
            String why = unknownVariable(name, value);
            if (why != null) unknown.add(why);
        });
        assertTrue(unknown.isEmpty(), "variables the app does not read:\n  " + String.join("\n  ", unknown));
    }

    @Test
    void theCheckRejectsMisspeltVariables() {
        // So that the test above can fail: a typo in an app setting, a Kafka key and a serde key.
        assertTrue(unknownVariable("TOMESTREAM_BATCH_SIZ", "16") != null);
        assertTrue(unknownVariable("TOMESTREAM_KAFKA_BOOTSTRAP_SERVER", "k:9092") != null);
        assertTrue(unknownVariable("TOMESTREAM_KAFKA_APICURIO_REGISTRY_USE_ID", "contentId") != null, "use-id needs __ for its dash");
        assertTrue(unknownVariable("TORNADO_HOME", "/opt/tornadovm") != null);
        assertTrue(unknownVariable("TOMESTREAM_BATCH_SIZE", "lots") != null, "values are checked too");
        assertEquals(null, unknownVariable("TOMESTREAM_KAFKA_APICURIO_REGISTRY_USE__ID", "contentId"));
        assertEquals(null, unknownVariable("TOMESTREAM_KAFKA_PRODUCER_LINGER_MS", "5"));
    }

    @Test
    void theKubernetesPropertiesFileHoldsOnlyKnownKeysAndLoads() throws IOException {
        Properties p = configMapProperties();
        List<String> unknown = new ArrayList<>();
        for (String key : p.stringPropertyNames()) if (!Settings.APP_KEYS.contains(key) && !isKnownClientKey(key)) unknown.add(key);
        assertTrue(unknown.isEmpty(), "unknown keys in the ConfigMap: " + unknown);
        Path file = Files.createTempFile("tomestream", ".properties");
        try {
            Files.writeString(file, configMap().get("tomestream.properties"));
            Settings s = Settings.load(file, Map.of(), Map.of());
            assertEquals("io.apicurio.registry.serde.avro.AvroSerde", s.valueSerde());
        } finally {
            Files.delete(file);
        }
    }

    /** Null if the app (or the launcher, or the platform) reads {@code name}; else why not. */
    static String unknownVariable(String name, String value) {
        if (PLATFORM_VARS.contains(name)) return null;
        if (LAUNCHER_VARS.contains(name)) return read(Pipelines.ROOT.resolve("bin/tomestream")).contains(name) ? null : name + ": bin/tomestream doesn't read it";
        if (TORNADO_VARS.contains(name)) {
            boolean read = read(Pipelines.ROOT.resolve("bin/tomestream")).contains(name)
                    || read(Pipelines.ROOT.resolve("tornado-kernels/src/main/java/io/tomestream/backend/select/Backends.java")).contains(name);
            return read ? null : name + ": neither bin/tomestream nor the backend selection reads it";
        }
        if (!name.startsWith("TOMESTREAM_")) return name + ": not a tomestream variable";
        // The app's own mapping decides which key a variable sets: the one whose value it changes.
        Map<String, String> env = new HashMap<>(Map.of("TOMESTREAM_MODEL_DIR", "/m", "TOMESTREAM_KAFKA_BOOTSTRAP_SERVERS", "k:9092"));
        Map<String, String> base;
        try {
            base = Settings.load(null, env, Map.of()).values();
            env.put(name, value == null ? "" : value);
            Map<String, String> with = Settings.load(null, env, Map.of()).values();
            Set<String> added = new TreeSet<>();
            with.forEach((k, v) -> {
                if (!v.equals(base.get(k))) added.add(k);
            });
            if (added.isEmpty()) {
                // The value equals a default (or one of the two above): the key is a defaulted one whose
                // documented variable name is this one.
                base.forEach((k, v) -> {
                    if (v.equals(value) && envName(k).equals(name)) added.add(k);
                });
                if (added.isEmpty()) return name + ": the app ignores it";
            }
            String key = added.iterator().next();
            return Settings.APP_KEYS.contains(key) || isKnownClientKey(key) ? null : name + ": sets '" + key + "', which neither Kafka nor the registry serde knows";
        } catch (ConfigException e) {
            return name + "=" + value + ": " + e.getMessage();
        }
    }

    /** The variable Settings' class comment documents for {@code key}. */
    private static String envName(String key) {
        String upper = key.toUpperCase(java.util.Locale.ROOT);
        return Settings.APP_KEYS.contains(key) ? "TOMESTREAM_" + upper.replace('.', '_')
                : "TOMESTREAM_KAFKA_" + upper.replace("-", "__").replace('.', '_');
    }

    /** A Kafka Streams, consumer, producer or admin key (also with its client prefix), or an Apicurio serde key. */
    static boolean isKnownClientKey(String key) {
        Set<String> kafka = new java.util.HashSet<>(StreamsConfig.configDef().names());
        kafka.addAll(ConsumerConfig.configNames());
        kafka.addAll(ProducerConfig.configNames());
        kafka.addAll(AdminClientConfig.configNames());
        if (kafka.contains(key)) return true;
        for (String prefix : CLIENT_PREFIXES) if (key.startsWith(prefix) && kafka.contains(key.substring(prefix.length()))) return true;
        return apicurioKeys().contains(key);
    }

    private static Set<String> apicurioKeys() {
        Set<String> keys = new TreeSet<>();
        for (String className : APICURIO_CONFIG_CLASSES) {
            try {
                for (Field f : Class.forName(className).getFields()) {
                    if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class && f.get(null) instanceof String v && v.startsWith("apicurio.")) {
                        keys.add(v);
                    }
                }
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("the Apicurio serde config class " + className + " is gone: update this list", e);
            }
        }
        return keys;
    }

    // ---------------------------------------------------------------- ports, endpoints, launcher

    @Test
    void portsAgreeWithTheAppsMetricsPort() throws IOException {
        int port = Settings.of(Map.of(Settings.MODEL_DIR, "/m", StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "k:9092")).metricsPort();
        for (Path dockerfile : List.of(DOCKERFILE, DOCKERFILE_GPU)) {
            assertEquals(String.valueOf(port), dockerfileEnv(dockerfile).get("TOMESTREAM_METRICS_PORT"), dockerfile + " TOMESTREAM_METRICS_PORT");
            assertEquals(List.of(String.valueOf(port)), instructions(dockerfile, "EXPOSE"), dockerfile + " EXPOSE");
        }
        assertTrue(read(DEPLOY.resolve("docker/healthcheck")).contains("${TOMESTREAM_METRICS_PORT:-" + port + "}"), "the health check's port");

        Map<String, Object> app = composeServices().get("tomestream");
        String composePort = stringMap(app.get("environment")).get("TOMESTREAM_METRICS_PORT");
        assertEquals(String.valueOf(port), composePort);
        assertEquals(List.of(port + ":" + composePort), app.get("ports"), "compose publishes the metrics port");
        assertTrue(read(DEPLOY.resolve("compose/prometheus.yml")).contains("\"tomestream:" + composePort + "\""), "Prometheus scrapes it");

        assertEquals(String.valueOf(port), configMapProperties().getProperty("metrics.port"));
        Map<String, Object> deployment = kubernetes("base/deployment.yaml");
        Map<String, Object> container = container(deployment);
        Map<String, Object> containerPort = list(container.get("ports")).getFirst();
        assertEquals(port, containerPort.get("containerPort"));
        String portName = (String) containerPort.get("name");
        for (String probe : List.of("startupProbe", "livenessProbe", "readinessProbe")) {
            Map<String, Object> get = map(map(container.get(probe)).get("httpGet"));
            assertEquals(portName, get.get("port"), probe);
            assertTrue(Set.of("/health/live", "/health/ready").contains(get.get("path")), probe + " " + get.get("path"));
        }
        assertEquals("/health/ready", map(map(container.get("readinessProbe")).get("httpGet")).get("path"));
        Map<String, Object> service = kubernetes("base/service.yaml");
        for (Map<String, Object> annotated : List.of(map(map(map(deployment.get("spec")).get("template")).get("metadata")), map(service.get("metadata")))) {
            Map<String, String> a = stringMap(annotated.get("annotations"));
            assertEquals(String.valueOf(port), a.get("prometheus.io/port"));
            assertEquals("/metrics", a.get("prometheus.io/path"));
        }
        assertEquals(portName, list(map(service.get("spec")).get("ports")).getFirst().get("targetPort"));
    }

    @Test
    void imagesRunTheLauncherTheReadmeUses() {
        for (Path dockerfile : List.of(DOCKERFILE, DOCKERFILE_GPU)) {
            assertEquals(List.of("[\"/opt/tomestream/bin/tomestream\"]"), instructions(dockerfile, "ENTRYPOINT"), dockerfile + " ENTRYPOINT");
            assertEquals(List.of("[\"run\"]"), instructions(dockerfile, "CMD"), dockerfile + " CMD");
            assertTrue(read(dockerfile).contains("deploy/install /opt/tomestream"), dockerfile + " installs into /opt/tomestream");
        }
        assertTrue(Pattern.compile("cp \"\\$root/bin/tomestream\" ").matcher(read(DEPLOY.resolve("install"))).find(), "deploy/install copies bin/tomestream");
        assertTrue(read(Pipelines.ROOT.resolve("README.md")).contains("bin/tomestream run "), "the README's launcher");
        assertTrue(read(DEPLOY.resolve("README.md")).contains("bin/tomestream run "), "deploy/README.md's launcher");
        assertEquals("run", ((List<?>) container(kubernetes("base/deployment.yaml")).get("args")).getFirst(), "Kubernetes runs `run`");
        assertEquals("/opt/tomestream/bin/send-images", ((List<?>) composeServices().get("send-images").get("entrypoint")).getFirst());
    }

    @Test
    void gracePeriodsOutlastTheShutdownTimeout() throws IOException {
        long shutdownS = Long.parseLong(configMapProperties().getProperty("shutdown.timeout.ms")) / 1000;
        Object grace = map(map(map(kubernetes("base/deployment.yaml").get("spec")).get("template")).get("spec")).get("terminationGracePeriodSeconds");
        assertTrue(((Number) grace).longValue() >= shutdownS + 5, "terminationGracePeriodSeconds " + grace + " vs shutdown.timeout.ms");
        Map<String, Object> app = composeServices().get("tomestream");
        long composeShutdownS = Long.parseLong(stringMap(app.get("environment")).get("TOMESTREAM_SHUTDOWN_TIMEOUT_MS")) / 1000;
        String stop = (String) app.get("stop_grace_period");
        assertTrue(Long.parseLong(stop.replace("s", "")) >= composeShutdownS + 5, "stop_grace_period " + stop);
    }

    @Test
    void autoscalingStaysWithinTheInputPartitionsAndWatchesTheAppsGroup() throws IOException {
        Properties p = configMapProperties();
        Map<String, Object> so = kubernetes("base/scaledobject.yaml");
        Map<String, Object> spec = map(so.get("spec"));
        Map<String, String> trigger = stringMap(list(spec.get("triggers")).getFirst().get("metadata"));
        assertEquals(p.getProperty("application.id"), trigger.get("consumerGroup"));
        assertEquals(p.getProperty("topic.input"), trigger.get("topic"));
        assertEquals(p.getProperty("bootstrap.servers"), trigger.get("bootstrapServers"));
        // The partition count is set where the topics are created: compose's topics service.
        Matcher m = Pattern.compile(Pattern.quote(p.getProperty("topic.input")) + ":(\\d+)").matcher(read(COMPOSE));
        assertTrue(m.find(), "compose creates " + p.getProperty("topic.input"));
        int partitions = Integer.parseInt(m.group(1));
        assertTrue(((Number) spec.get("maxReplicaCount")).intValue() <= partitions, "maxReplicaCount <= " + partitions + " partitions");
        assertTrue(read(K8S.resolve("base/scaledobject.yaml")).contains("(" + p.getProperty("topic.input") + " has " + partitions + ")"),
                "the ScaledObject's comment names the partition count");
    }

    // ---------------------------------------------------------------- parsing

    /** ENV of a Dockerfile, {@code NAME=value} pairs over continued lines. */
    static Map<String, String> dockerfileEnv(Path dockerfile) {
        Map<String, String> env = new LinkedHashMap<>();
        Pattern pair = Pattern.compile("([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|\\S*)");
        for (String args : instructions(dockerfile, "ENV")) {
            Matcher m = pair.matcher(args);
            while (m.find()) env.put(m.group(1), m.group(2).replaceAll("^\"|\"$", ""));
        }
        return env;
    }

    /** The arguments of every {@code instruction} in a Dockerfile, continuation lines joined. */
    static List<String> instructions(Path dockerfile, String instruction) {
        List<String> out = new ArrayList<>();
        String joined = read(dockerfile).replaceAll("\\\\\\n", " ");
        for (String line : joined.split("\n")) {
            String l = line.strip();
            if (l.startsWith(instruction + " ")) out.add(l.substring(instruction.length()).strip());
        }
        return out;
    }

    private static Map<String, Map<String, Object>> composeServices() {
        Map<String, Object> compose = yaml(COMPOSE).getFirst();
        Map<String, Map<String, Object>> services = new LinkedHashMap<>();
        map(compose.get("services")).forEach((k, v) -> services.put(k, map(v)));
        return services;
    }

    /** Env names (and literal values) of the base Deployment and of every overlay patch that adds env. */
    private static Map<String, String> kubernetesEnv() throws IOException {
        Map<String, String> env = new LinkedHashMap<>();
        for (Map<String, Object> e : list(container(kubernetes("base/deployment.yaml")).get("env"))) env.put((String) e.get("name"), (String) e.get("value"));
        try (var overlays = Files.list(K8S.resolve("overlays"))) {
            for (Path overlay : overlays.toList()) {
                try (var files = Files.list(overlay)) {
                    for (Path f : files.filter(f -> !f.getFileName().toString().equals("kustomization.yaml")).toList()) {
                        for (Object op : (List<?>) new Yaml().load(read(f))) {
                            Map<String, Object> o = map(op);
                            if (String.valueOf(o.get("path")).contains("/env") && o.get("value") instanceof Map<?, ?> v) {
                                env.put((String) v.get("name"), (String) v.get("value"));
                            }
                        }
                    }
                }
            }
        }
        return env;
    }

    private static Map<String, String> configMap() {
        return stringMap(kubernetes("base/configmap.yaml").get("data"));
    }

    private static Properties configMapProperties() throws IOException {
        Properties p = new Properties();
        p.load(new StringReader(configMap().get("tomestream.properties")));
        return p;
    }

    private static Map<String, Object> kubernetes(String file) {
        return yaml(K8S.resolve(file)).getFirst();
    }

    private static Map<String, Object> container(Map<String, Object> deployment) {
        return list(map(map(map(deployment.get("spec")).get("template")).get("spec")).get("containers")).getFirst();
    }

    private static List<Map<String, Object>> yaml(Path file) {
        List<Map<String, Object>> docs = new ArrayList<>();
        for (Object doc : new Yaml(new LoaderOptions()).loadAll(read(file))) if (doc != null) docs.add(map(doc));
        return docs;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o) {
        assertTrue(o instanceof Map, "expected a mapping, got " + o);
        return (Map<String, Object>) o;
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> list(Object o) {
        assertTrue(o instanceof List, "expected a list, got " + o);
        return (List<Map<String, Object>>) o;
    }

    private static Map<String, String> stringMap(Object o) {
        if (o == null) return Map.of();
        Map<String, String> out = new LinkedHashMap<>();
        map(o).forEach((k, v) -> {
            if (!k.equals("<<")) out.put(k, v == null ? null : String.valueOf(v));
        });
        return out;
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
