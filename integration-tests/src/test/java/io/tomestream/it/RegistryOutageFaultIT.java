package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.apicurio.registry.serde.avro.AvroKafkaDeserializer;
import io.apicurio.registry.serde.avro.AvroKafkaSerializer;
import io.tomestream.schema.Classification;
import io.tomestream.schema.ImageEvent;

/**
 * A schema-registry outage mid-stream: {@code bin/tomestream run} from an install (Apicurio's serde,
 * Confluent format) against a private registry with file storage. After a first 20 events, a producer
 * registers a newer ImageEvent version (an added optional field) and the registry is stopped for 20 s;
 * meanwhile 10 more v1 events (whose schema the app has cached) and 20 v2 events (whose schema it has
 * never fetched) are sent. None may be dead-lettered: the v2 events wait, the app reports not ready
 * on /health/ready, and once the registry is back every event is classified exactly once, the v2 ones
 * read through the registry as Avro's resolution allows.
 */
@ExtendWith(SharedInfra.class)
class RegistryOutageFaultIT {
    private static final int BEFORE = 20, V1_DURING = 10, V2_DURING = 20, EVENTS = BEFORE + V1_DURING + V2_DURING;
    private final KafkaCluster kafka;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    RegistryOutageFaultIT(KafkaCluster kafka) {
        this.kafka = kafka;
    }

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void aTwentySecondRegistryOutageDeadLettersNothingAndEveryEventIsClassifiedOnce() throws Exception {
        String run = Pipelines.unique();
        Path dir = Pipelines.WORK.resolve("registry-outage-" + run);
        Path install = dir.resolve("install");
        Scripts.run(List.of("deploy/install", install.toString()), dir.resolve("install.log"), 300);
        String app = "outage-" + run, input = "outage-in-" + run, output = "outage-out-" + run, dlq = "outage-dlq-" + run;
        kafka.createTopics(2, input, output, dlq);
        Files.createDirectories(dir.resolve("registry"));
        ApicurioRegistry registry = ApicurioRegistry.startWithFileStorage(dir.resolve("registry"));
        String url = registry.registryUrl();
        int metricsPort = ApicurioRegistry.freePort();
        Map<String, String> settings = AppProcess.settings(kafka.bootstrapServers(), app, input, output, dlq, dir.resolve("state"), "outage", 8, 200);
        settings.put("metrics.port", String.valueOf(metricsPort));
        settings.put("value.serde", "io.apicurio.registry.serde.avro.AvroSerde");
        RegistrySerdeConfig.serializer(url, true).forEach((k, v) -> settings.put(k, String.valueOf(v)));
        settings.put("apicurio.registry.use-specific-avro-reader", "true");

        AvroKafkaSerializer<Object> serializer = new AvroKafkaSerializer<>();
        serializer.configure(RegistrySerdeConfig.serializer(url, true), false);
        Schema v2 = new Schema.Parser().parse(Pipelines.ROOT.resolve("schemas/src/test/resources/evolution/ImageEvent-v2.avsc").toFile());
        try (AppProcess instance = AppProcess.start("outage", install.resolve("bin/tomestream"),
                AppProcess.writeConfig(dir.resolve("app.properties"), settings), dir.resolve("app.log"), Map.of());
             KafkaProducer<String, byte[]> producer = Pipelines.producer(kafka.bootstrapServers());
             OutputWatcher watcher = new OutputWatcher(kafka.bootstrapServers(), output, dlq)) {
            Pipelines.await(Duration.ofSeconds(120), () -> {
                instance.assertAlive();
                return status(metricsPort) == 200;
            }, () -> "the app ready");
            for (int i = 0; i < BEFORE; i++) send(producer, input, "v1-" + i, serializer.serialize(input, v1(i)));
            Pipelines.await(Duration.ofSeconds(60), () -> watcher.distinct() >= BEFORE, () -> BEFORE + " classified, have " + watcher.distinct());

            // Serialized while the registry is up, which registers v2 and caches its id in the producer.
            Map<String, byte[]> during = new LinkedHashMap<>();
            for (int i = BEFORE; i < BEFORE + V2_DURING; i++) during.put("v2-" + i, serializer.serialize(input, v2(v2, i)));
            for (int i = 0; i < V1_DURING; i++) during.put("v1-" + (BEFORE + i), serializer.serialize(input, v1(BEFORE + i)));

            registry.stop();
            long stoppedAt = System.nanoTime();
            during.forEach((k, v) -> send(producer, input, k, v));
            producer.flush();
            AtomicBoolean sawNotReady = new AtomicBoolean();
            while (System.nanoTime() - stoppedAt < TimeUnit.SECONDS.toNanos(20)) {
                instance.assertAlive();
                if (status(metricsPort) == 503) sawNotReady.set(true);
                Thread.sleep(200);
            }
            int classifiedDuring = watcher.distinct() - BEFORE;
            registry.resume();
            System.out.printf("[tomestream-it] registry outage: 20 s; %d of %d events sent meanwhile had results before it ended; /health/ready went 503: %s%n",
                    classifiedDuring, during.size(), sawNotReady.get());
            Pipelines.await(Duration.ofSeconds(120), () -> {
                instance.assertAlive();
                return watcher.distinct() >= EVENTS;
            }, () -> EVENTS + " results after the outage, have " + watcher.distinct());
            Pipelines.await(Duration.ofSeconds(30), () -> status(metricsPort) == 200, () -> "ready again");
            assertTrue(sawNotReady.get(), "/health/ready reported the outage");

            Pipelines.await(Duration.ofSeconds(60), () -> Pipelines.committed(kafka.admin(), app, input) == EVENTS,
                    () -> "committed offsets " + Pipelines.committed(kafka.admin(), app, input) + " of " + EVENTS);
            assertTrue(Pipelines.readAll(kafka.bootstrapServers(), dlq, true).isEmpty(), "no dead letters, SCHEMA_ERROR or other");
            List<ConsumerRecord<String, byte[]>> classified = Pipelines.readAll(kafka.bootstrapServers(), output, true);
            assertEquals(EVENTS, classified.size());
            assertEquals(EVENTS, Pipelines.countByKey(classified).size(), "each event once");
            try (AvroKafkaDeserializer<SpecificRecord> reader = new AvroKafkaDeserializer<>()) {
                reader.configure(RegistrySerdeConfig.specificDeserializer(url), false);
                for (ConsumerRecord<String, byte[]> r : classified) {
                    Classification c = (Classification) reader.deserialize(output, r.value());
                    int i = Integer.parseInt(r.key().substring(3));
                    Pipelines.expected().get(i % Pipelines.IMAGES).assertMatches(c, r.key());
                }
            }
            String metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            String retries = metrics.lines().filter(l -> l.startsWith("tomestream_transient_retries_total{cause=\"registry\"")).findFirst().orElse("none");
            System.out.printf("[tomestream-it] registry outage: all %d classified exactly once, none dead-lettered; %s%n", EVENTS, retries);
            assertTrue(!retries.equals("none") && Double.parseDouble(retries.substring(retries.lastIndexOf(' ') + 1)) > 0, "retries counted: " + retries);
            Pipelines.assertCommittedCounts(metricsPort, EVENTS, 0);
            assertEquals(AppProcess.EXIT_ON_SIGTERM, instance.stop());
        } finally {
            serializer.close();
            registry.close();
        }
    }

    private static ImageEvent v1(int i) {
        return Pipelines.event("v1-" + i, Pipelines.image(i % Pipelines.IMAGES), "image/png");
    }

    private static GenericRecord v2(Schema v2, int i) {
        ImageEvent e = Pipelines.event("v2-" + i, Pipelines.image(i % Pipelines.IMAGES), "image/png");
        GenericRecord r = new GenericData.Record(v2);
        for (Schema.Field f : v2.getFields()) {
            Object value = e.getSchema().getField(f.name()) == null ? "sha256:0" : e.get(f.name());
            r.put(f.name(), value instanceof java.time.Instant t ? t.toEpochMilli() : value);
        }
        return r;
    }

    private static void send(KafkaProducer<String, byte[]> producer, String topic, String key, byte[] value) {
        producer.send(new ProducerRecord<>(topic, key, value));
    }

    private int status(int port) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health/ready")).timeout(Duration.ofSeconds(2)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (Exception e) {
            return -1;
        }
    }
}
