package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

import io.tomestream.schema.Classification;
import io.tomestream.schema.ImageEvent;
import io.tomestream.schema.SingleObjectSerde;

/**
 * {@code bin/tomestream run} against a secured broker ({@link SecureBroker}: SCRAM-SHA-512 over TLS 1.3,
 * mutual TLS, ACLs with nothing allowed by default). With SCRAM, and again with mTLS, the app gets its
 * security settings partly from a properties file and partly from TOMESTREAM_KAFKA_* variables, and
 * must classify end to end under exactly-once with only the ACLs of docs/operations.md. A wrong
 * password, an untrusted broker certificate and a denied input topic must each end the app with one
 * clear line and a non-zero exit, without a flood of stack traces. No password, nor the JAAS config,
 * may appear in the app's output, its /metrics or its dead letters.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SecureClusterIT {
    private static final int EVENTS = 16;
    /** Lines of a Java stack trace ("\tat ..."); a refusal may log Kafka's own trace, but not a flood. */
    private static final int MAX_STACK_FRAMES = 150;

    private SecureBroker broker;
    private final String run = Pipelines.unique();

    @BeforeAll
    void startBroker() {
        broker = SecureBroker.start(Pipelines.WORK.resolve("secure-" + run));
    }

    @AfterAll
    void stopBroker() {
        if (broker != null) broker.close();
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void scramOverTls13ClassifiesExactlyOnceAndLeaksNoSecret() throws Exception {
        Map<String, String> client = broker.scramClient(broker.scramPassword, broker.certs.truststore);
        // The JAAS config (with the password) and the truststore's place come from the environment.
        Map<String, String> env = new LinkedHashMap<>();
        env.put("TOMESTREAM_KAFKA_SASL_JAAS_CONFIG", client.remove("sasl.jaas.config"));
        env.put("TOMESTREAM_KAFKA_SSL_TRUSTSTORE_LOCATION", client.remove("ssl.truststore.location"));
        classifiesAndKeepsSecrets("scram", "User:" + SecureBroker.SCRAM_USER, client, env,
                List.of(broker.scramPassword, broker.certs.password, "ScramLoginModule"));
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void mutualTlsClassifiesExactlyOnceAndLeaksNoSecret() throws Exception {
        Map<String, String> client = broker.mtlsClient();
        Map<String, String> env = new LinkedHashMap<>();
        env.put("TOMESTREAM_KAFKA_SSL_KEYSTORE_LOCATION", client.remove("ssl.keystore.location"));
        env.put("TOMESTREAM_KAFKA_SSL_KEYSTORE_PASSWORD", client.remove("ssl.keystore.password"));
        classifiesAndKeepsSecrets("mtls", "User:" + Certificates.CLIENT_CN, client, env, List.of(broker.certs.password));
    }

    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void aWrongPasswordEndsTheAppWithOneClearLine() throws Exception {
        String out = refused("wrong-password", broker.scramClient("not-the-password", broker.certs.truststore), true);
        assertTrue(out.contains("tomestream: Kafka refused the credentials"), out);
        assertFalse(out.contains("not-the-password"), "the wrong password is not printed either");
    }

    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void anUntrustedBrokerCertificateEndsTheAppWithOneClearLine() throws Exception {
        String out = refused("untrusted", broker.scramClient(broker.scramPassword, broker.certs.untrustedTruststore), true);
        assertTrue(out.contains("tomestream: the TLS handshake with Kafka failed"), out);
    }

    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void aDeniedInputTopicEndsTheAppWithOneClearLine() throws Exception {
        String out = refused("denied", broker.scramClient(broker.scramPassword, broker.certs.truststore), false);
        assertTrue(out.contains("tomestream: Kafka denied access to topic"), out);
    }

    // ---------------------------------------------------------------------------------------------

    private void classifiesAndKeepsSecrets(String name, String principal, Map<String, String> client, Map<String, String> env,
                                           List<String> secrets) throws Exception {
        String app = "secure-" + name + "-" + run, input = "in-" + app, output = "out-" + app, dlq = "dlq-" + app; // not under the app-prefixed ACLs of its internal topics
        broker.createTopics(2, input, output, dlq);
        broker.allowApp(principal, app, input, output, dlq);
        int metricsPort = ApicurioRegistry.freePort();
        Path dir = Pipelines.WORK.resolve(app);
        Map<String, String> settings = AppProcess.settings(broker.adminBootstrap(), app, input, output, dlq, dir.resolve("state"),
                name, 8, 200);
        settings.putAll(client);
        settings.put("metrics.port", String.valueOf(metricsPort));
        Path log = dir.resolve("app.log");
        try (AppProcess instance = AppProcess.start(name, AppProcess.LAUNCHER, AppProcess.writeConfig(dir.resolve("app.properties"), settings),
                log, env)) {
            SingleObjectSerde<ImageEvent> serde = SingleObjectSerde.imageEvents();
            try (KafkaProducer<String, byte[]> producer = Pipelines.producer(broker.adminBootstrap())) {
                for (int i = 0; i < EVENTS; i++) {
                    String key = "evt-" + i;
                    producer.send(new ProducerRecord<>(input, key, serde.encode(Pipelines.event(key, Pipelines.image(i % Pipelines.IMAGES), "image/png"))));
                }
                producer.send(new ProducerRecord<>(input, "bad-not-avro", "not Avro".getBytes(StandardCharsets.UTF_8)));
            }
            try (OutputWatcher watcher = new OutputWatcher(broker.adminBootstrap(), output, dlq)) {
                Pipelines.await(Duration.ofSeconds(120), () -> {
                    instance.assertAlive();
                    return watcher.distinct() >= EVENTS + 1;
                }, () -> (EVENTS + 1) + " results, have " + watcher.distinct());
            }
            List<ConsumerRecord<String, byte[]>> classified = Pipelines.readAll(broker.adminBootstrap(), output, true);
            assertEquals(EVENTS, classified.size(), "each event classified once");
            assertEquals(EVENTS, Pipelines.countByKey(classified).size());
            for (ConsumerRecord<String, byte[]> r : classified) {
                Classification c = SingleObjectSerde.classifications().decode(r.value());
                Pipelines.expected().get(Integer.parseInt(r.key().substring(4)) % Pipelines.IMAGES).assertMatches(c, r.key());
            }
            List<ConsumerRecord<String, byte[]>> deadLetters = Pipelines.readAll(broker.adminBootstrap(), dlq, true);
            assertEquals(1, deadLetters.size());

            StringBuilder exposed = new StringBuilder();
            HttpResponse<String> metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + metricsPort + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, metrics.statusCode());
            exposed.append(metrics.body());
            for (ConsumerRecord<String, byte[]> r : deadLetters) {
                exposed.append(new String(r.value(), StandardCharsets.ISO_8859_1));
                for (Header h : r.headers()) exposed.append(h.key()).append(new String(h.value(), StandardCharsets.ISO_8859_1));
            }
            assertEquals(AppProcess.EXIT_ON_SIGTERM, instance.stop(), "SIGTERM ends it as usual");
            exposed.append(Files.readString(log));
            for (String secret : secrets) {
                assertFalse(exposed.toString().contains(secret), name + ": '" + secret + "' must not appear in the log, /metrics or the dead letters");
            }
            String settingsLine = Files.readString(log).lines().filter(l -> l.contains("StreamingApp - settings: ")).findFirst().orElseThrow();
            assertTrue(settingsLine.contains("=[hidden]"), "our settings line hides the secrets, as Kafka's config dump does: " + settingsLine);
            System.out.printf("[tomestream-it] secure: %s as %s: %d classified, 1 dead letter, no secret in %d chars of log, metrics and DLQ%n",
                    name, principal, classified.size(), exposed.length());
        }
    }

    /**
     * Starts the app with {@code client} settings that the broker refuses; it must exit non-zero within
     * a minute, and its output must end with a one-line "tomestream: " error. With {@code allowed}
     * false, the input topic exists but no ACL covers it. Returns the output.
     */
    private String refused(String name, Map<String, String> client, boolean allowed) throws Exception {
        String app = "secure-" + name + "-" + run, input = "in-" + app, output = "out-" + app, dlq = "dlq-" + app; // not under the app-prefixed ACLs of its internal topics
        broker.createTopics(1, input, output, dlq);
        if (allowed) broker.allowApp("User:" + SecureBroker.SCRAM_USER, app, input, output, dlq);
        else broker.allowApp("User:" + SecureBroker.SCRAM_USER, app, input + "-other", output, dlq);
        Path dir = Pipelines.WORK.resolve(app);
        Map<String, String> settings = AppProcess.settings(broker.adminBootstrap(), app, input, output, dlq, dir.resolve("state"), name, 8, 200);
        settings.putAll(client);
        Path log = dir.resolve("app.log");
        long t0 = System.nanoTime();
        try (AppProcess instance = AppProcess.start(name, AppProcess.LAUNCHER, AppProcess.writeConfig(dir.resolve("app.properties"), settings), log, Map.of())) {
            int exit = instance.awaitOwnExit(90);
            assertNotEquals(0, exit, "a non-zero exit");
        }
        String out = Files.readString(log);
        List<String> lines = new ArrayList<>(out.lines().toList());
        String last = lines.getLast();
        assertTrue(last.startsWith("tomestream: "), "the output ends with the app's one-line error, not: " + last);
        long frames = lines.stream().filter(l -> l.startsWith("\tat ")).count();
        assertTrue(frames <= MAX_STACK_FRAMES, frames + " stack-trace lines");
        assertFalse(out.contains(broker.scramPassword), "the password appears nowhere");
        System.out.printf("[tomestream-it] secure: %s refused after %.1f s with %d stack-trace lines: %s%n", name,
                (System.nanoTime() - t0) / 1e9, frames, last);
        return out;
    }
}
