package io.tomestream.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

/**
 * A standalone Kafka broker in its own process, started by {@code deploy/local/kafka-broker} exactly as
 * deploy/local/README.md tells an operator: Maven's Kafka jars, a server.properties rendered from
 * deploy/local/server.properties.template, {@code kafka.tools.StorageTool format}, then
 * {@code kafka.Kafka}. Unlike {@link KafkaCluster}, nothing of it runs in the test JVM. Both its ports
 * are free ports on 127.0.0.1; {@link #close()} stops it with SIGTERM (SIGKILL after 30 s), and a
 * shutdown hook kills it should the test JVM end first.
 */
final class BrokerProcess implements AutoCloseable {
    static final Path SCRIPT = Pipelines.ROOT.resolve("deploy/local/kafka-broker");
    static final Path TEMPLATE = Pipelines.ROOT.resolve("deploy/local/server.properties.template");

    private final Process process;
    private final Path log;
    private final String bootstrap;
    private final Thread reaper;
    private Admin admin;

    private BrokerProcess(Process process, Path log, String bootstrap) {
        this.process = process;
        this.log = log;
        this.bootstrap = bootstrap;
        this.reaper = new Thread(process::destroyForcibly, "kill-kafka-broker");
        Runtime.getRuntime().addShutdownHook(reaper);
    }

    /** Starts a broker with its data in {@code dataDir} and waits until it answers an admin client. */
    static BrokerProcess start(Path dataDir, Path log, Duration timeout) {
        return start(dataDir, log, timeout, ApicurioRegistry.freePort(), ApicurioRegistry.freePort());
    }

    /** The same on given ports: a broker restarted on its data directory and ports is the same broker to its clients. */
    static BrokerProcess start(Path dataDir, Path log, Duration timeout, int port, int controllerPort) {
        ProcessBuilder pb = new ProcessBuilder(SCRIPT.toString(), dataDir.toString(), Integer.toString(port), Integer.toString(controllerPort))
                .directory(Pipelines.ROOT.toFile()).redirectErrorStream(true);
        Scripts.inheritMavenMode(pb);
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        BrokerProcess broker;
        try {
            Files.createDirectories(log.getParent());
            pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            broker = new BrokerProcess(pb.start(), log, "127.0.0.1:" + port);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            broker.awaitReady(timeout);
        } catch (RuntimeException | Error e) {
            broker.close();
            throw e;
        }
        return broker;
    }

    private void awaitReady(Duration timeout) {
        admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 5000, AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 2000));
        Pipelines.await(timeout, () -> {
            if (!process.isAlive()) throw new AssertionError("the broker exited with " + process.exitValue() + "; log " + log + ":\n" + logTail());
            try {
                return !admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).isEmpty();
            } catch (Exception e) {
                return false;
            }
        }, () -> "broker " + bootstrap + " ready; log " + log + ":\n" + logTail());
    }

    String bootstrapServers() {
        return bootstrap;
    }

    int port() {
        return Integer.parseInt(bootstrap.substring(bootstrap.lastIndexOf(':') + 1));
    }

    /** A shared admin client; do not close it. */
    Admin admin() {
        return admin;
    }

    void createTopics(int partitions, String... names) {
        KafkaCluster.createTopics(admin, partitions, names);
    }

    long pid() {
        return process.pid();
    }

    String logTail() {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    /** SIGTERM, which kafka.Kafka handles with a controlled shutdown; returns the exit status. */
    @Override
    public void close() {
        if (admin != null) admin.close(Duration.ofSeconds(2));
        process.destroy();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
            Runtime.getRuntime().removeShutdownHook(reaper);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        } catch (IllegalStateException shuttingDown) {
            // the hook runs anyway
        }
    }

    int exitValue() {
        return process.exitValue();
    }

    @Override
    public String toString() {
        return "BrokerProcess[" + bootstrap + ", pid " + process.pid() + "]";
    }
}
