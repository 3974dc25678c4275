package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.apicurio.registry.serde.avro.AvroKafkaDeserializer;
import io.apicurio.registry.serde.avro.AvroKafkaSerializer;
import io.tomestream.config.Settings;
import io.tomestream.schema.Classification;
import io.tomestream.schema.ImageEvent;

/**
 * The schema registry over TLS: Apicurio Registry served over HTTPS only (Quarkus' TLS registry, a
 * certificate made at test time), and the topology reading and writing through Apicurio's serde with
 * the truststore given as {@code apicurio.registry.tls.truststore.*} settings, as an operator would set
 * them. Without the truststore the serde must refuse the registry's certificate.
 */
@ExtendWith(SharedInfra.class)
class SecureRegistryIT {
    private final KafkaCluster kafka;

    SecureRegistryIT(KafkaCluster kafka) {
        this.kafka = kafka;
    }

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void theTopologyUsesAnHttpsRegistryThroughTheApicurioTruststoreSettings() throws Exception {
        String run = Pipelines.unique();
        Certificates certs = Certificates.generate(Pipelines.WORK.resolve("registry-tls-" + run));
        ApicurioRegistry registry = ApicurioRegistry.startTls(certs.server, certs.password, certs.trustingContext());
        try {
            String url = registry.registryUrl();
            assertTrue(url.startsWith("https://"), url);
            Map<String, Object> trust = Map.of(
                    "apicurio.registry.tls.truststore.location", certs.truststore.toString(),
                    "apicurio.registry.tls.truststore.password", certs.password,
                    "apicurio.registry.tls.truststore.type", "PKCS12");

            // Without the truststore, the registry's certificate is not trusted.
            AvroKafkaSerializer<ImageEvent> untrusting = new AvroKafkaSerializer<>();
            untrusting.configure(RegistrySerdeConfig.serializer(url, true), false);
            RuntimeException refused = assertThrows(RuntimeException.class,
                    () -> untrusting.serialize("tls-" + run, Pipelines.event("x", Pipelines.image(0), "image/png")));
            System.out.printf("[tomestream-it] registry-tls: without the truststore: %s%n", rootMessage(refused));
            untrusting.close();

            String input = "tls-in-" + run, output = "tls-out-" + run, dlq = "tls-dlq-" + run, app = "tls-" + run;
            kafka.createTopics(2, input, output, dlq);
            Map<String, String> values = Pipelines.apicurioTopologySettings(kafka.bootstrapServers(), url, app, input, output, dlq);
            trust.forEach((k, v) -> values.put(k, String.valueOf(v)));
            Settings settings = Settings.of(values);

            AvroKafkaSerializer<ImageEvent> serializer = new AvroKafkaSerializer<>();
            Map<String, Object> serializerConfig = new HashMap<>(RegistrySerdeConfig.serializer(url, true));
            serializerConfig.putAll(trust);
            serializer.configure(serializerConfig, false);
            try (InJvmTopology topology = InJvmTopology.start(settings)) {
                try (KafkaProducer<String, byte[]> producer = Pipelines.producer(kafka.bootstrapServers())) {
                    for (int i = 0; i < Pipelines.IMAGES; i++) {
                        String key = "img-" + i;
                        producer.send(new ProducerRecord<>(input, key, serializer.serialize(input, Pipelines.event(key, Pipelines.image(i), "image/png"))));
                    }
                }
                try (OutputWatcher watcher = new OutputWatcher(kafka.bootstrapServers(), output, dlq)) {
                    Pipelines.await(Duration.ofSeconds(90), () -> watcher.distinct() >= Pipelines.IMAGES,
                            () -> Pipelines.IMAGES + " classified, have " + watcher.distinct());
                }
            }
            serializer.close();
            AvroKafkaDeserializer<SpecificRecord> reader = new AvroKafkaDeserializer<>();
            Map<String, Object> readerConfig = new HashMap<>(RegistrySerdeConfig.specificDeserializer(url));
            readerConfig.putAll(trust);
            reader.configure(readerConfig, false);
            List<ConsumerRecord<String, byte[]>> classified = Pipelines.readAll(kafka.bootstrapServers(), output, true);
            assertEquals(Pipelines.IMAGES, classified.size());
            assertTrue(Pipelines.readAll(kafka.bootstrapServers(), dlq, true).isEmpty(), "no dead letters");
            for (ConsumerRecord<String, byte[]> r : classified) {
                Classification c = (Classification) reader.deserialize(output, r.headers(), r.value());
                Pipelines.expected().get(Integer.parseInt(r.key().substring(4))).assertMatches(c, r.key());
            }
            reader.close();
            System.out.printf("[tomestream-it] registry-tls: %d events classified through %s%n", classified.size(), url);
        } finally {
            registry.close();
        }
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null) t = t.getCause();
        return t.toString();
    }
}
