package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.tomestream.schema.DeadLetter;
import io.tomestream.schema.DeadLetterReason;
import io.tomestream.schema.ImageEvent;
import io.tomestream.schema.SingleObjectSerde;

/**
 * A poison image in a batch of 16, against the real topology and a broker of this class's own
 * ({@link PoisonApp} holds the fake engine). When the engine throws, only that event is dead-lettered
 * and the 15 others of its batch are classified. When it kills the process, each restart narrows the
 * suspects down, and the third restart dead-letters the event that killed two processes alone: three
 * deaths, then a process that stays up. Exactly once throughout, as read_committed consumers see it.
 */
class PoisonImageFaultIT {
    private static final int EVENTS = 16, POISON = 7;
    private static BrokerProcess broker;
    private static Path dir;

    @BeforeAll
    static void startBroker() {
        dir = Pipelines.WORK.resolve("poison-" + Pipelines.unique());
        broker = BrokerProcess.start(dir.resolve("kafka"), dir.resolve("kafka.log"), Duration.ofSeconds(120),
                ApicurioRegistry.freePort(), ApicurioRegistry.freePort());
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) broker.close();
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void anEngineThatThrowsOnOneImageDeadLettersItAloneAndClassifiesTheOtherFifteen() throws Exception {
        Topics t = topics("throw");
        try (AppProcess app = AppProcess.startTestMain("poison-throw", PoisonApp.class, t.dir.resolve("app.log"),
                t.settings.toString(), PoisonApp.Mode.THROW.name());
             OutputWatcher watcher = new OutputWatcher(broker.bootstrapServers(), t.output, t.dlq)) {
            Pipelines.await(Duration.ofSeconds(120), () -> {
                app.assertAlive();
                return watcher.distinct() >= EVENTS;
            }, () -> EVENTS + " outcomes, have " + watcher.distinct());
            app.assertAlive();
        }
        assertOutcomes(t, "classify failed: java.lang.IllegalStateException: CUDA error");
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void anImageThatKillsTheProcessIsDeadLetteredAfterThreeDeathsWithNoCrashLoop() throws Exception {
        Topics t = topics("halt");
        int deaths = 0;
        try (OutputWatcher watcher = new OutputWatcher(broker.bootstrapServers(), t.output, t.dlq)) {
            for (int start = 1; ; start++) {
                int attempt = start;
                // The same state.dir each time, as a restarted pod on its volume has.
                try (AppProcess app = AppProcess.startTestMain("poison-halt-" + start, PoisonApp.class, t.dir.resolve("app.log"),
                        t.settings.toString(), PoisonApp.Mode.HALT.name())) {
                    Pipelines.await(Duration.ofSeconds(120), () -> !app.isAlive() || watcher.distinct() >= EVENTS,
                            () -> "start " + attempt + ": an exit or all outcomes, have " + watcher.distinct());
                    if (app.isAlive()) {
                        Thread.sleep(3_000); // and it stays up: no crash loop
                        app.assertAlive();
                        break;
                    }
                    assertEquals(PoisonApp.HALTED, app.awaitOwnExit(10), "died in the fake engine; log:\n" + app.logTail());
                    deaths++;
                    System.out.printf("[tomestream-it] poison: process %d died in the engine with %d outcomes committed%n", start, watcher.distinct());
                    assertTrue(deaths <= 3, "no crash loop: dead-lettered after the third death");
                }
            }
        }
        // 1: the batch of 16; 2: the 16 suspects one by one, dying at the 8th; 3: that one alone, again; 4: dead-lettered.
        assertEquals(3, deaths, "processes that died");
        assertOutcomes(t, "the process died twice while the engine classified this event alone");
    }

    /** One test's topics, with its 16 events already in the input (one partition, so one batch), and its settings file. */
    private record Topics(Path dir, String input, String output, String dlq, Path settings) {
    }

    private static Topics topics(String name) throws Exception {
        String run = Pipelines.unique();
        Path testDir = dir.resolve(name);
        String input = "poison-in-" + run, output = "poison-out-" + run, dlq = "poison-dlq-" + run;
        broker.createTopics(1, input, output, dlq);
        SingleObjectSerde<ImageEvent> serde = SingleObjectSerde.imageEvents();
        try (KafkaProducer<String, byte[]> producer = Pipelines.producer(broker.bootstrapServers())) {
            for (int i = 0; i < EVENTS; i++) {
                byte[] image = Pipelines.image(i % Pipelines.IMAGES);
                String id = key(i);
                producer.send(new ProducerRecord<>(input, id, serde.encode(Pipelines.event(id, i == POISON ? PoisonApp.mark(image) : image, "image/png"))));
            }
            producer.flush();
        }
        // A full batch at once; the wait only matters if the poll splits it.
        Map<String, String> settings = AppProcess.settings(broker.bootstrapServers(), "poison-" + run, input, output, dlq,
                testDir.resolve("state"), "poison-" + name, EVENTS, 5_000);
        return new Topics(testDir, input, output, dlq, AppProcess.writeConfig(testDir.resolve("app.properties"), settings));
    }

    private static void assertOutcomes(Topics t, String reason) {
        List<ConsumerRecord<String, byte[]>> dead = Pipelines.readAll(broker.bootstrapServers(), t.dlq, true);
        assertEquals(List.of(key(POISON)), dead.stream().map(ConsumerRecord::key).toList(), "only the poison event is dead-lettered");
        DeadLetter letter = SingleObjectSerde.deadLetters().decode(dead.getFirst().value());
        assertEquals(DeadLetterReason.MODEL_ERROR, letter.getReason());
        assertTrue(letter.getMessage().contains(reason), letter.getMessage());
        List<ConsumerRecord<String, byte[]>> classified = Pipelines.readAll(broker.bootstrapServers(), t.output, true);
        Map<String, Integer> counts = Pipelines.countByKey(classified);
        assertEquals(EVENTS - 1, counts.size(), "the 15 others classified: " + counts.keySet());
        assertTrue(counts.values().stream().allMatch(n -> n == 1), "each once: " + counts);
        for (ConsumerRecord<String, byte[]> r : classified) {
            Pipelines.expected().get(Integer.parseInt(r.key().substring(4)) % Pipelines.IMAGES)
                    .assertMatches(SingleObjectSerde.classifications().decode(r.value()), r.key());
        }
        System.out.printf("[tomestream-it] poison: %s dead-lettered (%s: %s), the %d others classified once each%n",
                key(POISON), letter.getReason(), letter.getMessage(), counts.size());
    }

    private static String key(int i) {
        return String.format("evt-%04d", i);
    }
}
