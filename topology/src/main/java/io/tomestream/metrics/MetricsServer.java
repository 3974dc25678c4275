package io.tomestream.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * Serves {@code /metrics} (Prometheus text format, or OpenMetrics when the scraper asks for it),
 * {@code /health/live} (200 while the process serves HTTP at all) and {@code /health/ready}
 * (200 when {@code readiness} says null, else 503 with its reason) on the JDK's own HTTP server.
 */
public final class MetricsServer implements AutoCloseable {
    private static final String TEXT = "text/plain; version=0.0.4; charset=utf-8";
    private static final String OPEN_METRICS = "application/openmetrics-text";

    private final HttpServer server;
    private final ExecutorService executor;

    private MetricsServer(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /**
     * @param port      0 picks a free port (see {@link #port()})
     * @param readiness returns null when ready, else why not, in a few words
     */
    public static MetricsServer start(int port, PrometheusMeterRegistry registry, Supplier<String> readiness) {
        HttpServer server;
        try {
            server = HttpServer.create(new InetSocketAddress(port), 0);
        } catch (BindException e) {
            throw new IllegalArgumentException("metrics.port " + port + " is in use (" + e.getMessage() + ")");
        } catch (IOException e) {
            throw new UncheckedIOException("can't serve metrics on port " + port, e);
        }
        server.createContext("/metrics", exchange -> {
            String accept = exchange.getRequestHeaders().getFirst("Accept");
            String type = accept != null && accept.contains(OPEN_METRICS)
                    ? OPEN_METRICS + "; version=1.0.0; charset=utf-8" : TEXT;
            respond(exchange, 200, type, registry.scrape(type));
        });
        server.createContext("/health/live", exchange -> respond(exchange, 200, TEXT, "live\n"));
        server.createContext("/health/ready", exchange -> {
            String notReady = readiness.get();
            respond(exchange, notReady == null ? 200 : 503, TEXT, notReady == null ? "ready\n" : "not ready: " + notReady + "\n");
        });
        // One daemon thread: scrapes are rare and cheap, and the server must never keep the JVM up.
        ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "metrics-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.start();
        return new MetricsServer(server, executor);
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private static void respond(HttpExchange exchange, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        boolean head = exchange.getRequestMethod().equalsIgnoreCase("HEAD");
        exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            if (!head) out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
