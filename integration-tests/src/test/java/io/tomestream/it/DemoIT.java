package io.tomestream.it;

import io.tomestream.dataset.FashionMnist;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;


/**
 * {@code tomestream demo} as a user runs it, in this JVM: its own KRaft broker, the topology, 60 events
 * plus 5 bad ones. Fashion-MNIST images when Debian's dataset is installed (classified by the fixture
 * model, which converts them to RGB 32x32; its accuracy is chance, but it is computed), else the
 * fixture images. It needs neither the shared broker nor a trained model.
 */
class DemoIT {
    private static final int EVENTS = 60, BAD = 5;

    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void demoRunsThePipelineAndEndsWithAJsonSummaryAndNoThreadsLeft() throws Exception {
        boolean fmnist = FashionMnist.present(FashionMnist.DEBIAN_DIR);
        Set<Thread> before = liveNonDaemonThreads();
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        long t0 = System.nanoTime();
        int code = io.tomestream.demo.DemoMain.run(new String[] {"demo", "--events", Integer.toString(EVENTS), "--bad", Integer.toString(BAD),
                        "--model", Pipelines.MODEL.toString(), "--data", fmnist ? "fashion-mnist" : "fixtures"},
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        double seconds = (System.nanoTime() - t0) / 1e9;
        String stdout = out.toString(StandardCharsets.UTF_8), stderr = err.toString(StandardCharsets.UTF_8);
        System.out.printf("[tomestream-it] demo (%s) in %.1f s:%n%s%s%n", fmnist ? "Fashion-MNIST" : "fixtures", seconds, stdout,
                stderr.replace('\r', '\n'));
        assertEquals(0, code, stderr);

        List<String> lines = stdout.strip().lines().toList();
        JsonNode summary = new ObjectMapper().readTree(lines.getLast());
        assertEquals(List.of("produced", "classified", "dlq", "events_per_s", "p50_ms", "p99_ms", "accuracy"),
                iterable(summary.fieldNames()));
        assertEquals(EVENTS + BAD, summary.get("produced").asInt());
        assertEquals(EVENTS, summary.get("classified").asInt());
        assertEquals(BAD, summary.get("dlq").asInt());
        assertTrue(summary.get("events_per_s").asDouble() > 0);
        assertTrue(summary.get("p50_ms").asLong() >= 0 && summary.get("p50_ms").asLong() <= summary.get("p99_ms").asLong(), summary.toString());
        if (fmnist) {
            double accuracy = summary.get("accuracy").asDouble();
            assertTrue(accuracy >= 0 && accuracy <= 1, summary.toString());
        } else {
            assertTrue(summary.get("accuracy").isNull(), "fixture images have no labels");
        }
        // The human-readable part names every deliberately bad event's reason.
        for (String reason : List.of("UNDECODABLE_IMAGE", "IMAGE_TOO_LARGE", "SCHEMA_ERROR", "UNSUPPORTED_FORMAT")) {
            assertTrue(stdout.contains(reason), reason + " in\n" + stdout);
        }
        assertTrue(stderr.contains("\r"), "a progress line updated in place");

        // Everything the demo started is stopped: no non-daemon thread of its keeps a JVM alive.
        Set<String> left = Set.of();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        do {
            Set<Thread> now = liveNonDaemonThreads();
            now.removeAll(before);
            left = now.stream().map(Thread::getName).collect(Collectors.toSet());
            if (left.isEmpty()) break;
            Thread.sleep(100);
        } while (System.nanoTime() < deadline);
        assertEquals(Set.of(), left, "non-daemon threads left running");
    }

    private static Set<Thread> liveNonDaemonThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.isAlive() && !t.isDaemon()).collect(Collectors.toSet());
    }

    private static List<String> iterable(java.util.Iterator<String> it) {
        List<String> out = new java.util.ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }
}
