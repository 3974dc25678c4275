package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.junit.jupiter.api.Assumptions;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;
import org.testcontainers.containers.output.OutputFrame;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.utility.DockerImageName;

import com.github.dockerjava.api.model.ExposedPort;
import com.github.dockerjava.api.model.PortBinding;
import com.github.dockerjava.api.model.Ports;

import io.tomestream.config.Settings;

/**
 * What the {@code *ContainerIT} tests share: the local images' names (deploy/containers/images.env),
 * the check that a daemon and those images are there, and the Kafka, registry and tomestream
 * containers, configured as compose.yaml configures them.
 */
final class Containers {
    static final Path IMAGES_ENV = Pipelines.ROOT.resolve("deploy/containers/images.env");
    static final Path LOGS = Path.of(System.getProperty("tomestream.it.work.dir", "target")).toAbsolutePath().resolve("containers");
    private static final String MODE = System.getProperty("tomestream.it.containers", "auto");
    private static final Map<String, String> NAMES = readEnvFile(IMAGES_ENV);

    private Containers() {
    }

    /** An image name from images.env, such as {@code image("KAFKA_IMAGE")}. */
    static String image(String variable) {
        String name = NAMES.get(variable);
        if (name == null) throw new IllegalStateException(variable + " is not in " + IMAGES_ENV);
        return name;
    }

    /**
     * Returns when a daemon answers and every local image is there. Otherwise the test is skipped with
     * a one-line reason, or, with {@code -Dtomestream.it.containers=required} (.ci/run), it fails.
     */
    static void assumeReady() {
        String missing = whyNotReady();
        if (missing == null) return;
        String reason = "container tests need " + missing;
        if (MODE.equals("required")) fail(reason + " (-Dtomestream.it.containers=required)");
        Assumptions.abort(reason);
    }

    private static String whyNotReady() {
        if (!DockerClientFactory.instance().isDockerAvailable()) {
            return "a Docker daemon: eval \"$(deploy/containers/engine up)\" (DOCKER_HOST=" + System.getenv("DOCKER_HOST") + ")";
        }
        for (String variable : List.of("KAFKA_IMAGE", "REGISTRY_IMAGE", "TOMESTREAM_IMAGE", "PROMETHEUS_IMAGE")) {
            String name = image(variable);
            try {
                DockerClientFactory.instance().client().inspectImageCmd(name).exec();
            } catch (RuntimeException e) {
                return "the image " + name + ": run deploy/containers/images";
            }
        }
        return null;
    }

    /** The image's size as the daemon reports it, in bytes. */
    static long imageSize(String name) {
        return DockerClientFactory.instance().client().inspectImageCmd(name).exec().getSize();
    }

    /**
     * A single KRaft node, reached as kafka:9092 on {@code network} and as localhost:{@code hostPort}
     * from this JVM. The external listener advertises that host port, so it is bound as it is (not
     * mapped to a random one): pick it with {@link ApicurioRegistry#freePort()}.
     */
    static GenericContainer<?> kafka(Network network, int hostPort) {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("KAFKA_NODE_ID", "1");
        env.put("KAFKA_PROCESS_ROLES", "broker,controller");
        env.put("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@kafka:9093");
        env.put("KAFKA_LISTENERS", "INTERNAL://:9092,CONTROLLER://:9093,EXTERNAL://:9094");
        env.put("KAFKA_ADVERTISED_LISTENERS", "INTERNAL://kafka:9092,EXTERNAL://localhost:" + hostPort);
        env.put("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,EXTERNAL:PLAINTEXT");
        env.put("KAFKA_INTER_BROKER_LISTENER_NAME", "INTERNAL");
        env.put("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER");
        env.put("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1");
        env.put("KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS", "1");
        env.put("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1");
        env.put("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1");
        env.put("KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS", "1");
        env.put("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR", "1");
        env.put("KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR", "1");
        env.put("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0");
        env.put("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false");
        // A killed producer's open transaction is aborted ~1 s after its timeout, not up to 10 s later.
        env.put("KAFKA_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS", "1000");
        return new GenericContainer<>(DockerImageName.parse(image("KAFKA_IMAGE")))
                .withNetwork(network).withNetworkAliases("kafka")
                .withEnv(env)
                .withExposedPorts(9094)
                .withCreateContainerCmdModifier(cmd -> cmd.getHostConfig().withPortBindings(
                        new PortBinding(Ports.Binding.bindPort(hostPort), ExposedPort.tcp(9094))))
                .withLogConsumer(log("kafka"))
                .waitingFor(Wait.forLogMessage(".*Kafka Server started.*", 1).withStartupTimeout(Duration.ofMinutes(2)));
    }

    /** Apicurio Registry with in-memory storage, registry:8080 on {@code network}. */
    static GenericContainer<?> registry(Network network) {
        return new GenericContainer<>(DockerImageName.parse(image("REGISTRY_IMAGE")))
                .withNetwork(network).withNetworkAliases("registry")
                .withEnv("APICURIO_STORAGE_KIND", "sql").withEnv("APICURIO_STORAGE_SQL_KIND", "h2")
                .withExposedPorts(8080)
                .withLogConsumer(log("registry"))
                .waitingFor(Wait.forHttp("/apis/registry/v3/system/info").forPort(8080).forStatusCode(200)
                        .withStartupTimeout(Duration.ofMinutes(3)));
    }

    /**
     * The project's image, configured by environment variables alone ({@link #environment}), ready
     * once {@code /health/ready} on its metrics port answers 200.
     */
    static GenericContainer<?> tomestream(Network network, String name, Map<String, String> settings) {
        int metricsPort = Integer.parseInt(settings.getOrDefault(Settings.METRICS_PORT, "9464"));
        return new GenericContainer<>(DockerImageName.parse(image("TOMESTREAM_IMAGE")))
                .withNetwork(network).withNetworkAliases(name)
                .withEnv(environment(settings))
                .withExposedPorts(metricsPort)
                .withLogConsumer(log(name))
                .waitingFor(Wait.forHttp("/health/ready").forPort(metricsPort).forStatusCode(200)
                        .withStartupTimeout(Duration.ofMinutes(3)));
    }

    /**
     * Settings as the app's environment variables: {@code TOMESTREAM_} for its own keys, dots as
     * underscores; {@code TOMESTREAM_KAFKA_} for the others, with {@code __} for a dash (Settings).
     */
    static Map<String, String> environment(Map<String, String> settings) {
        Map<String, String> env = new LinkedHashMap<>();
        settings.forEach((key, value) -> {
            String name = Settings.APP_KEYS.contains(key)
                    ? "TOMESTREAM_" + key.replace('.', '_')
                    : "TOMESTREAM_KAFKA_" + key.replace("-", "__").replace('.', '_');
            env.put(name.toUpperCase(Locale.ROOT), value);
        });
        return env;
    }

    /** Appends a container's output to target/containers/NAME.log. */
    static java.util.function.Consumer<OutputFrame> log(String name) {
        Path file = LOGS.resolve(name + ".log");
        try {
            Files.createDirectories(LOGS);
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return frame -> {
            try {
                Files.writeString(file, frame.getUtf8String(), StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
    }

    private static Map<String, String> readEnvFile(Path file) {
        Map<String, String> out = new LinkedHashMap<>();
        try {
            for (String line : Files.readAllLines(file)) {
                line = line.strip();
                if (line.isEmpty() || line.startsWith("#")) continue;
                int eq = line.indexOf('=');
                out.put(line.substring(0, eq), line.substring(eq + 1));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }
}
