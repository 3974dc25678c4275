package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import io.tomestream.schema.Classification;
import io.tomestream.schema.ImageEvent;
import io.tomestream.schema.SingleObjectSerde;

/**
 * A restart with a half-full batch: one instance ({@code bin/tomestream run}, its own JVM) with
 * batch.size 64 and batch.max.wait.ms 60 s gets fewer events than a batch. Once it has consumed them
 * (its committed offsets cover them, and they are in the buffer's changelog) and before any is
 * classified, it is stopped, by SIGTERM or by SIGKILL, and started again with a short wait. Every event
 * must then be classified exactly once: nothing lost with the process, nothing classified twice.
 * Values use the default single-object serde.
 */
@ExtendWith(SharedInfra.class)
class RestartIT {
    private static final int EVENTS = 20;
    private static final Pattern RESTORED = Pattern.compile("task \\S+: (\\d+) buffered records restored");

    enum Stop { SIGTERM, SIGKILL }

    private final KafkaCluster kafka;

    RestartIT(KafkaCluster kafka) {
        this.kafka = kafka;
    }

    @ParameterizedTest(name = "stopped by {0}")
    @EnumSource(Stop.class)
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void aHalfFullBatchIsClassifiedExactlyOnceAfterARestart(Stop how) throws Exception {
        String run = Pipelines.unique();
        String app = "restart-" + how.name().toLowerCase() + "-" + run;
        String input = app + "-in", output = app + "-out", dlq = app + "-dlq";
        String changelog = app + "-classify-buffer-changelog";
        kafka.createTopics(2, input, output, dlq);
        String bootstrap = kafka.bootstrapServers();
        List<Pipelines.Expected> expected = Pipelines.expected();
        Path dir = Pipelines.WORK.resolve(app);
        Path config = AppProcess.writeConfig(dir.resolve("app.properties"),
                AppProcess.settings(bootstrap, app, input, output, dlq, dir.resolve("state"), "solo", 64, 60_000));

        try (AppProcess first = AppProcess.start("solo-1", config, dir.resolve("solo-1.log"))) {
            Pipelines.await(Duration.ofSeconds(90), () -> {
                first.assertAlive();
                Map<String, Set<Integer>> a = Pipelines.assignment(kafka.admin(), app, input);
                return a.size() == 1 && a.values().iterator().next().size() == 2;
            }, () -> "the instance owning both partitions; group: " + Pipelines.group(kafka.admin(), app));

            SingleObjectSerde<ImageEvent> serde = SingleObjectSerde.imageEvents();
            try (KafkaProducer<String, byte[]> producer = Pipelines.producer(bootstrap)) {
                for (int i = 0; i < EVENTS; i++) {
                    String id = String.format("half-%02d", i);
                    producer.send(new ProducerRecord<>(input, id, serde.encode(Pipelines.event(id, Pipelines.image(i % Pipelines.IMAGES), "image/png"))));
                }
                producer.flush();
            }
            // Consumed: the offsets are committed, in the same transactions as the buffer's changelog writes.
            Pipelines.await(Duration.ofSeconds(60), () -> Pipelines.committed(kafka.admin(), app, input) == EVENTS,
                    () -> "committed offsets " + Pipelines.committed(kafka.admin(), app, input) + " of " + EVENTS);
            assertEquals(EVENTS, buffered(bootstrap, changelog), "every event is in the committed changelog of the buffer");
            assertTrue(Pipelines.readAll(bootstrap, output, true).isEmpty(), "nothing classified yet: the batch is half full");
            first.assertAlive();

            switch (how) {
                case SIGTERM -> assertEquals(AppProcess.EXIT_ON_SIGTERM, first.stop(), "a clean shutdown");
                case SIGKILL -> first.kill();
            }
        }
        assertTrue(Pipelines.readAll(bootstrap, output, true).isEmpty(), "stopping flushes nothing");

        try (AppProcess second = AppProcess.start("solo-2", config, dir.resolve("solo-2.log"), "batch.max.wait.ms=200");
             OutputWatcher watcher = new OutputWatcher(bootstrap, output, dlq)) {
            Pipelines.await(Duration.ofSeconds(90), () -> {
                second.assertAlive();
                return watcher.distinct() >= EVENTS;
            }, () -> EVENTS + " classified after the restart, have " + watcher.distinct() + "; log:\n" + second.logTail());
            // The buffer is emptied in the transaction that carries the classifications.
            Pipelines.await(Duration.ofSeconds(30), () -> buffered(bootstrap, changelog) == 0,
                    () -> buffered(bootstrap, changelog) + " still buffered");

            List<ConsumerRecord<String, byte[]>> out = Pipelines.readAll(bootstrap, output, true);
            Map<String, Integer> counts = Pipelines.countByKey(out);
            assertEquals(EVENTS, counts.size(), "every event classified: " + counts.keySet());
            assertTrue(counts.values().stream().allMatch(n -> n == 1), "each exactly once: " + counts);
            for (ConsumerRecord<String, byte[]> r : out) {
                Classification c = SingleObjectSerde.classifications().decode(r.value());
                expected.get(Integer.parseInt(r.key().substring(5)) % Pipelines.IMAGES).assertMatches(c, r.key());
            }
            assertTrue(Pipelines.readAll(bootstrap, dlq, true).isEmpty(), "no dead letters");
            // They came out of the restored buffer, not from consuming the input again.
            assertEquals(EVENTS, restoredInLog(dir.resolve("solo-2.log")), "the restarted instance reports the restored records");
            assertEquals(EVENTS, Pipelines.committed(kafka.admin(), app, input));
            assertEquals(AppProcess.EXIT_ON_SIGTERM, second.stop(), "stops on SIGTERM");
        }
    }

    /** Buffer entries present in the committed changelog: the latest value of each key, tombstones removing. */
    private static int buffered(String bootstrap, String changelog) {
        Map<String, byte[]> latest = new HashMap<>();
        for (ConsumerRecord<String, byte[]> r : Pipelines.readAll(bootstrap, changelog, true)) latest.put(r.key(), r.value());
        return (int) latest.values().stream().filter(v -> v != null).count();
    }

    private static int restoredInLog(Path log) throws IOException {
        Matcher m = RESTORED.matcher(Files.readString(log, StandardCharsets.UTF_8));
        int n = 0;
        while (m.find()) n += Integer.parseInt(m.group(1));
        return n;
    }
}
