package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The app ({@code bin/tomestream run}) for a long while at a steady share of its capacity: its memory
 * must stay flat, its latency steady, and every event must come out exactly once.
 * <ol>
 *   <li>Capacity: a backlog of {@value #BACKLOG} events, and the rate at which the app clears it.</li>
 *   <li>The soak: {@code tomestream.soak.load} (0.7) of that rate for {@code tomestream.soak.minutes}
 *       (3 in CI; the nightly run is 30). Every {@value #SAMPLE_S} s: the process's RSS, its live heap
 *       right after a full GC ({@code jcmd GC.run}), and the p99 of event-to-result latency over the
 *       window, as a read_committed consumer sees results.</li>
 *   <li>The checks, after a warm-up (a fifth of the run, at least 60 s): the least-squares slope of heap and of RSS
 *       stays under {@code tomestream.soak.heap.mb.per.min} (2) and {@code tomestream.soak.rss.mb.per.min}
 *       (8); the median window p99 of the last third is at most twice that of the first third plus
 *       100 ms; and the output holds each event once, as do the committed counters.</li>
 * </ol>
 * The samples go to {@code soak.csv} in the test's work folder.
 */
@ExtendWith(SharedInfra.class)
class SoakIT {
    private static final int BACKLOG = 2_000, SAMPLE_S = 15;
    private static final double MINUTES = Double.parseDouble(System.getProperty("tomestream.soak.minutes", "3"));
    /** Left out of the slopes: the JIT, the heap's first old-generation cycles and RocksDB's first memtables settle. */
    private static final double WARMUP_S = Math.max(60, MINUTES * 60 * 0.2);
    private static final double LOAD = Double.parseDouble(System.getProperty("tomestream.soak.load", "0.7"));
    private static final double HEAP_MB_PER_MIN = Double.parseDouble(System.getProperty("tomestream.soak.heap.mb.per.min", "2"));
    private static final double RSS_MB_PER_MIN = Double.parseDouble(System.getProperty("tomestream.soak.rss.mb.per.min", "8"));

    private final KafkaCluster kafka;

    SoakIT(KafkaCluster kafka) {
        this.kafka = kafka;
    }

    /** One sample: seconds into the soak, RSS and heap after a full GC in MB, and the window's p99 in ms over n results. */
    private record Sample(double seconds, double rssMb, double heapMb, long p99Ms, int n) {
    }

    @Test
    void atSeventyPercentOfCapacityMemoryStaysFlatLatencySteadyAndNothingIsLost() throws Exception {
        String run = Pipelines.unique();
        Path dir = Pipelines.WORK.resolve("soak-" + run);
        String app = "soak-" + run, input = "soak-in-" + run, output = "soak-out-" + run, dlq = "soak-dlq-" + run;
        kafka.createTopics(2, input, output, dlq);
        Map<String, String> settings = AppProcess.settings(kafka.bootstrapServers(), app, input, output, dlq, dir.resolve("state"), "soak", 16, 200);
        int metricsPort = ApicurioRegistry.freePort();
        settings.put("metrics.port", String.valueOf(metricsPort));

        // The backlog goes first, so the app finds it at start and clears it as fast as it can.
        PacedProducer backlog = new PacedProducer(kafka.bootstrapServers(), input, BACKLOG, 0, 1_000_000);
        backlog.run();
        assertNull(backlog.failure.get());
        // The heap committed and touched up front, so that RSS moves only with what lives outside it (RocksDB, metaspace, code).
        try (AppProcess instance = AppProcess.start("soak", AppProcess.LAUNCHER, AppProcess.writeConfig(dir.resolve("app.properties"), settings),
                dir.resolve("app.log"), Map.of("TOMESTREAM_JAVA_OPTS", "-Xms256m -Xmx256m -XX:+AlwaysPreTouch -XX:ParallelGCThreads=1 -XX:CICompilerCount=2"));
             OutputWatcher watcher = new OutputWatcher(kafka.bootstrapServers(), output)) {
            Pipelines.await(Duration.ofSeconds(120), () -> {
                instance.assertAlive();
                return watcher.distinct() >= 100;
            }, () -> "the app classifying its backlog");
            long t0 = System.nanoTime();
            int n0 = watcher.distinct();
            Pipelines.await(Duration.ofSeconds(180), () -> watcher.distinct() >= BACKLOG, () -> "the backlog cleared, " + watcher.distinct());
            double capacity = (watcher.distinct() - n0) / ((System.nanoTime() - t0) / 1e9);
            int rate = (int) Math.max(1, Math.round(capacity * LOAD));
            int events = (int) Math.round(rate * MINUTES * 60);
            System.out.printf("[tomestream-it] soak: capacity %.0f events/s (a backlog of %d); now %d events/s (%.0f%%) for %.1f min%n",
                    capacity, BACKLOG, rate, LOAD * 100, MINUTES);
            watcher.drainLatencies(); // the backlog's latencies are queueing, not the app's

            PacedProducer producer = new PacedProducer(kafka.bootstrapServers(), input, events, BACKLOG, rate);
            List<Sample> samples = new ArrayList<>();
            long start = System.nanoTime();
            producer.start();
            while (producer.isAlive()) {
                Thread.sleep(TimeUnit.SECONDS.toMillis(SAMPLE_S));
                instance.assertAlive();
                List<Long> window = watcher.drainLatencies();
                Collections.sort(window);
                long p99 = window.isEmpty() ? -1 : window.get((int) Math.min(window.size() - 1, Math.ceil(window.size() * 0.99) - 1));
                double heap = liveHeapAfterFullGc(instance, metricsPort);
                Sample s = new Sample((System.nanoTime() - start) / 1e9, rssMb(instance.pid()), heap, p99, window.size());
                samples.add(s);
                System.out.printf("[tomestream-it] soak: %5.0f s  rss %6.1f MB  heap after GC %6.1f MB  p99 %5d ms over %d%n",
                        s.seconds(), s.rssMb(), s.heapMb(), s.p99Ms(), s.n());
            }
            assertNull(producer.failure.get(), "the producer delivered everything");
            int total = BACKLOG + events;
            Pipelines.await(Duration.ofSeconds(120), () -> watcher.distinct() >= total, () -> total + " classified, have " + watcher.distinct());
            writeCsv(dir.resolve("soak.csv"), samples);

            List<Sample> steady = samples.stream().filter(s -> s.seconds() >= WARMUP_S && s.n() > 0).toList();
            assertTrue(steady.size() >= 6, "enough samples after the warm-up: " + steady.size());
            double heapSlope = slopePerMinute(steady, Sample::heapMb), rssSlope = slopePerMinute(steady, Sample::rssMb);
            double p99Slope = slopePerMinute(steady, s -> s.p99Ms());
            int third = steady.size() / 3;
            long p99First = median(steady.subList(0, third)), p99Last = median(steady.subList(steady.size() - third, steady.size()));
            System.out.printf("[tomestream-it] soak: %.1f min at %d events/s: heap after GC %+.2f MB/min, RSS %+.2f MB/min, p99 %+.1f ms/min "
                    + "(median window p99 %d ms in the first third, %d ms in the last); %d events%n",
                    MINUTES, rate, heapSlope, rssSlope, p99Slope, p99First, p99Last, total);
            assertTrue(heapSlope < HEAP_MB_PER_MIN, "heap after a full GC flat: " + heapSlope + " MB/min");
            assertTrue(rssSlope < RSS_MB_PER_MIN, "RSS flat: " + rssSlope + " MB/min");
            assertTrue(p99Last <= 2 * p99First + 100, "p99 steady: " + p99First + " ms, then " + p99Last + " ms");

            Pipelines.await(Duration.ofSeconds(60), () -> Pipelines.committed(kafka.admin(), app, input) == total,
                    () -> "committed offsets " + Pipelines.committed(kafka.admin(), app, input) + " of " + total);
            Pipelines.assertEachClassifiedOnce(kafka.bootstrapServers(), output, dlq, total);
            Pipelines.assertCommittedCounts(metricsPort, total, 0);
            assertEquals(AppProcess.EXIT_ON_SIGTERM, instance.stop());
        }
    }

    /**
     * What the app holds on to: the old generation right after a full GC, as Micrometer's
     * {@code jvm_gc_live_data_size_bytes} reports it (the whole heap would count the young objects
     * allocated since, at hundreds of MB/s).
     */
    private static double liveHeapAfterFullGc(AppProcess instance, int metricsPort) throws IOException, InterruptedException {
        Process gc = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(), Long.toString(instance.pid()), "GC.run")
                .redirectErrorStream(true).start();
        String out = new String(gc.getInputStream().readAllBytes());
        assertTrue(gc.waitFor(60, TimeUnit.SECONDS) && gc.exitValue() == 0, "jcmd GC.run: " + out);
        return Pipelines.metric(metricsPort, "jvm_gc_live_data_size_bytes") / 1e6;
    }

    private static double rssMb(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
        }
        throw new AssertionError("no VmRSS for " + pid);
    }

    /** Least-squares slope of {@code y} against time, per minute. */
    private static double slopePerMinute(List<Sample> samples, java.util.function.ToDoubleFunction<Sample> y) {
        double n = samples.size(), sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (Sample s : samples) {
            double x = s.seconds() / 60, v = y.applyAsDouble(s);
            sx += x;
            sy += v;
            sxx += x * x;
            sxy += x * v;
        }
        return (n * sxy - sx * sy) / (n * sxx - sx * sx);
    }

    private static long median(List<Sample> samples) {
        List<Long> p99s = samples.stream().map(Sample::p99Ms).sorted().toList();
        return p99s.get(p99s.size() / 2);
    }

    private static void writeCsv(Path file, List<Sample> samples) throws IOException {
        List<String> lines = new ArrayList<>(List.of("seconds,rss_mb,heap_after_gc_mb,p99_ms,results"));
        for (Sample s : samples) lines.add(String.format(java.util.Locale.ROOT, "%.0f,%.1f,%.1f,%d,%d", s.seconds(), s.rssMb(), s.heapMb(), s.p99Ms(), s.n()));
        Files.write(file, lines);
    }
}
