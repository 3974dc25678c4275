package io.tomestream.cli;

import io.tomestream.json.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.tomestream.cli.CommandRun.assertUsageError;
import static io.tomestream.cli.CommandRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line as a user runs it: stdout holds results only, stderr one line per problem. */
class MainTest {
    private static final Path FIXTURES = Path.of("..", "tornado-kernels", "src", "test", "resources", "fixtures");
    private static final String MODEL = FIXTURES.resolve("vit-tiny-rand").toString();



    private static String image(int i) {
        return FIXTURES.resolve("images/img" + i + ".png").toString();
    }

    @Test
    void classifyJsonPrintsOneObjectPerImage() {
        CommandRun r = run("classify", "--model", MODEL, "--tome", "8:-1", "--top", "3", "--json", image(0), image(1), image(2));
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.outLines();
        assertEquals(3, lines.size(), r.out());
        for (int i = 0; i < 3; i++) {
            Map<?, ?> o = (Map<?, ?>) Json.parse(lines.get(i));
            assertEquals(image(i), o.get("image"));
            assertEquals(10, ((List<?>) o.get("logits")).size());
            List<?> top = (List<?>) o.get("top");
            assertEquals(3, top.size());
            Map<?, ?> best = (Map<?, ?>) top.getFirst();
            assertTrue(best.containsKey("index") && best.containsKey("label") && best.containsKey("score"));
            assertEquals(List.of(65L, 49L, 39L, 34L, 34L), o.get("tokens"));
            assertTrue(((Number) o.get("millis")).doubleValue() > 0);
        }
    }

    @Test
    void classifyJsonGivesAnMsvitImagesOwnTokenCountAndSplitRegions() {
        CommandRun r = run("classify", "--model", FIXTURES.resolve("vit-msvit-rand").toString(), "--tome", "0", "--json", image(0), image(1), image(2));
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.outLines();
        // as the reference (make_msvit_fixtures.py) splits them: 0, 1 and 9 of 16 regions, 1 + 16 + 3 k tokens
        long[] splits = {0, 1, 9};
        for (int i = 0; i < 3; i++) {
            Map<?, ?> o = (Map<?, ?>) Json.parse(lines.get(i));
            assertEquals(splits[i], o.get("splitRegions"), lines.get(i));
            assertEquals(17 + 3 * splits[i], ((List<?>) o.get("tokens")).getFirst(), lines.get(i));
        }
        Map<?, ?> plain = (Map<?, ?>) Json.parse(run("classify", "--model", MODEL, "--json", image(0)).outLines().getFirst());
        assertTrue(!plain.containsKey("splitRegions"), plain.toString());
    }

    @Test
    void aBadImageIsReportedAndTheOthersStillClassified(@TempDir Path dir) throws Exception {
        Path bad = dir.resolve("broken.png");
        byte[] png = Files.readAllBytes(Path.of(image(0)));
        Files.write(bad, java.util.Arrays.copyOf(png, png.length / 2)); // truncated mid-stream
        CommandRun r = run("classify", "--model", MODEL, "--json", image(0), bad.toString(), dir.resolve("missing.png").toString(), image(1));
        assertEquals(1, r.code());
        List<String> lines = r.outLines();
        assertEquals(4, lines.size(), r.out());
        List<String> errors = new ArrayList<>();
        for (String l : lines) {
            Map<?, ?> o = (Map<?, ?>) Json.parse(l);
            if (o.containsKey("error")) errors.add((String) o.get("error"));
        }
        assertEquals(List.of("NOT_FOUND", "UNDECODABLE_IMAGE"), errors.stream().sorted().toList());
        assertTrue(r.err().contains("broken.png: "), r.err());
        assertTrue(!r.err().contains("\tat "), "no stack trace: " + r.err());
    }

    @Test
    void mistakesGiveOneLineErrorsAndExitCode2(@TempDir Path dir) throws Exception {
        assertUsageError(run("classify", "--model", MODEL, "--tome", "16:x", image(0)), "ToMe spec '16:x' doesn't parse");
        assertUsageError(run("classify", "--model", dir.resolve("nope").toString(), image(0)), "does not exist");
        assertUsageError(run("classify", "--model", MODEL), "classify needs at least one IMAGE");
        assertUsageError(run("classify", "--model", MODEL, "--frobnicate", image(0)), "Unknown option: '--frobnicate'");
        assertUsageError(run("bench", "--model", "random:resnet50"), "unknown architecture 'resnet50'");
        Files.writeString(dir.resolve("config.json"), "{\"architecture\": \"vit_tiny_patch16_224\", \"num_classes\": 10}");
        Files.write(dir.resolve("model.safetensors"), new byte[] {8, 0, 0, 0, 0, 0, 0, 0, '{', '}'});
        assertUsageError(run("classify", "--model", dir.toString(), image(0)), "malformed safetensors header");
    }


    @Test
    void benchPrintsATableWithTheBaseline() {
        CommandRun r = run("bench", "--model", MODEL, "--batch", "2", "--threads", "2", "--tome", "8;8:-1", "--seconds", "0.2", "--warmup", "0.1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("| ToMe | img/s | ms/batch | tokens at last block | GFLOPs/img | speedup |"), r.out());
        assertTrue(r.out().contains("| 0 |") && r.out().contains("| 8 |") && r.out().contains("| 8:-1 |"), r.out());
        assertTrue(r.out().contains("| 1.00x |"), r.out());
    }
}
