package io.tomestream.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real Apicurio Registry 3.x server, run as a child process of the test JVM.
 *
 * <p>The server is the Quarkus fast-jar of {@code io.apicurio:apicurio-registry-app:tar.gz:all},
 * which the build unpacks into {@code target/apicurio-registry} (system property
 * {@code tomestream.it.apicurio.home}). It runs on the test JVM's own {@code java} with its default
 * in-memory (H2) storage, so every start is an empty registry. Both its HTTP ports are free ports on
 * 127.0.0.1: the API port and Quarkus' management port (the management interface is fixed "on" at
 * the app's build time, so {@code quarkus.management.enabled=false} is ignored; it is moved off the
 * default {@code 0.0.0.0:9000} instead). Its stdout and stderr go to {@code target/apicurio.log}
 * (then {@code apicurio-2.log}, ... for further instances in the same JVM).
 *
 * <p>{@link #launch()} returns as soon as the process is spawned, so the caller can start the broker
 * meanwhile; every URL accessor waits until the registry answers. The process is destroyed by
 * {@link #close()}, by a JVM shutdown hook, and, should the test JVM have been killed, by the next
 * launch (which reaps the orphan recorded in {@code target/apicurio.pid}).
 */
public final class ApicurioRegistry implements AutoCloseable {

    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(180);
    private static final AtomicInteger INSTANCES = new AtomicInteger();

    private final Path home;
    private final Path logFile;
    private final Path pidFile;
    private final int instance;
    private HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    /** Extra flags (HTTPS, file storage), and the scheme the URLs use. */
    private List<String> extraArgs = List.of();
    private String scheme = "http";

    private int port;
    private int managementPort;
    private Process process;
    private Thread shutdownHook;
    private long launchedAtNanos;
    private volatile boolean ready;
    private volatile long startupMillis = -1;

    private ApicurioRegistry(Path home, Path logFile, Path pidFile, int instance) {
        this.home = home;
        this.logFile = logFile;
        this.pidFile = pidFile;
        this.instance = instance;
    }

    /** Spawns a registry process on free ports and returns without waiting for it to be ready. */
    public static ApicurioRegistry launch() {
        ApicurioRegistry registry = prepare();
        registry.spawn();
        return registry;
    }

    private static ApicurioRegistry prepare() {
        Path home = Path.of(System.getProperty("tomestream.it.apicurio.home", "target/apicurio-registry"));
        if (!Files.isRegularFile(home.resolve("quarkus-run.jar"))) {
            throw new IllegalStateException("no Apicurio Registry at " + home.toAbsolutePath()
                    + ": run the tests through `mvn verify` (its pre-integration-test phase unpacks"
                    + " io.apicurio:apicurio-registry-app:tar.gz:all there)");
        }
        Path work = Path.of(System.getProperty("tomestream.it.work.dir", "target"));
        int n = INSTANCES.incrementAndGet();
        String suffix = n == 1 ? "" : "-" + n;
        Path log = Path.of(System.getProperty("tomestream.it.apicurio.log", work.resolve("apicurio.log").toString()));
        if (n > 1) {
            String name = log.getFileName().toString().replaceFirst("\\.log$", "");
            log = log.resolveSibling(name + suffix + ".log");
        }
        ApicurioRegistry registry = new ApicurioRegistry(home, log, work.resolve("apicurio" + suffix + ".pid"), n);
        registry.reapOrphan();
        registry.port = freePort();
        registry.managementPort = freePort();
        return registry;
    }

    /**
     * A registry served over HTTPS only, through Quarkus' TLS registry: {@code keystore} (PKCS12) holds
     * its certificate, {@code trust} is how the tests' own probes trust it. Waits until ready.
     */
    public static ApicurioRegistry startTls(Path keystore, String password, javax.net.ssl.SSLContext trust) {
        ApicurioRegistry registry = prepare();
        registry.extraArgs = List.of(
                "-Dquarkus.http.ssl-port=" + registry.port,
                "-Dquarkus.http.insecure-requests=disabled",
                "-Dquarkus.tls.key-store.p12.path=" + keystore.toAbsolutePath(),
                "-Dquarkus.tls.key-store.p12.password=" + password);
        registry.scheme = "https";
        registry.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).sslContext(trust).build();
        registry.spawn();
        return registry.awaitReady();
    }

    /**
     * A registry whose storage is an H2 file in {@code dir}, so that it keeps its schemas and ids
     * across {@link #stop()} and {@link #resume()}: an outage, not a new, empty registry. Waits until ready.
     */
    public static ApicurioRegistry startWithFileStorage(Path dir) {
        ApicurioRegistry registry = prepare();
        registry.extraArgs = List.of("-Dapicurio.datasource.url=jdbc:h2:file:" + dir.toAbsolutePath().resolve("registry"));
        registry.spawn();
        return registry.awaitReady();
    }

    /** Starts the registry again after {@link #stop()}, on the same port and with the same flags; waits until ready. */
    public synchronized ApicurioRegistry resume() {
        spawn();
        return awaitReady();
    }

    /** {@link #launch()} and wait until the registry is ready. */
    public static ApicurioRegistry start() {
        return launch().awaitReady();
    }

    private void spawn() {
        String java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> command = new ArrayList<>(List.of(
                java,
                // Quick startup matters more than peak speed here (about 5 s instead of 9 s on 2 cores).
                "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC",
                "-Xmx512m",
                "-XX:+ExitOnOutOfMemoryError",
                "-Dquarkus.http.host=127.0.0.1",
                "-Dquarkus.http.port=" + port,
                "-Dquarkus.management.host=127.0.0.1",
                "-Dquarkus.management.port=" + managementPort,
                // Defaults, spelled out: in-memory H2 storage, no authentication.
                "-Dapicurio.storage.kind=sql",
                "-Dapicurio.storage.sql.kind=h2"));
        command.addAll(extraArgs);
        command.addAll(List.of("-jar", "quarkus-run.jar"));
        try {
            Files.createDirectories(logFile.toAbsolutePath().getParent());
            ProcessBuilder pb = new ProcessBuilder(command)
                    .directory(home.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.to(logFile.toFile()));
            launchedAtNanos = System.nanoTime();
            ready = false;
            process = pb.start();
            Files.writeString(pidFile, process.pid() + " " + ProcessHandle.current().pid() + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("could not start Apicurio Registry: " + command, e);
        }
        Process p = process;
        shutdownHook = new Thread(p::destroyForcibly, "apicurio-registry-killer-" + instance);
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /**
     * Kills a registry left behind by a test JVM that died without running its shutdown hook: the
     * pid file names the registry and the JVM that started it; only if that JVM is gone and the
     * process is still this registry's java is it killed.
     */
    private void reapOrphan() {
        try {
            if (!Files.isRegularFile(pidFile)) {
                return;
            }
            String[] pids = Files.readString(pidFile).trim().split("\\s+");
            Files.deleteIfExists(pidFile);
            if (pids.length != 2) {
                return;
            }
            long child = Long.parseLong(pids[0]);
            long parent = Long.parseLong(pids[1]);
            if (ProcessHandle.of(parent).map(ProcessHandle::isAlive).orElse(false)) {
                return;
            }
            ProcessHandle.of(child)
                    .filter(ProcessHandle::isAlive)
                    .filter(h -> h.info().commandLine().map(c -> c.contains("quarkus-run.jar")).orElse(false))
                    .ifPresent(h -> {
                        h.destroyForcibly();
                        h.onExit().orTimeout(10, TimeUnit.SECONDS).exceptionally(t -> null).join();
                    });
        } catch (IOException | RuntimeException ignored) {
            // Best effort only.
        }
    }

    /** Waits until the registry's REST API answers; throws, with its log's tail, if it does not. */
    public ApicurioRegistry awaitReady() {
        if (ready) {
            return this;
        }
        synchronized (this) {
            if (ready) {
                return this;
            }
            long deadline = launchedAtNanos + STARTUP_TIMEOUT.toNanos();
            URI probe = URI.create(baseUrlUnchecked() + "/apis/registry/v3/system/info");
            while (true) {
                if (!process.isAlive()) {
                    throw new IllegalStateException("Apicurio Registry exited with " + process.exitValue()
                            + " before it was ready; log " + logFile.toAbsolutePath() + ":\n" + logTail());
                }
                try {
                    HttpResponse<Void> r = http.send(HttpRequest.newBuilder(probe).timeout(Duration.ofSeconds(2)).build(),
                            HttpResponse.BodyHandlers.discarding());
                    if (r.statusCode() == 200) {
                        startupMillis = (System.nanoTime() - launchedAtNanos) / 1_000_000;
                        ready = true;
                        return this;
                    }
                } catch (IOException notYet) {
                    // Not listening yet.
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for Apicurio Registry", e);
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("Apicurio Registry not ready after " + STARTUP_TIMEOUT
                            + "; log " + logFile.toAbsolutePath() + ":\n" + logTail());
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for Apicurio Registry", e);
                }
            }
        }
    }

    private String baseUrlUnchecked() {
        // The certificate names localhost; a TLS client checks the host name against it.
        return scheme.equals("https") ? "https://localhost:" + port : "http://127.0.0.1:" + port;
    }

    /** {@code http://127.0.0.1:<port>}; waits until ready. */
    public String baseUrl() {
        awaitReady();
        return baseUrlUnchecked();
    }

    /** The Confluent-compatible API, {@code http://127.0.0.1:<port>/apis/ccompat/v7}; waits until ready. */
    public String ccompatUrl() {
        return baseUrl() + "/apis/ccompat/v7";
    }

    /**
     * The native Core Registry API v3, {@code http://127.0.0.1:<port>/apis/registry/v3}: the URL the
     * Apicurio serdes take as {@code apicurio.registry.url}. Waits until ready.
     */
    public String registryUrl() {
        return baseUrl() + "/apis/registry/v3";
    }

    /** Quarkus' management interface ({@code /health/ready}, {@code /metrics}); waits until ready. */
    public String managementUrl() {
        awaitReady();
        return "http://127.0.0.1:" + managementPort;
    }

    /** The API port. It stays the same across {@link #restart()}. */
    public int port() {
        return port;
    }

    /** The file the registry's stdout and stderr go to. */
    public Path logFile() {
        return logFile;
    }

    /** The registry process' pid. */
    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** Milliseconds from spawning the process to the first successful API answer; -1 until ready. */
    public long startupMillis() {
        return startupMillis;
    }

    /**
     * Stops the process (SIGTERM, then SIGKILL after 10 s). The ports are kept for {@link #restart()};
     * the URL accessors refuse to answer until then.
     */
    public synchronized void stop() {
        if (process == null) {
            return;
        }
        ready = false;
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException alreadyShuttingDown) {
            // The hook will run anyway.
        }
        try {
            Files.deleteIfExists(pidFile);
        } catch (IOException ignored) {
            // Only a hint for the orphan reaper.
        }
    }

    /**
     * Simulates a registry outage and recovery: kills the process (SIGKILL, like a crash) and starts
     * a new one on the same ports, then waits until it is ready. The storage is in memory, so the new
     * registry is EMPTY: schemas and ids have to be registered again.
     */
    public synchronized ApicurioRegistry restart() {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while killing Apicurio Registry", e);
            }
        }
        stop();
        spawn();
        return awaitReady();
    }

    /** Stops the registry for good. */
    @Override
    public void close() {
        stop();
    }

    /** The last 60 lines of the registry's log, for error messages. */
    public String logTail() {
        try {
            List<String> lines = Files.readAllLines(logFile, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
        } catch (IOException | UncheckedIOException e) {
            return "(log unreadable: " + e + ")";
        }
    }

    /** A port that was free on 127.0.0.1 a moment ago. */
    static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free port", e);
        }
    }

    @Override
    public String toString() {
        return "ApicurioRegistry[" + baseUrlUnchecked() + ", pid " + Optional.ofNullable(process).map(Process::pid).orElse(-1L) + "]";
    }
}
