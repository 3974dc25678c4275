package io.tomestream.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One Kafka node (KRaft, broker and controller) in its own process, on Maven's Kafka jars (the class
 * path deploy/local resolves), with a server.properties the test writes: for clusters that the
 * standalone single-node template does not describe (several nodes, secured listeners). Its storage is
 * formatted once; {@link #stop()} and {@link #start()} take it down and up again on the same data.
 */
final class KafkaNode implements AutoCloseable {
    private static final Path CLASSPATH = Pipelines.ROOT.resolve("deploy/local/target/kafka.classpath");

    final int id;
    private final Path dir, config, log;
    private Process process;

    /** Writes {@code properties}, formats the storage with {@code clusterId} (plus {@code formatArgs}), and starts the node. */
    KafkaNode(int id, Path dir, Map<String, String> properties, String clusterId, String... formatArgs) {
        this.id = id;
        this.dir = dir;
        this.config = dir.resolve("server.properties");
        this.log = dir.resolve("node.log");
        StringBuilder out = new StringBuilder();
        properties.forEach((k, v) -> out.append(k).append('=').append(v.replace("\\", "\\\\")).append('\n'));
        try {
            Files.createDirectories(dir);
            Files.writeString(config, out.toString(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String> format = new ArrayList<>(List.of("format", "-t", clusterId, "-c", config.toString()));
        format.addAll(List.of(formatArgs));
        Scripts.run(java("kafka.tools.StorageTool", format.toArray(String[]::new)), dir.resolve("format.log"), 120);
        start();
    }

    synchronized void start() {
        try {
            process = new ProcessBuilder(java("kafka.Kafka", config.toString())).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Process p = process;
        Runtime.getRuntime().addShutdownHook(new Thread(p::destroyForcibly));
    }

    /** SIGTERM (a controlled shutdown), SIGKILL after 30 s. */
    synchronized void stop() {
        if (process == null) return;
        process.destroy();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        process = null;
    }

    boolean isAlive() {
        Process p = process;
        return p != null && p.isAlive();
    }

    Path dir() {
        return dir;
    }

    String tail() {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    @Override
    public void close() {
        stop();
    }

    /** A random cluster id in Kafka's format (22 characters of URL-safe base64). */
    static String newClusterId() {
        return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(
                java.nio.ByteBuffer.allocate(16).putLong(System.nanoTime()).putLong(new java.util.Random().nextLong()).array());
    }

    private static List<String> java(String main, String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--sun-misc-unsafe-memory-access=allow", "-Xmx512m", "-XX:+UseSerialGC", "-cp", classpath(), main));
        cmd.addAll(List.of(args));
        return cmd;
    }

    private static synchronized String classpath() {
        try {
            if (!Files.isRegularFile(CLASSPATH)) {
                Files.createDirectories(CLASSPATH.getParent());
                Scripts.run(List.of("./mvnw", "-q", "-B", "-ntp", "-f", "deploy/local/kafka-pom.xml", "dependency:build-classpath",
                        "-Dmdep.outputFile=" + CLASSPATH), CLASSPATH.resolveSibling("classpath.log"), 300);
            }
            return Files.readString(CLASSPATH).strip();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
