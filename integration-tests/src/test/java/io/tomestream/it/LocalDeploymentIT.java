package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.StringReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.apicurio.registry.serde.avro.AvroKafkaDeserializer;
import io.tomestream.demo.EmbeddedBroker;
import io.tomestream.schema.Classification;

/**
 * The local deployment of deploy/local/README.md, every part its own process: a standalone KRaft broker
 * ({@code deploy/local/kafka-broker}), the Apicurio registry, and two app instances started by the
 * launcher of an install made by {@code deploy/install} (the layout of the container image), configured
 * like a container: a properties file plus {@code TOMESTREAM_*} environment variables, with the
 * registry's Avro serde (Confluent wire format). The installed {@code bin/send-images} sends 1,000 events;
 * one instance gets SIGKILL midway. Every event must be classified exactly once, and both instances
 * must serve Prometheus metrics and readiness.
 */
@ExtendWith(SharedInfra.class)
class LocalDeploymentIT {
    private static final int PARTITIONS = 4;
    private static final int EVENTS = 1000;
    /** 20 s of sending; the kill comes once this many are classified, with most still to send. */
    private static final int RATE_PER_S = 50, KILL_AFTER_CLASSIFIED = 100;
    private static final String AVRO_SERDE = "io.apicurio.registry.serde.avro.AvroSerde";

    private final ApicurioRegistry registry;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    LocalDeploymentIT(ApicurioRegistry registry) {
        this.registry = registry;
    }

    @Test
    void brokerTemplateHasTheDemoBrokerSettings() throws IOException {
        Properties template = new Properties();
        template.load(new StringReader(Files.readString(BrokerProcess.TEMPLATE)));
        EmbeddedBroker.BROKER_CONFIG.forEach((k, v) -> {
            if (!k.equals("listeners")) assertEquals(v, template.getProperty(k), "server.properties.template: " + k);
        });
    }

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void brokerRegistryAndTwoInstancesAsProcessesOneSigkilledEveryEventClassifiedOnce() throws Exception {
        String run = Pipelines.unique();
        Path dir = Pipelines.WORK.resolve("local-deploy-" + run);
        Path install = dir.resolve("install");
        Scripts.run(List.of("deploy/install", install.toString()), dir.resolve("install.log"), 300);
        // The demo's in-process broker is a module of its own: the install (the image's layout) carries no broker.
        try (var jars = Files.list(install.resolve("topology/target/lib"))) {
            List<String> brokers = jars.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith("kafka-test-common-runtime") || n.startsWith("kafka_2.13") || n.startsWith("kafka-server-")
                            || n.startsWith("kafka-raft") || n.startsWith("scala-library")).toList();
            assertEquals(List.of(), brokers, "no test broker in the install");
        }

        String app = "local-" + run, input = "local-in-" + run, output = "local-out-" + run, dlq = "local-dlq-" + run;
        List<AppProcess> instances = new ArrayList<>();
        Process sender = null;
        try (BrokerProcess broker = BrokerProcess.start(dir.resolve("kafka"), dir.resolve("kafka.log"), Duration.ofSeconds(120))) {
            System.out.printf("[tomestream-it] local deployment: %s%n", broker);
            broker.createTopics(PARTITIONS, input);
            broker.createTopics(2, output, dlq);
            String bootstrap = broker.bootstrapServers();

            // The file holds what a ConfigMap would; the broker address and metrics port come from the
            // environment, as a container gets them.
            Map<String, String> settings = AppProcess.settings(bootstrap, app, input, output, dlq, dir.resolve("state"), "unused", 16, 500);
            settings.remove("bootstrap.servers");
            settings.remove("metrics.port");
            settings.remove("client.id");
            settings.remove("state.dir");
            settings.put("value.serde", AVRO_SERDE);
            RegistrySerdeConfig.serializer(registry.registryUrl(), true).forEach((k, v) -> settings.put(k, String.valueOf(v)));
            settings.put("apicurio.registry.use-specific-avro-reader", "true");
            Path config = AppProcess.writeConfig(dir.resolve("tomestream.properties"), settings);

            List<Integer> metricsPorts = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                String name = "instance-" + i;
                int metricsPort = ApicurioRegistry.freePort();
                metricsPorts.add(metricsPort);
                instances.add(AppProcess.start(name, install.resolve("bin/tomestream"), config, dir.resolve(name + ".log"), Map.of(
                        "TOMESTREAM_KAFKA_BOOTSTRAP_SERVERS", bootstrap,
                        "TOMESTREAM_METRICS_PORT", Integer.toString(metricsPort),
                        "TOMESTREAM_KAFKA_CLIENT_ID", name,
                        "TOMESTREAM_KAFKA_STATE_DIR", dir.resolve(name + "-state").toString())));
            }
            Pipelines.await(Duration.ofSeconds(120), () -> {
                instances.forEach(AppProcess::assertAlive);
                Map<String, ?> a = Pipelines.assignment(broker.admin(), app, input);
                return a.size() == 2 && metricsPorts.stream().allMatch(p -> get(p, "/health/ready").statusCode() == 200);
            }, () -> "2 instances in the group and ready; group " + Pipelines.assignment(broker.admin(), app, input));
            for (int port : metricsPorts) {
                assertEquals(200, get(port, "/health/live").statusCode());
                assertPrometheus(get(port, "/metrics"), port);
            }

            ProcessBuilder pb = new ProcessBuilder(senderCommand(install, config)).directory(Pipelines.ROOT.toFile())
                    .redirectErrorStream(true).redirectOutput(dir.resolve("send-images.log").toFile());
            pb.environment().put("TOMESTREAM_KAFKA_BOOTSTRAP_SERVERS", bootstrap);
            pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
            pb.environment().put("TOMESTREAM_JAVA_OPTS", "-Xmx128m -XX:TieredStopAtLevel=1");
            sender = pb.start();
            Process senderProcess = sender;

            AppProcess victim = instances.getFirst(), survivor = instances.get(1);
            try (OutputWatcher watcher = new OutputWatcher(bootstrap, output)) {
                Pipelines.await(Duration.ofSeconds(90), () -> {
                    instances.forEach(AppProcess::assertAlive);
                    return watcher.distinct() >= KILL_AFTER_CLASSIFIED;
                }, () -> KILL_AFTER_CLASSIFIED + " classified before the kill, have " + watcher.distinct() + "; sender log:\n" + read(dir.resolve("send-images.log")));
                victim.kill();
                int atKill = watcher.distinct();
                System.out.printf("[tomestream-it] local deployment: SIGKILLed %s with %d of %d classified%n", victim, atKill, EVENTS);
                assertTrue(senderProcess.isAlive(), "the kill must come while events are still being sent");

                assertTrue(sender.waitFor(120, TimeUnit.SECONDS), "send-images finishes");
                assertEquals(0, sender.exitValue(), "send-images exit status; log:\n" + read(dir.resolve("send-images.log")));
                Pipelines.await(Duration.ofSeconds(180), () -> {
                    survivor.assertAlive();
                    return watcher.distinct() >= EVENTS;
                }, () -> "all " + EVENTS + " classified after the kill, have " + watcher.distinct());
            }
            Pipelines.await(Duration.ofSeconds(60), () -> Pipelines.committed(broker.admin(), app, input) == EVENTS,
                    () -> "committed offsets " + Pipelines.committed(broker.admin(), app, input) + " of " + EVENTS);

            List<ConsumerRecord<String, byte[]>> committed = Pipelines.readAll(bootstrap, output, true);
            Map<String, Integer> wrong = new HashMap<>();
            Pipelines.countByKey(committed).forEach((k, n) -> {
                if (n != 1) wrong.put(k, n);
            });
            assertTrue(wrong.isEmpty(), "classified more than once: " + wrong);
            assertEquals(EVENTS, Pipelines.countByKey(committed).size(), "every event classified");
            List<Pipelines.Expected> expected = Pipelines.expected();
            try (AvroKafkaDeserializer<SpecificRecord> reader = new AvroKafkaDeserializer<>()) {
                reader.configure(RegistrySerdeConfig.specificDeserializer(registry.registryUrl()), false);
                for (ConsumerRecord<String, byte[]> r : committed) {
                    assertEquals(0, r.value()[0], "Confluent wire format: magic byte 0, then the schema id");
                    Classification c = (Classification) reader.deserialize(output, r.value());
                    assertEquals(r.key(), c.getEventId());
                    expected.get(Integer.parseInt(r.key().substring(4)) % Pipelines.IMAGES).assertMatches(c, r.key());
                }
            }
            assertTrue(Pipelines.readAll(bootstrap, dlq, true).isEmpty(), "no dead letters");

            String after = get(metricsPorts.get(1), "/metrics").body();
            double classified = sample(after, "tomestream_events_classified_total");
            System.out.printf("[tomestream-it] local deployment: all %d classified exactly once; the survivor counts %.0f classified%n", EVENTS, classified);
            assertTrue(classified > 0, "the survivor's classified counter");
            assertEquals(AppProcess.EXIT_ON_SIGTERM, survivor.stop(), "the survivor stops on SIGTERM");
        } finally {
            if (sender != null) sender.destroyForcibly();
            instances.forEach(AppProcess::close);
        }
    }

    private static List<String> senderCommand(Path install, Path config) {
        List<String> command = new ArrayList<>(List.of(install.resolve("bin/send-images").toString(), "--config", config.toString(),
                "--count", Integer.toString(EVENTS), "--rate", Integer.toString(RATE_PER_S), "--id-prefix", "evt-"));
        for (int i = 0; i < Pipelines.IMAGES; i++) command.add(Pipelines.FIXTURES.resolve("images/img" + i + ".png").toString());
        return command;
    }

    private HttpResponse<String> get(int port, String path) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            return new FailedResponse(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static void assertPrometheus(HttpResponse<String> r, int port) {
        assertEquals(200, r.statusCode(), "/metrics on " + port);
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"), "Prometheus text format");
        assertTrue(r.body().contains("# TYPE tomestream_events_classified_total counter"), "the app's counters on " + port);
        assertTrue(r.body().contains("tomestream_model_info{"), "the model info gauge on " + port);
    }

    /** The value of the first sample of {@code metric} (any labels) in a Prometheus text page. */
    private static double sample(String page, String metric) {
        for (String line : page.split("\n")) {
            if (line.startsWith(metric + " ") || line.startsWith(metric + "{")) return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
        throw new AssertionError(metric + " not in /metrics");
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    /** A connection refused, as a status no endpoint returns, so polling can go on. */
    private record FailedResponse(IOException cause) implements HttpResponse<String> {
        public int statusCode() { return -1; }
        public HttpRequest request() { return null; }
        public java.util.Optional<HttpResponse<String>> previousResponse() { return java.util.Optional.empty(); }
        public java.net.http.HttpHeaders headers() { return java.net.http.HttpHeaders.of(Map.of(), (a, b) -> true); }
        public String body() { return cause.toString(); }
        public java.util.Optional<javax.net.ssl.SSLSession> sslSession() { return java.util.Optional.empty(); }
        public URI uri() { return null; }
        public HttpClient.Version version() { return HttpClient.Version.HTTP_1_1; }
    }
}
