package io.tomestream.demo;

import io.tomestream.dataset.FashionMnist;
import io.tomestream.classify.Classifier;
import io.tomestream.classify.Outcome;
import io.tomestream.model.ModelException;
import io.tomestream.schema.DeadLetterReason;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The demo's parts that need no broker; DemoIT (integration-tests) runs the whole demo. */
class DemoTest {
    private static final Path FIXTURES = Path.of("..", "tornado-kernels", "src", "test", "resources", "fixtures");

    @Test
    void readsGzippedIdxFilesAndEncodesGrayscalePngs(@TempDir Path dir) throws IOException {
        int n = 3, rows = 28, cols = 28;
        byte[] pixels = new byte[n * rows * cols];
        for (int i = 0; i < pixels.length; i++) pixels[i] = (byte) (i * 7);
        writeGz(dir.resolve(FashionMnist.TEST_IMAGES), out -> {
            out.writeInt(0x803);
            out.writeInt(n);
            out.writeInt(rows);
            out.writeInt(cols);
            out.write(pixels);
        });
        writeGz(dir.resolve(FashionMnist.TEST_LABELS), out -> {
            out.writeInt(0x801);
            out.writeInt(n);
            out.write(new byte[] {9, 0, 4});
        });
        assertTrue(FashionMnist.present(dir));
        FashionMnist set = FashionMnist.readTestSet(dir, 2);
        assertEquals(2, set.size());
        assertEquals(9, set.label(0));
        assertEquals(0, set.label(1));
        BufferedImage png = ImageIO.read(new ByteArrayInputStream(set.png(1)));
        assertEquals(28, png.getWidth());
        assertEquals(BufferedImage.TYPE_BYTE_GRAY, png.getType());
        for (int y = 0; y < rows; y++) {
            for (int x = 0; x < cols; x++) {
                assertEquals(pixels[rows * cols + y * cols + x] & 0xFF, png.getRaster().getSample(x, y, 0));
            }
        }
        assertEquals(3, FashionMnist.readTestSet(dir, 100).size());

        Files.write(dir.resolve(FashionMnist.TEST_LABELS), new byte[] {1, 2, 3});
        assertThrows(IOException.class, () -> FashionMnist.readTestSet(dir, 2), "not gzip");
    }

    @Test
    void eachBadImageKindIsRefusedByTheEngineForItsExpectedReason() throws ModelException, IOException {
        byte[] png = Files.readAllBytes(FIXTURES.resolve("images/img0.png"));
        List<byte[]> images = new ArrayList<>();
        List<DemoEvents.BadKind> kinds = new ArrayList<>();
        for (DemoEvents.BadKind k : DemoEvents.BadKind.values()) {
            if (k == DemoEvents.BadKind.NOT_AVRO) continue; // a bad record value, not a bad image
            images.add(DemoEvents.badImage(k, png, k.ordinal()));
            kinds.add(k);
        }
        try (Classifier c = Classifier.open(FIXTURES.resolve("vit-tiny-rand").toString(), Classifier.Options.defaults().withThreads(1))) {
            List<Outcome> outcomes = c.classify(images);
            for (int i = 0; i < kinds.size(); i++) {
                Outcome.Rejected r = (Outcome.Rejected) outcomes.get(i);
                assertEquals(kinds.get(i).expected, DeadLetterReason.valueOf(r.error().reason().name()), kinds.get(i).name());
            }
        }
    }

    @Test
    void percentilesAreNearestRank() {
        long[] sorted = new long[100];
        for (int i = 0; i < 100; i++) sorted[i] = i + 1;
        assertEquals(50L, io.tomestream.metrics.Percentile.nearestRank(sorted, 0.5));
        assertEquals(99L, io.tomestream.metrics.Percentile.nearestRank(sorted, 0.99));
        assertEquals(7L, io.tomestream.metrics.Percentile.nearestRank(new long[] {7}, 0.99));
        assertNull(io.tomestream.metrics.Percentile.nearestRank(new long[0], 0.5));
    }

    private interface Body {
        void write(DataOutputStream out) throws IOException;
    }

    private static void writeGz(Path file, Body body) throws IOException {
        try (DataOutputStream out = new DataOutputStream(new GZIPOutputStream(Files.newOutputStream(file)))) {
            body.write(out);
        }
    }
}
