package io.tomestream.streambench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A process the benchmark starts (the broker, the app), its output in a log file, and its CPU time read
 * from {@code /proc/PID/stat}, so that the app's CPU can be told apart from the broker's.
 */
final class ChildProcess implements AutoCloseable {
    /** Linux's USER_HZ: /proc reports CPU time in ticks of 1/100 s on every architecture Linux supports here. */
    private static final double MS_PER_TICK = 10.0;

    private final String name;
    private final Process process;
    private final Path log;
    /** The app's /metrics port; 0 for a process without one. */
    private int metricsPort;

    private ChildProcess(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
    }

    static ChildProcess start(String name, List<String> command, Map<String, String> env, Path log) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        return new ChildProcess(name, pb.start(), log);
    }

    /** User plus system CPU milliseconds so far; the launcher execs java, so this is the JVM's own. */
    double cpuMillis() throws IOException {
        String stat = Files.readString(Path.of("/proc", Long.toString(process.pid()), "stat"));
        // Fields after the command name, which is in parentheses and may contain spaces.
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * MS_PER_TICK;
    }

    ChildProcess withMetricsPort(int port) {
        metricsPort = port;
        return this;
    }

    /** A counter of this process's /metrics, NaN if unreadable. */
    double metric(String name) {
        return metricsPort > 0 ? metric(metricsPort, name) : Double.NaN;
    }

    boolean alive() {
        return process.isAlive();
    }

    /** Waits until {@code port} accepts connections, failing early if the process dies. */
    void awaitPort(int port, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) throw new IOException(name + " exited with " + process.exitValue() + "; see " + log);
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            } catch (IOException notYet) {
                Thread.sleep(100);
            }
        }
        throw new IOException(name + " did not open port " + port + " within " + timeout.toSeconds() + " s; see " + log);
    }

    Path log() {
        return log;
    }

    /**
     * A counter's value from the app's Prometheus endpoint, or NaN when it can't be read.
     */
    static double metric(int port, String name) {
        try {
            java.net.http.HttpClient client = java.net.http.HttpClient.newHttpClient();
            String body = client.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port + "/metrics"))
                    .timeout(Duration.ofSeconds(5)).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body();
            for (String line : body.lines().toList()) {
                if (line.startsWith(name + " ") || line.startsWith(name + "{")) return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return Double.NaN;
    }

    /** SIGTERM, then SIGKILL after 30 s. */
    @Override
    public void close() throws InterruptedException {
        if (!process.isAlive()) return;
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
