package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;


/**
 * A single broker (its own process, private to this test) stopped for 30 s mid-stream, then started
 * again on its data and ports. The app ({@code bin/tomestream run}) must ride it out by itself, not
 * exit, and classify every event exactly once, the ones sent before, during (buffered by the producer)
 * and after the outage.
 */
class BrokerOutageFaultIT {
    private static final int EVENTS = 120, RATE_PER_S = 10;

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void aThirtySecondBrokerOutageMidStreamAndEveryEventIsClassifiedOnce() throws Exception {
        String run = Pipelines.unique();
        Path dir = Pipelines.WORK.resolve("broker-outage-" + run);
        String app = "bout-" + run, input = "bout-in-" + run, output = "bout-out-" + run, dlq = "bout-dlq-" + run;
        int port = ApicurioRegistry.freePort(), controllerPort = ApicurioRegistry.freePort();
        BrokerProcess broker = BrokerProcess.start(dir.resolve("kafka"), dir.resolve("kafka.log"), Duration.ofSeconds(120), port, controllerPort);
        String bootstrap = broker.bootstrapServers();
        broker.createTopics(2, input, output, dlq);
        Map<String, String> settings = AppProcess.settings(bootstrap, app, input, output, dlq, dir.resolve("state"), "bout", 8, 300);
        int metricsPort = ApicurioRegistry.freePort();
        settings.put("metrics.port", String.valueOf(metricsPort));
        try (AppProcess instance = AppProcess.start("bout", AppProcess.writeConfig(dir.resolve("app.properties"), settings), dir.resolve("app.log"))) {
            Pipelines.await(Duration.ofSeconds(120), () -> {
                instance.assertAlive();
                return Pipelines.assignment(broker.admin(), app, input).size() == 1;
            }, () -> "the app in its group");
            PacedProducer producerThread = new PacedProducer(bootstrap, input, EVENTS, RATE_PER_S);
            producerThread.start();
            try (OutputWatcher watcher = new OutputWatcher(bootstrap, output)) {
                Pipelines.await(Duration.ofSeconds(60), () -> watcher.distinct() >= 20, () -> "20 classified before the outage, have " + watcher.distinct());
            }
            broker.close(); // SIGTERM: a controlled shutdown, as in a rolling restart that takes too long
            long stoppedAt = System.nanoTime();
            System.out.printf("[tomestream-it] broker outage: stopped the broker with %d of %d sent%n", producerThread.sent.get(), EVENTS);
            while (System.nanoTime() - stoppedAt < TimeUnit.SECONDS.toNanos(30)) {
                instance.assertAlive();
                Thread.sleep(500);
            }
            BrokerProcess again = BrokerProcess.start(dir.resolve("kafka"), dir.resolve("kafka.log"), Duration.ofSeconds(120), port, controllerPort);
            try (again; OutputWatcher watcher = new OutputWatcher(bootstrap, output, dlq)) {
                double seconds = Pipelines.awaitAllResults(producerThread, watcher, instance, EVENTS);
                System.out.printf("[tomestream-it] broker outage: all %d results %.1f s after the broker came back%n", EVENTS, seconds);
                Pipelines.await(Duration.ofSeconds(60), () -> Pipelines.committed(again.admin(), app, input) == EVENTS,
                        () -> "committed offsets " + Pipelines.committed(again.admin(), app, input) + " of " + EVENTS);
                Pipelines.assertEachClassifiedOnce(bootstrap, output, dlq, EVENTS);
                Pipelines.assertCommittedCounts(metricsPort, EVENTS, 0);
                assertEquals(AppProcess.EXIT_ON_SIGTERM, instance.stop(), "still running, and stops on SIGTERM");
            }
        }
    }
}
