package io.tomestream.metrics;

import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tomestream.schema.DeadLetterReason;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TopologyConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Scrapes the real HTTP endpoints on a free loopback port. */
class MetricsServerTest {
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void metricsAndHealthAreServed() throws Exception {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        PipelineMetrics metrics = new PipelineMetrics(registry);
        metrics.modelInfo("vit-tiny-rand", "v1", "tome", "8", "cpu", "test cpu");
        for (int i = 0; i < 3; i++) metrics.consumed();
        metrics.tombstone();
        metrics.classified(33, 120);
        metrics.deadLettered(DeadLetterReason.SCHEMA_ERROR);
        metrics.batch(4, 5_000_000);
        AtomicReference<String> notReady = new AtomicReference<>("loading the model");

        try (MetricsServer server = MetricsServer.start(0, registry, notReady::get)) {
            String base = "http://127.0.0.1:" + server.port();
            HttpResponse<String> scrape = get(base + "/metrics");
            assertEquals(200, scrape.statusCode());
            assertTrue(scrape.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
            String body = scrape.body();
            for (String expected : new String[] {
                    "tomestream_events_consumed_total 3.0",
                    "tomestream_events_tombstones_total 1.0",
                    "tomestream_events_classified_total 1.0",
                    "tomestream_events_dead_lettered_total{reason=\"SCHEMA_ERROR\"} 1.0",
                    "tomestream_events_dead_lettered_total{reason=\"MODEL_ERROR\"} 0.0",
                    "tomestream_latency_end_to_end_seconds_bucket{le=",
                    "tomestream_batch_duration_seconds_bucket{le=",
                    "tomestream_batch_size_bucket{le=\"4.0\"} 1",
                    "tomestream_tokens_final_count 1",
                    "tomestream_model_info{backend=\"cpu\",device=\"test cpu\",model=\"vit-tiny-rand\",reducer=\"tome\",tome=\"8\",version=\"v1\"} 1"}) {
                assertTrue(body.contains(expected), expected + " in\n" + body);
            }
            HttpRequest openMetrics = HttpRequest.newBuilder(URI.create(base + "/metrics"))
                    .header("Accept", "application/openmetrics-text; version=1.0.0").build();
            HttpResponse<String> om = http.send(openMetrics, HttpResponse.BodyHandlers.ofString());
            assertTrue(om.headers().firstValue("Content-Type").orElse("").startsWith("application/openmetrics-text"));
            assertTrue(om.body().strip().endsWith("# EOF"));

            assertEquals(200, get(base + "/health/live").statusCode());
            HttpResponse<String> ready = get(base + "/health/ready");
            assertEquals(503, ready.statusCode());
            assertEquals("not ready: loading the model", ready.body().strip());
            notReady.set(null);
            assertEquals(200, get(base + "/health/ready").statusCode());
            assertEquals(404, get(base + "/nothing-here").statusCode());
        }
    }

    @Test
    void kafkaClientMetricsIncludingConsumerLagAreBound(@TempDir Path stateDir) {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        Properties props = new Properties();
        props.put("application.id", "metrics-test");
        props.put("bootstrap.servers", "127.0.0.1:9"); // never started, so never contacted
        props.put("state.dir", stateDir.toString());
        props.put("processing.exception.handler.global.enabled", "true");
        StreamsBuilder builder = new StreamsBuilder(new TopologyConfig(new StreamsConfig(props)));
        builder.stream("in").to("out");
        try (KafkaStreams streams = new KafkaStreams(builder.build(), props);
             KafkaStreamsMetrics binder = new KafkaStreamsMetrics(streams)) {
            binder.bindTo(registry);
            String body = registry.scrape();
            assertTrue(body.contains("kafka_consumer_fetch_manager_records_lag_max"), body.lines().filter(l -> l.contains("lag")).toList().toString());
        }
    }

    private HttpResponse<String> get(String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
