package io.tomestream.config;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tools that only read settings (deploy's send-images) run without {@code --add-modules
 * jdk.incubator.vector}: the settings, and the enums they name, must load without the engine's kernels.
 * A JVM of its own, since this one has the module.
 */
class WithoutVectorModuleTest {
    /** What send-images does first. */
    public static final class Probe {
        public static void main(String[] args) {
            Settings s = Settings.of(java.util.Map.of(Settings.MODEL_DIR, "/models/m", Settings.REDUCER, "pool",
                    "bootstrap.servers", "localhost:9092"));
            System.out.println("reducer " + s.reducer() + ", backend " + s.backend());
        }
    }

    @Test
    void settingsLoadInAJvmWithoutTheVectorModule() throws Exception {
        Process p = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Probe.class.getName()))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("reducer pool, backend auto"), out);
    }
}
