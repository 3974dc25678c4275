package io.tomestream.topology;

import io.tomestream.config.Settings;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class SharedEngineTest {
    private static Settings settings(String... kv) {
        Map<String, String> m = new java.util.HashMap<>(Map.of(Settings.MODEL_DIR, "m", "bootstrap.servers", "k:1"));
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return Settings.of(m);
    }

    @Test
    void theBudgetAimsBelowTheTargetByTheCommitIntervalUnderExactlyOnce() {
        assertEquals(900, SharedEngine.aimMs(settings(Settings.LATENCY_TARGET_MS, "1000")), "exactly_once_v2 commits every 100 ms by default");
        assertEquals(750, SharedEngine.aimMs(settings(Settings.LATENCY_TARGET_MS, "1000", "commit.interval.ms", "250")));
        assertEquals(1000, SharedEngine.aimMs(settings(Settings.LATENCY_TARGET_MS, "1000", "processing.guarantee", "at_least_once")),
                "at-least-once results are visible as soon as they are sent");
        assertEquals(1, SharedEngine.aimMs(settings(Settings.LATENCY_TARGET_MS, "50", "commit.interval.ms", "100")));
    }

    @Test
    void withBudgetAutoTheClassifierStartsOnTheLaddersFirstSchedule() {
        Settings s = settings(Settings.BUDGET, "auto", Settings.BUDGET_LADDER, " ; 2;8", Settings.DECODE_FAST, "true");
        assertEquals("2", SharedEngine.classifierOptions(s).budget());
        assertEquals(true, SharedEngine.classifierOptions(s).fastDecode());
        assertEquals("8:-1", SharedEngine.classifierOptions(settings(Settings.BUDGET, "8:-1")).budget());
    }
}
