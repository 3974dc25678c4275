package io.tomestream.dataset;

import io.tomestream.image.ImageDecoder;
import io.tomestream.image.InputSpec;
import io.tomestream.image.Interpolation;
import io.tomestream.image.Pixels;
import io.tomestream.image.Preprocessor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class FashionMnistTest {
    /** The Fashion-MNIST models' input: 1×28×28, bicubic, crop_pct 1. */
    static final InputSpec GRAY28 = new InputSpec(1, 28, 28, Interpolation.BICUBIC, 1.0, new float[] {0.286f}, new float[] {0.353f});
    /** The RGB fixture models' input: 3×32×32, so 28×28 gray images are converted and resized. */
    static final InputSpec RGB32 = new InputSpec(3, 32, 32, Interpolation.BICUBIC, 0.875,
            new float[] {0.485f, 0.456f, 0.406f}, new float[] {0.229f, 0.224f, 0.225f});

    /** Writes a small IDX split of {@code n} 28×28 images with a gradient and a bright square. */
    public static void writeSplit(Path dir, FashionMnist.Split split, int n) throws IOException {
        try (DataOutputStream out = new DataOutputStream(new GZIPOutputStream(Files.newOutputStream(dir.resolve(split.images()))))) {
            out.writeInt(0x803);
            out.writeInt(n);
            out.writeInt(28);
            out.writeInt(28);
            for (int i = 0; i < n; i++) {
                for (int y = 0; y < 28; y++) {
                    for (int x = 0; x < 28; x++) {
                        boolean square = x >= 4 + i % 10 && x < 14 + i % 10 && y >= 8 && y < 20;
                        out.writeByte(square ? 255 - i : (x * 9 + y * 3 + i * 17) % 256);
                    }
                }
            }
        }
        try (DataOutputStream out = new DataOutputStream(new GZIPOutputStream(Files.newOutputStream(dir.resolve(split.labels()))))) {
            out.writeInt(0x801);
            out.writeInt(n);
            for (int i = 0; i < n; i++) out.writeByte(i % 10);
        }
    }

    @Test
    void readsBothSplitsAndStopsAtTheLimit(@TempDir Path dir) throws Exception {
        assertFalse(FashionMnist.present(dir, FashionMnist.Split.TRAIN));
        writeSplit(dir, FashionMnist.Split.TRAIN, 12);
        assertTrue(FashionMnist.present(dir, FashionMnist.Split.TRAIN));
        assertFalse(FashionMnist.present(dir));
        FashionMnist set = FashionMnist.read(dir, FashionMnist.Split.parse("train"), 5);
        assertEquals(5, set.size());
        assertEquals(28, set.rows());
        assertEquals(3, set.label(3));
        assertEquals(12, FashionMnist.read(dir, FashionMnist.Split.TRAIN, 100).size());
        writeSplit(dir, FashionMnist.Split.TEST, 3);
        assertEquals(3, FashionMnist.readTestSet(dir, 100).size());
        assertThrows(IllegalArgumentException.class, () -> FashionMnist.Split.parse("validation"));
        Files.write(dir.resolve(FashionMnist.TEST_LABELS), new byte[] {1, 2, 3});
        assertThrows(IOException.class, () -> FashionMnist.readTestSet(dir, 2), "not gzip");
    }

    /** Eval feeds the pixels straight to the preprocessor; the streaming path decodes a PNG first. Both must agree. */
    @Test
    void pixelsAndTheirPngPreprocessAlike(@TempDir Path dir) throws Exception {
        writeSplit(dir, FashionMnist.Split.TEST, 4);
        FashionMnist set = FashionMnist.readTestSet(dir, 4);
        for (int i = 0; i < set.size(); i++) samePreprocessing(set, i);
    }

    @Test
    void theRealTestSetReadsAndPreprocessesAlike() throws Exception {
        assumeTrue(FashionMnist.present(FashionMnist.DEBIAN_DIR), "Fashion-MNIST is not installed in " + FashionMnist.DEBIAN_DIR);
        FashionMnist set = FashionMnist.readTestSet(FashionMnist.DEBIAN_DIR, 50);
        assertEquals(50, set.size());
        assertEquals(28, set.rows());
        assertEquals(28, set.cols());
        for (int i = 0; i < set.size(); i++) {
            assertTrue(set.label(i) < FashionMnist.LABEL_NAMES.size());
            samePreprocessing(set, i);
        }
    }

    private static void samePreprocessing(FashionMnist set, int i) throws Exception {
        Pixels decoded = ImageDecoder.decode(set.png(i), 1);
        assertArrayEquals(set.image(i).data(), decoded.data());
        for (InputSpec spec : new InputSpec[] {GRAY28, RGB32}) {
            Preprocessor p = new Preprocessor(spec);
            float[] fromPixels = new float[p.tensorLength()], fromPng = new float[p.tensorLength()];
            p.toTensor(set.image(i), fromPixels, 0);
            p.toTensor(set.png(i), fromPng, 0);
            assertArrayEquals(fromPng, fromPixels, "image " + i + " with " + spec);
        }
    }
}
