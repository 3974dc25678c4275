package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.Container;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.Network;

import com.github.dockerjava.api.command.InspectContainerResponse;

import io.tomestream.schema.Classification;
import io.tomestream.schema.ImageEvent;
import io.tomestream.schema.SingleObjectSerde;

/**
 * The project's image as an operator runs it: its own sample model and entry point, every setting an
 * environment variable (no config file, no mounted folder), next to a Kafka container. It must run as
 * uid 10001, its HEALTHCHECK must turn healthy, {@code /metrics} must answer on the mapped port and
 * show the settings given, and it must classify. The image's size is printed.
 */
class ImageContainerIT {

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void theImageRunsAsUid10001TurnsHealthyServesMetricsAndClassifiesWithSettingsFromTheEnvironment() throws Exception {
        Containers.assumeReady();
        String image = Containers.image("TOMESTREAM_IMAGE");
        System.out.printf("[tomestream-it] image: %s is %d MB%n", image, Containers.imageSize(image) / 1_000_000);
        String run = Pipelines.unique();
        int kafkaPort = ApicurioRegistry.freePort();
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("bootstrap.servers", "kafka:9092");
        settings.put("application.id", "image-" + run);
        settings.put("model.version", "from-env-" + run);
        settings.put("tome", "4");
        settings.put("metrics.port", "9555");
        settings.put("topic.input", "image-in-" + run);
        settings.put("topic.output", "image-out-" + run);
        settings.put("topic.dlq", "image-dlq-" + run);
        try (Network network = Network.newNetwork();
             GenericContainer<?> kafka = Containers.kafka(network, kafkaPort)) {
            kafka.start();
            String bootstrap = "localhost:" + kafkaPort;
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap));
                 GenericContainer<?> app = Containers.tomestream(network, "tomestream", settings)) {
                admin.createTopics(List.of(new NewTopic(settings.get("topic.input"), 2, (short) 1),
                        new NewTopic(settings.get("topic.output"), 1, (short) 1),
                        new NewTopic(settings.get("topic.dlq"), 1, (short) 1))).all().get(60, TimeUnit.SECONDS);
                app.start();
                InspectContainerResponse inspect = app.getContainerInfo();
                assertEquals(List.of("run"), List.of(inspect.getConfig().getCmd()), "the image's own command, no --config");
                assertEquals("10001:10001", inspect.getConfig().getUser());
                Container.ExecResult id = app.execInContainer("id", "-u");
                assertEquals("10001", id.getStdout().strip(), "the process runs as uid 10001");

                // Docker's own HEALTHCHECK (bin/healthcheck against /health/ready), not the test's wait.
                Pipelines.await(Duration.ofSeconds(120), () -> "healthy".equals(health(app)), () -> "HEALTHCHECK healthy, is " + health(app));

                String metrics = get("http://localhost:" + app.getMappedPort(9555) + "/metrics");
                assertTrue(metrics.contains("version=\"from-env-" + run + "\""), "the model version from TOMESTREAM_MODEL_VERSION");
                assertTrue(metrics.contains("fmnist-vit-49"), "the image's sample model");
                assertTrue(metrics.contains("tomestream_events_consumed_total"), "the pipeline's counters");
                assertTrue(Pipelines.group(admin, settings.get("application.id")) != null, "the group is the application.id from the environment");

                SingleObjectSerde<ImageEvent> serde = SingleObjectSerde.imageEvents();
                try (KafkaProducer<String, byte[]> producer = Pipelines.producer(bootstrap)) {
                    for (int i = 0; i < Pipelines.IMAGES; i++) {
                        String key = "img-" + i;
                        producer.send(new ProducerRecord<>(settings.get("topic.input"), key, serde.encode(Pipelines.event(key, Pipelines.image(i), "image/png"))));
                    }
                }
                try (OutputWatcher watcher = new OutputWatcher(bootstrap, settings.get("topic.output"))) {
                    Pipelines.await(Duration.ofSeconds(60), () -> watcher.distinct() >= Pipelines.IMAGES,
                            () -> Pipelines.IMAGES + " classified, have " + watcher.distinct());
                }
                List<ConsumerRecord<String, byte[]>> out = Pipelines.readAll(bootstrap, settings.get("topic.output"), true);
                assertEquals(Pipelines.IMAGES, out.size());
                for (ConsumerRecord<String, byte[]> r : out) {
                    Classification c = SingleObjectSerde.classifications().decode(r.value());
                    assertEquals("from-env-" + run, c.getModelVersion());
                }
                System.out.printf("[tomestream-it] image: uid 10001, healthy, /metrics on 9555, %d images classified by the sample model%n", out.size());
            }
        }
    }

    private static String health(GenericContainer<?> app) {
        var state = DockerClientFactory.instance().client().inspectContainerCmd(app.getContainerId()).exec().getState();
        return state.getHealth() == null ? "no health check" : state.getHealth().getStatus();
    }

    private static String get(String url) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), url);
        return r.body();
    }
}
