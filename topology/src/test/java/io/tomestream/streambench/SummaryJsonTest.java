package io.tomestream.streambench;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** bench-stream's last line keeps the keys and order scripts (and docs/benchmarks.md) read. */
class SummaryJsonTest {
    @Test
    void summaryIsSnakeCaseInDeclarationOrderWithOptionalFieldsLeftOut() throws Exception {
        StreamBench.Rate plain = new StreamBench.Rate(7.1, 7.0, 205, 388, 0.0, 0.5, null, null);
        StreamBench.Rate labelled = new StreamBench.Rate(299.3, 296.9, 195, 380, 0.0, 0.5, 0.8913, 2);
        StreamBench.Summary fixed = new StreamBench.Summary("m", EventKind.CAMERA, 8, "0", null, 24.8, 21.2, 14.3, 112.68, 79.11, 10.08,
                7.62, 0.855, List.of(plain), null);
        assertEquals("{\"model\":\"m\",\"events\":\"camera\",\"batch\":8,\"budget\":\"0\",\"latency_target_ms\":null,\"engine_img_s\":24.8,"
                        + "\"classify_img_s\":21.2,\"stream_events_s\":14.3,\"app_cpu_ms_per_event\":112.68,\"engine_cpu_ms_per_image\":79.11,"
                        + "\"broker_cpu_ms_per_event\":10.08,\"load_generator_cpu_ms_per_event\":7.62,\"engine_busy_share\":0.855,"
                        + "\"rates\":[{\"offered\":7.1,\"achieved\":7.0,\"p50_ms\":205,\"p99_ms\":388,\"budget_mean\":0.0,\"fraction_of_drain\":0.5}]}",
                StreamBench.json(fixed));
        StreamBench.Summary auto = new StreamBench.Summary("m", EventKind.FASHION_MNIST, 16, "auto", 1000L, 1, 1, 1, 1, 1, 1, 1, 1,
                List.of(labelled), List.of(plain));
        String json = StreamBench.json(auto);
        assertEquals(true, json.contains("\"latency_target_ms\":1000,"), json);
        assertEquals(true, json.contains("\"fraction_of_drain\":0.5,\"accuracy\":0.8913,\"missing\":2}"), json);
        assertEquals(true, json.endsWith(",\"fixed_r0_rates\":[{\"offered\":7.1,\"achieved\":7.0,\"p50_ms\":205,\"p99_ms\":388,\"budget_mean\":0.0,\"fraction_of_drain\":0.5}]}"), json);
    }
}
