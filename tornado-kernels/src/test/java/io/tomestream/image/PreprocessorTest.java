package io.tomestream.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class PreprocessorTest {
    private static final float[] MEAN = {0.485f, 0.456f, 0.406f};
    private static final float[] STD = {0.229f, 0.224f, 0.225f};

    private static InputSpec spec(int size, Interpolation interpolation, double cropPct) {
        return new InputSpec(3, size, size, interpolation, cropPct, MEAN, STD);
    }

    @Test
    void timmNamesParse() {
        assertEquals(Interpolation.BICUBIC, Interpolation.parse("bicubic"));
        assertEquals(Interpolation.BILINEAR, Interpolation.parse(" Bilinear "));
        assertEquals(Interpolation.NEAREST, Interpolation.parse("nearest"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Interpolation.parse("lanczos"));
        assertEquals("unsupported interpolation 'lanczos'; expected bicubic, bilinear or nearest", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Interpolation.parse(null));
    }

    @Test
    void specIsValidatedAndCannotBeChangedFromOutside() {
        float[] mean = MEAN.clone();
        InputSpec spec = new InputSpec(3, 224, 224, Interpolation.BICUBIC, 0.875, mean, STD);
        mean[0] = 99;
        spec.mean()[1] = 99;
        assertArrayEquals(MEAN, spec.mean());
        assertEquals(spec, new InputSpec(3, 224, 224, Interpolation.BICUBIC, 0.875, MEAN, STD));

        assertThrows(IllegalArgumentException.class, () -> new InputSpec(2, 224, 224, Interpolation.BICUBIC, 0.875, MEAN, STD));
        assertThrows(IllegalArgumentException.class, () -> new InputSpec(3, 0, 224, Interpolation.BICUBIC, 0.875, MEAN, STD));
        assertThrows(IllegalArgumentException.class, () -> new InputSpec(3, 224, 224, Interpolation.BICUBIC, 0, MEAN, STD));
        assertThrows(IllegalArgumentException.class, () -> new InputSpec(3, 224, 224, Interpolation.BICUBIC, Double.NaN, MEAN, STD));
        assertThrows(IllegalArgumentException.class, () -> new InputSpec(3, 4, 4, Interpolation.BICUBIC, 5.0, MEAN, STD));
        assertThrows(IllegalArgumentException.class, () -> new InputSpec(1, 224, 224, Interpolation.BICUBIC, 0.875, MEAN, STD));
        assertThrows(IllegalArgumentException.class, () -> new InputSpec(3, 224, 224, Interpolation.BICUBIC, 0.875, MEAN, new float[] {1, 0, 1}));
    }

    @Test
    void geometryFollowsTimmAndTorchvision() {
        // 224 / 0.875 = 256: a 500x375 photo becomes 341x256, then the 224 crop starts at
        // round(58.5) = 58 (Python rounds half to even) and round(16.0) = 16.
        assertEquals(new EvalGeometry(341, 256, Interpolation.BICUBIC, 58, 16), EvalGeometry.of(spec(224, Interpolation.BICUBIC, 0.875), 500, 375));
        // floor(224 / 0.9) = 248; a portrait image keeps its width as the shorter side.
        assertEquals(new EvalGeometry(248, 330, Interpolation.BILINEAR, 12, 53), EvalGeometry.of(spec(224, Interpolation.BILINEAR, 0.9), 300, 400));
        // crop_pct over 1 resizes below the crop size; torchvision pads (negative offsets) with zeros.
        assertEquals(new EvalGeometry(25, 25, Interpolation.BICUBIC, -3, -3), EvalGeometry.of(spec(32, Interpolation.BICUBIC, 1.25), 10, 10));
        // A non-square input goes through timm's ResizeKeepRatio, which is always bilinear.
        InputSpec wide = new InputSpec(3, 224, 320, Interpolation.BICUBIC, 1.0, MEAN, STD);
        assertEquals(new EvalGeometry(320, 240, Interpolation.BILINEAR, 0, 8), EvalGeometry.of(wide, 640, 480));
    }

    @Test
    void tensorGoesAtTheOffsetAndNowhereElse() throws ImageException {
        Preprocessor preprocessor = new Preprocessor(spec(16, Interpolation.BILINEAR, 0.875));
        assertEquals(3 * 16 * 16, preprocessor.tensorLength());
        float[] batch = new float[preprocessor.tensorLength() * 2];
        byte[] png = PreprocessFixtures.bytes("rgb_40x30.png");
        preprocessor.toTensor(png, batch, preprocessor.tensorLength());
        for (int i = 0; i < preprocessor.tensorLength(); i++) assertEquals(0f, batch[i]);
        assertThrows(IndexOutOfBoundsException.class, () -> preprocessor.toTensor(png, batch, 1 + preprocessor.tensorLength()));
        assertThrows(IndexOutOfBoundsException.class, () -> preprocessor.toTensor(png, batch, -1));
    }

    @Test
    void greyPixelsGivenToAnRgbModelAreReplicated() throws ImageException {
        Pixels grey = ImageDecoder.decode(PreprocessFixtures.bytes("gray_28x28.png"), 1);
        Pixels rgb = ImageDecoder.decode(PreprocessFixtures.bytes("gray_28x28.png"), 3);
        Preprocessor preprocessor = new Preprocessor(spec(24, Interpolation.BICUBIC, 0.875));
        float[] fromGrey = new float[preprocessor.tensorLength()];
        float[] fromRgb = new float[preprocessor.tensorLength()];
        preprocessor.toTensor(grey, fromGrey, 0);
        preprocessor.toTensor(rgb, fromRgb, 0);
        assertArrayEquals(fromRgb, fromGrey);
    }

    @Test
    void oneInstanceServesManyThreads() throws Exception {
        Preprocessor preprocessor = new Preprocessor(spec(32, Interpolation.BICUBIC, 0.875));
        List<byte[]> images = List.of(PreprocessFixtures.bytes("rgb_97x61.png"), PreprocessFixtures.bytes("photo_48x36.jpg"), PreprocessFixtures.bytes("palette_37x29.gif"));
        List<float[]> expected = new ArrayList<>();
        for (byte[] image : images) {
            float[] t = new float[preprocessor.tensorLength()];
            preprocessor.toTensor(image, t, 0);
            expected.add(t);
        }
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int i = 0; i < 96; i++) {
                int which = i % images.size();
                results.add(pool.submit(() -> {
                    float[] t = new float[preprocessor.tensorLength()];
                    preprocessor.toTensor(images.get(which), t, 0);
                    return java.util.Arrays.equals(t, expected.get(which));
                }));
            }
            for (Future<Boolean> r : results) assertTrue(r.get());
        } finally {
            pool.shutdownNow();
        }
    }
}
