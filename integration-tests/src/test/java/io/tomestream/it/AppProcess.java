package io.tomestream.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * One instance of the streaming app in its own JVM, started exactly as a user starts it:
 * {@code bin/tomestream run --config FILE [--set k=v ...]}, with {@code TOMESTREAM_SKIP_BUILD=1} (the
 * reactor has just packaged {@code topology/target/tomestream.jar} and {@code target/lib}). The launcher
 * {@code exec}s java, so this process IS the app's JVM: {@link #kill()} is a SIGKILL to it, with no
 * shutdown hook, no commit and no leaving the group; {@link #stop()} is a SIGTERM, the clean shutdown.
 * Its stdout and stderr go to a log file, which failures quote.
 */
final class AppProcess implements AutoCloseable {
    /**
     * The exit status after SIGTERM: 128 + 15. The JVM reports the signal once its shutdown hooks have
     * run, whatever main returns; {@link #stop()} also requires the app's "stopped" log line, which its
     * hook writes after Kafka Streams has closed.
     */
    static final int EXIT_ON_SIGTERM = 143;

    static final Path LAUNCHER = Pipelines.ROOT.resolve("bin/tomestream");
    private static final Path JAR = Pipelines.ROOT.resolve("topology/target/tomestream.jar");

    private final String name;
    private final Path log;
    private final Process process;
    private final Thread reaper;

    private AppProcess(String name, Path log, Process process) {
        this.name = name;
        this.log = log;
        this.process = process;
        // Should the test JVM end early, the instance must not outlive it.
        this.reaper = new Thread(process::destroyForcibly, "kill-" + name);
        Runtime.getRuntime().addShutdownHook(reaper);
    }

    /**
     * The settings of one instance: the fixture model, one engine thread (several instances share 2
     * cores), no metrics port, its own state.dir and client.id, and group and transaction timeouts short
     * enough that a killed instance's partitions move within seconds: its session expires after 6 s, and
     * its open transaction is aborted 5 s after its last write (plus the broker's 1 s check interval).
     */
    static Map<String, String> settings(String bootstrap, String applicationId, String input, String output, String dlq,
                                        Path stateDir, String clientId, int batchSize, long batchMaxWaitMs) {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        m.put("model.dir", Pipelines.MODEL.toString());
        m.put("tome", Pipelines.TOME);
        m.put("threads", "1");
        m.put("top.k", "3");
        m.put("batch.size", Integer.toString(batchSize));
        m.put("batch.max.wait.ms", Long.toString(batchMaxWaitMs));
        m.put("warmup.seconds", "0");
        m.put("metrics.port", "0");
        m.put("topic.input", input);
        m.put("topic.output", output);
        m.put("topic.dlq", dlq);
        m.put("bootstrap.servers", bootstrap);
        m.put("application.id", applicationId);
        m.put("client.id", clientId);
        m.put("state.dir", stateDir.toString());
        m.put("session.timeout.ms", "6000");
        m.put("heartbeat.interval.ms", "1000");
        m.put("producer.transaction.timeout.ms", "5000");
        return m;
    }

    /** Writes a config file with the given settings, for {@code --config}. */
    static Path writeConfig(Path file, Map<String, String> settings) {
        Properties p = new Properties();
        p.putAll(settings);
        try {
            Files.createDirectories(file.getParent());
            try (var w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
                p.store(w, "written by " + AppProcess.class.getSimpleName());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    /** Starts {@code bin/tomestream run --config config --set s...}; returns once the process exists. */
    static AppProcess start(String name, Path config, Path log, String... sets) {
        if (!Files.isRegularFile(JAR)) {
            throw new IllegalStateException(JAR + " is missing: run the integration tests through the reactor "
                    + "(./mvnw verify -pl integration-tests -am), which packages the topology first");
        }
        return start(name, LAUNCHER, config, log, Map.of(), sets);
    }

    /**
     * Like {@link #start(String, Path, Path, String...)}, with another launcher (that of an install made
     * by deploy/install) and {@code TOMESTREAM_*} settings in the environment, as a container gets them.
     */
    static AppProcess start(String name, Path launcher, Path config, Path log, Map<String, String> settingsEnv, String... sets) {
        List<String> command = new ArrayList<>(List.of(launcher.toString(), "run", "--config", config.toString()));
        for (String s : sets) {
            command.add("--set");
            command.add(s);
        }
        ProcessBuilder pb = new ProcessBuilder(command).directory(Pipelines.ROOT.toFile()).redirectErrorStream(true);
        try {
            Files.createDirectories(log.getParent());
            pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, String> env = pb.environment();
        env.put("TOMESTREAM_SKIP_BUILD", "1");
        env.put("JAVA_HOME", System.getProperty("java.home"));
        // Three of these share 2 cores with the broker and the tests: keep each one small.
        env.put("TOMESTREAM_JAVA_OPTS", "-Xmx256m -XX:ParallelGCThreads=1 -XX:CICompilerCount=2");
        env.keySet().removeIf(k -> k.startsWith("TOMESTREAM_") && !k.equals("TOMESTREAM_SKIP_BUILD") && !k.equals("TOMESTREAM_JAVA_OPTS"));
        env.putAll(settingsEnv);
        try {
            return new AppProcess(name, log, pb.start());
        } catch (IOException e) {
            throw new UncheckedIOException("could not start " + command, e);
        }
    }

    /**
     * Starts {@code mainClass} of the test class path in a JVM of its own, with {@code args}: an app
     * built around a fake engine, which only a test can have.
     */
    static AppProcess startTestMain(String name, Class<?> mainClass, Path log, String... args) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx256m", "-XX:ParallelGCThreads=1",
                "-cp", System.getProperty("java.class.path"), mainClass.getName()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).directory(Pipelines.ROOT.toFile()).redirectErrorStream(true);
        try {
            Files.createDirectories(log.getParent());
            pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
            return new AppProcess(name, log, pb.start());
        } catch (IOException e) {
            throw new UncheckedIOException("could not start " + command, e);
        }
    }

    String name() {
        return name;
    }

    long pid() {
        return process.pid();
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /** SIGKILL: the JVM dies on the spot. */
    void kill() {
        process.destroyForcibly();
        awaitExit(10);
    }

    /** SIGTERM: the app's shutdown hook closes Kafka Streams cleanly. Returns the exit code. */
    int stop() {
        process.destroy();
        if (!awaitExit(60)) {
            process.destroyForcibly();
            awaitExit(10);
            throw new AssertionError(name + " did not stop within 60 s of SIGTERM; log " + log + ":\n" + logTail());
        }
        String tail = logTail();
        if (!tail.contains("StreamingApp - stopped") || tail.contains("did not stop within")) {
            throw new AssertionError(name + " did not shut down cleanly on SIGTERM; log " + log + ":\n" + tail);
        }
        return process.exitValue();
    }

    /** Waits for the instance to exit by itself; returns its exit code, or fails after {@code seconds}. */
    int awaitOwnExit(int seconds) {
        if (!awaitExit(seconds)) throw new AssertionError(name + " still runs after " + seconds + " s; log " + log + ":\n" + logTail());
        return process.exitValue();
    }

    private boolean awaitExit(int seconds) {
        try {
            boolean exited = process.waitFor(seconds, TimeUnit.SECONDS);
            if (exited) {
                try {
                    Runtime.getRuntime().removeShutdownHook(reaper);
                } catch (IllegalStateException shuttingDown) {
                    // the hook runs anyway
                }
            }
            return exited;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** The last 40 lines of the instance's log. */
    String logTail() {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException | UncheckedIOException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    /** Fails, with the log, if the instance has exited. */
    void assertAlive() {
        if (!process.isAlive()) {
            throw new AssertionError(name + " exited with " + process.exitValue() + "; log " + log + ":\n" + logTail());
        }
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
            awaitExit(10);
        }
    }

    @Override
    public String toString() {
        return name + "[pid " + process.pid() + "]";
    }
}
