package io.tomestream.cli;

import io.tomestream.dataset.FashionMnist;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

import static io.tomestream.cli.CommandRun.assertUsageError;
import static io.tomestream.cli.CommandRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@code eval} and {@code visualize} as a user runs them, on the fixture model and a small IDX data set. */
class EvalCommandTest {
    private static final Path FIXTURES = Path.of("..", "tornado-kernels", "src", "test", "resources", "fixtures");
    private static final String MODEL = FIXTURES.resolve("vit-tiny-rand").toString();



    /** A test split of {@code n} 28×28 images in Fashion-MNIST's gzipped IDX format. */
    static void writeTestSplit(Path dir, int n) throws IOException {
        try (DataOutputStream out = new DataOutputStream(new GZIPOutputStream(Files.newOutputStream(dir.resolve(FashionMnist.TEST_IMAGES))))) {
            out.writeInt(0x803);
            out.writeInt(n);
            out.writeInt(28);
            out.writeInt(28);
            for (int i = 0; i < n; i++) {
                for (int p = 0; p < 28 * 28; p++) out.writeByte((p * (i + 3) + i * 41) % 256);
            }
        }
        try (DataOutputStream out = new DataOutputStream(new GZIPOutputStream(Files.newOutputStream(dir.resolve(FashionMnist.TEST_LABELS))))) {
            out.writeInt(0x801);
            out.writeInt(n);
            for (int i = 0; i < n; i++) out.writeByte(i % 10);
        }
    }

    @Test
    void evalPrintsARowPerReducerAndBudgetAndWritesCsvAndPlot(@TempDir Path dir) throws Exception {
        writeTestSplit(dir, 20);
        Path csv = dir.resolve("out/eval.csv"), plot = dir.resolve("out/eval.png");
        CommandRun r = run("eval", "--model", MODEL, "--dataset", "fashion-mnist", "--dataset-dir", dir.toString(), "--split", "test",
                "--limit", "15", "--reducer", "tome,prune,pool", "--budget", "4;8:-1", "--batch", "4", "--threads", "2",
                "--warmup", "0", "--csv", csv.toString(), "--plot", plot.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("15 images"), r.out());
        assertTrue(r.out().contains("| reducer | budget | top-1 % | Δ top-1 | img/s | speedup | GFLOPs/img | tokens entering block 1 | tokens at last block |"),
                r.out());
        List<String> rows = r.out().lines().filter(l -> l.startsWith("| ") && !l.startsWith("| reducer")).toList();
        assertEquals(7, rows.size(), r.out());
        assertTrue(rows.getFirst().startsWith("| none | 0 |") && rows.getFirst().contains("| 1.00x |"), rows.getFirst());
        for (String reducer : List.of("tome", "prune", "pool")) {
            // the fixture model has 65 tokens: 4 per block leaves 49, the 8:-1 schedule 34
            assertTrue(rows.stream().anyMatch(l -> l.startsWith("| " + reducer + " | 4 |") && l.endsWith("| 65 | 49 |")), r.out());
            assertTrue(rows.stream().anyMatch(l -> l.startsWith("| " + reducer + " | 8:-1 |") && l.endsWith("| 65 | 34 |")), r.out());
        }
        assertTrue(r.err().contains("15/15 images"), r.err());
        List<String> lines = Files.readAllLines(csv);
        assertEquals(8, lines.size());
        assertTrue(lines.getFirst().startsWith("reducer,budget,images,correct,top1_percent,delta_top1,img_per_s"), lines.getFirst());
        assertTrue(lines.get(1).startsWith("none,\"0\",15,"), lines.get(1));
        BufferedImage png = ImageIO.read(plot.toFile());
        assertNotNull(png);
        assertEquals(960, png.getWidth());
    }

    @Test
    void anMsvitModelsRowsCountItsTokensPerImage(@TempDir Path dir) throws Exception {
        writeTestSplit(dir, 8);
        String msvit = MODEL.replace("vit-tiny-rand", "vit-msvit-rand");
        CommandRun r = run("eval", "--model", msvit, "--dataset-dir", dir.toString(), "--budget", "4;split=5", "--batch", "3",
                "--threads", "1", "--warmup", "0");
        assertEquals(0, r.code(), r.err());
        List<String> rows = r.out().lines().filter(l -> l.startsWith("| ") && !l.startsWith("| reducer")).toList();
        assertEquals(3, rows.size(), r.out());
        // threshold mode: each image has 17 + 3 k tokens for its own k, so their mean need not be whole; split=5 gives 32 each
        assertTrue(rows.get(0).startsWith("| msvit | 0 |") && rows.get(1).startsWith("| msvit | 4 |"), r.out());
        assertTrue(rows.get(2).startsWith("| msvit | split=5 |") && rows.get(2).endsWith("| 32 | 32 |"), r.out());
        String in = rows.get(0).split("\\|")[8].strip();
        assertEquals(in, rows.get(1).split("\\|")[8].strip(), "ToMe doesn't change the tokens entering block 1");
        assertTrue(rows.get(0).endsWith("| " + in + " |"), "without ToMe no token leaves: " + rows.get(0));

        // beside a plain model, its rows are named by their folder too
        r = run("eval", "--model", MODEL, "--dataset-dir", dir.toString(), "--budget", "4", "--with", msvit, "--with-budget", "split=5",
                "--batch", "3", "--threads", "1", "--warmup", "0");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("| msvit (vit-msvit-rand) | 0 |")), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("| msvit (vit-msvit-rand) | split=5 |") && l.endsWith("| 32 | 32 |")), r.out());
    }

    @Test
    void evalMistakesAreOneLineErrors(@TempDir Path dir) throws Exception {
        assertUsageError(run("eval", "--model", MODEL, "--dataset-dir", dir.toString()), "Fashion-MNIST (test) is not in");
        writeTestSplit(dir, 3);
        assertUsageError(run("eval", "--model", MODEL, "--dataset-dir", dir.toString(), "--reducer", "evit"), "unknown reducer 'evit' (available: tome, prune, pool)");
        assertUsageError(run("eval", "--model", MODEL, "--dataset-dir", dir.toString(), "--budget", "4;x"), "spec 'x' doesn't parse");
        assertUsageError(run("eval", "--model", MODEL, "--dataset", "cifar10"), "--dataset must be fashion-mnist");
        assertUsageError(run("eval", "--model", MODEL, "--split", "val"), "unknown split 'val'");
        assertUsageError(run("eval", "--model", FIXTURES.resolve("vit-avg-rand").toString(), "--dataset-dir", dir.toString(), "--reducer", "prune"),
                "no class token");
        assertUsageError(run("classify", "--model", MODEL, "--budget", "4", "--tome", "8", FIXTURES.resolve("images/img0.png").toString()),
                "should be specified only once");
    }


    @Test
    void evalOnTheRealTestSet() {
        assumeTrue(FashionMnist.present(FashionMnist.DEBIAN_DIR), "Fashion-MNIST is not installed in " + FashionMnist.DEBIAN_DIR);
        CommandRun r = run("eval", "--model", MODEL, "--limit", "24", "--reducer", "pool", "--budget", "8", "--batch", "8", "--threads", "2", "--warmup", "0");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("| pool | 8 |"), r.out());
    }

    @Test
    void classifyAndBenchTakeAReducer() {
        CommandRun c = run("classify", "--model", MODEL, "--reducer", "prune", "--budget", "8:-1", "--json", FIXTURES.resolve("images/img0.png").toString());
        assertEquals(0, c.code(), c.err());
        assertTrue(c.out().contains("\"tokens\":[65,49,39,34,34]"), c.out());
        assertTrue(c.err().contains("reducer prune, budget 8:-1"), c.err());
        CommandRun b = run("bench", "--model", MODEL, "--reducer", "pool", "--budget", "8", "--batch", "2", "--threads", "2", "--seconds", "0.2", "--warmup", "0.1");
        assertEquals(0, b.code(), b.err());
        assertTrue(b.out().contains("| pool budget | img/s |") && b.out().contains("| 8 |"), b.out());
    }

    @Test
    void visualizeDrawsTheImageAndItsTokens(@TempDir Path dir) throws Exception {
        Path png = dir.resolve("map.png");
        CommandRun r = run("visualize", "--model", MODEL, "--tome", "8", FIXTURES.resolve("images/img0.png").toString(), "--out", png.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("65 -> 33 tokens"), r.out());
        BufferedImage image = ImageIO.read(png.toFile());
        assertNotNull(image);
        assertTrue(image.getWidth() > 2 * 448 && image.getHeight() > 448, image.getWidth() + "x" + image.getHeight());
        assertEquals(1, run("visualize", "--model", MODEL, dir.resolve("missing.png").toString(), "--out", png.toString()).code());
        assertEquals(2, run("visualize", "--model", MODEL, FIXTURES.resolve("images/img0.png").toString()).code());
    }

    @Test
    void visualizeDrawsMsvitsScalePerRegion(@TempDir Path dir) throws Exception {
        String msvit = MODEL.replace("vit-tiny-rand", "vit-msvit-rand");
        Path png = dir.resolve("scale.png");
        CommandRun r = run("visualize", "--model", msvit, "--tome", "0", FIXTURES.resolve("images/img2.png").toString(), "--out", png.toString());
        assertEquals(0, r.code(), r.err());
        // the reference splits 9 of image 2's 16 regions: 1 + 7 coarse + 9 × 4 fine tokens
        assertTrue(r.out().contains("44 -> 44 tokens"), r.out());
        Map<?, ?> expected = (Map<?, ?>) io.tomestream.json.Json.parse(Files.readString(FIXTURES.resolve("expected/vit-msvit-rand.json")));
        List<?> splits = (List<?>) ((List<?>) ((Map<?, ?>) ((List<?>) expected.get("cases")).getFirst()).get("splits")).get(2);
        BufferedImage image = ImageIO.read(png.toFile());
        // 32 px drawn 14 times larger from x = y = 16: regions of 112 px, fine cells of 56; a split region has a
        // white line through its middle, a coarse one doesn't
        for (int region = 0; region < 16; region++) {
            int x = 16 + (region % 4) * 112 + 56, y = 16 + (region / 4) * 112 + 28;
            boolean white = (image.getRGB(x, y) & 0xFFFFFF) == 0xFFFFFF;
            assertEquals(splits.contains((long) region), white, "region " + region);
        }
    }
}
