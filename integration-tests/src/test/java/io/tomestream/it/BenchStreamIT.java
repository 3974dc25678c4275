package io.tomestream.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tomestream.dataset.FashionMnist;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/tomestream bench-stream} as a user runs it, kept short: the fixture model on Fashion-MNIST
 * events (labels known), budget auto, two offered rates. It starts its own broker and app processes, and
 * its report must hold every number the docs quote. It measures nothing here: CI's numbers mean nothing.
 */
class BenchStreamIT {

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void benchStreamDrivesABrokerAndTheAppInTheirOwnProcessesAndReportsEveryNumber(@TempDir Path dir) throws Exception {
        boolean fmnist = FashionMnist.present(FashionMnist.DEBIAN_DIR);
        Path plot = dir.resolve("latency.png");
        List<String> command = new ArrayList<>(List.of(Pipelines.ROOT.resolve("bin/tomestream").toString(), "bench-stream",
                "--model", Pipelines.MODEL.toString(), "--events", fmnist ? "fashion-mnist" : "camera", "--budget", "auto",
                "--batch", "8", "--drain", "80", "--rates", "0.5,1.5", "--seconds", "3", "--baseline-seconds", "0.5",
                "--latency-target", "2000", "--plot", plot.toString()));
        ProcessBuilder pb = new ProcessBuilder(command).directory(Pipelines.ROOT.toFile())
                .redirectOutput(dir.resolve("out.txt").toFile()).redirectError(dir.resolve("err.txt").toFile());
        Map<String, String> env = pb.environment();
        env.put("TOMESTREAM_SKIP_BUILD", "1");
        env.keySet().removeIf(k -> k.startsWith("TOMESTREAM_") && !k.equals("TOMESTREAM_SKIP_BUILD"));
        env.put("TOMESTREAM_SKIP_BUILD", "1");
        Process p = pb.start();
        boolean ended = p.waitFor(5, TimeUnit.MINUTES);
        if (!ended) p.destroyForcibly();
        String out = Files.readString(dir.resolve("out.txt")), err = Files.readString(dir.resolve("err.txt"));
        System.out.printf("[tomestream-it] bench-stream:%n%s%n%s%n", out, err);
        assertTrue(ended, "bench-stream did not finish in 5 minutes");
        assertEquals(0, p.exitValue(), err);

        JsonNode j = new ObjectMapper().readTree(out.strip().lines().toList().getLast());
        for (String key : List.of("model", "events", "batch", "budget", "latency_target_ms", "engine_img_s", "classify_img_s",
                "stream_events_s", "app_cpu_ms_per_event", "engine_cpu_ms_per_image", "rates", "fixed_r0_rates")) {
            assertTrue(j.has(key), key + " in " + j);
        }
        assertEquals("auto", j.get("budget").asText());
        assertEquals(2000, j.get("latency_target_ms").asLong());
        for (String key : List.of("engine_img_s", "classify_img_s", "stream_events_s", "app_cpu_ms_per_event", "engine_cpu_ms_per_image")) {
            assertTrue(j.get(key).asDouble() > 0, key + " > 0 in " + j);
        }
        assertEquals(2, j.get("rates").size(), "one row per offered rate");
        assertEquals(1, j.get("fixed_r0_rates").size(), "r=0 at the top rate, for comparison");
        double drain = j.get("stream_events_s").asDouble();
        for (JsonNode rate : j.get("rates")) {
            for (String key : List.of("offered", "achieved", "p50_ms", "p99_ms", "budget_mean")) assertTrue(rate.has(key), key + " in " + rate);
            assertTrue(rate.get("p50_ms").asLong() <= rate.get("p99_ms").asLong(), rate.toString());
            assertTrue(rate.get("budget_mean").asDouble() >= 0, rate.toString());
            assertTrue(!rate.has("missing"), "every event got its result: " + rate);
            if (fmnist) assertTrue(rate.has("accuracy"), rate.toString());
        }
        assertEquals(0.5 * drain, j.get("rates").get(0).get("offered").asDouble(), 0.5 * drain * 0.3, "the rate is a fraction of the drain rate");
        assertTrue(out.contains("| engine, forward pass only"), out);
        assertTrue(out.contains("| budget | offered (% of drain)"), out);
        assertTrue(Files.size(plot) > 1000, "the plot was written");
        assertTrue(javax.imageio.ImageIO.read(plot.toFile()).getWidth() > 0);
    }
}
