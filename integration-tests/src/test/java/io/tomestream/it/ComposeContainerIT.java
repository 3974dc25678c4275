package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.DockerClientFactory;

/**
 * deploy/compose/compose.yaml as deploy/README.md runs it, with docker-compose and the local images
 * (deploy/containers/images.env): {@code up -d} brings up Kafka, the topics, the registry, tomestream and
 * Prometheus; {@code run --rm send-images} sends the fixture images from deploy/compose/images; exactly
 * that many classifications arrive on the published Kafka port, none dead-lettered; Prometheus
 * scrapes the app; then {@code down -v}. The compose file publishes fixed host ports (9094, 8080, 9464
 * and 9090), which must be free.
 */
class ComposeContainerIT {
    private static final String PROJECT = "tomestream-it";
    private static final int EVENTS = 40;

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void composeUpSendImagesClassifiedThenDown() throws Exception {
        Containers.assumeReady();
        Path images = Pipelines.ROOT.resolve("deploy/compose/images");
        Files.createDirectories(images);
        List<String> sendArgs = new ArrayList<>(List.of("run", "--rm", "send-images", "--count", String.valueOf(EVENTS)));
        for (int i = 0; i < Pipelines.IMAGES; i++) {
            Files.copy(Pipelines.FIXTURES.resolve("images/img" + i + ".png"), images.resolve("img" + i + ".png"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            sendArgs.add("/images/img" + i + ".png");
        }
        compose("down", "-v"); // what a failed earlier run may have left
        try {
            long t0 = System.nanoTime();
            assertEquals(0, compose("up", "-d"), "docker-compose up -d");
            String app = composeOutput("ps", "-q", "tomestream").strip();
            Pipelines.await(Duration.ofSeconds(180), () -> "healthy".equals(health(app)), () -> "tomestream healthy, is " + health(app));
            System.out.printf("[tomestream-it] compose: up and healthy in %.1f s%n", (System.nanoTime() - t0) / 1e9);

            assertEquals(0, compose(sendArgs.toArray(String[]::new)), "send-images");
            String bootstrap = "localhost:9094";
            try (OutputWatcher watcher = new OutputWatcher(bootstrap, "classifications", "image-events-dlq")) {
                Pipelines.await(Duration.ofSeconds(90), () -> watcher.distinct() >= EVENTS,
                        () -> EVENTS + " results, have " + watcher.distinct());
            }
            List<ConsumerRecord<String, byte[]>> classified = Pipelines.readAll(bootstrap, "classifications", true);
            assertEquals(EVENTS, classified.size(), "one classification per event sent");
            assertEquals(EVENTS, Pipelines.countByKey(classified).size(), "each event once");
            assertTrue(Pipelines.readAll(bootstrap, "image-events-dlq", true).isEmpty(), "no dead letters");

            // Prometheus (its config and alert rules from deploy/compose) scrapes the app.
            Pipelines.await(Duration.ofSeconds(60), () -> prometheusUp().contains("\"value\":[") && prometheusUp().contains("\"1\"]"),
                    () -> "Prometheus scraping tomestream: " + prometheusUp());
            System.out.printf("[tomestream-it] compose: %d images sent, %d classified, Prometheus scrapes the app%n", EVENTS, classified.size());
        } finally {
            assertEquals(0, compose("down", "-v"), "docker-compose down -v");
        }
        assertTrue(composeOutput("ps", "-q").isBlank(), "nothing left running");
    }

    private static String health(String container) {
        var state = DockerClientFactory.instance().client().inspectContainerCmd(container).exec().getState();
        return state.getHealth() == null ? String.valueOf(state.getStatus()) : state.getHealth().getStatus();
    }

    private static String prometheusUp() {
        try {
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://localhost:9090/api/v1/query?query=up%7Bjob%3D%22tomestream%22%7D")).build(), HttpResponse.BodyHandlers.ofString());
            return r.body();
        } catch (IOException e) {
            return e.toString();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return e.toString();
        }
    }

    private static List<String> command(String... args) {
        List<String> cmd = new ArrayList<>(List.of("docker-compose", "--env-file", Containers.IMAGES_ENV.toString(), "-p", PROJECT,
                "-f", Pipelines.ROOT.resolve("deploy/compose/compose.yaml").toString()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Runs docker-compose; its output goes to target/containers/compose.log. */
    private static int compose(String... args) throws Exception {
        Path log = Containers.LOGS.resolve("compose.log");
        Files.createDirectories(Containers.LOGS);
        Process p = process(args).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        if (!p.waitFor(4, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("docker-compose " + String.join(" ", args) + " did not finish; see " + log);
        }
        return p.exitValue();
    }

    private static String composeOutput(String... args) throws Exception {
        Process p = process(args).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "docker-compose " + String.join(" ", args));
        return out;
    }

    private static ProcessBuilder process(String... args) {
        ProcessBuilder pb = new ProcessBuilder(command(args)).directory(Pipelines.ROOT.toFile());
        Map<String, String> env = pb.environment();
        env.putIfAbsent("DOCKER_HOST", DockerClientFactory.instance().getTransportConfig().getDockerHost().toString());
        return pb;
    }
}
