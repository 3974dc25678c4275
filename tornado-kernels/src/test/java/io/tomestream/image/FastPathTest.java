package io.tomestream.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

/**
 * The two shortcuts of the camera-frame path against the plain path they replace: libjpeg-turbo
 * against ImageIO, and resampling only the crop window against cutting it from the whole resize.
 */
class FastPathTest {

    @Test
    void libjpegTurboDecodesEveryJpegFixtureAsImageIoDoes() throws ImageException {
        assumeTrue(TurboJpeg.unavailableBecause() == null, "libturbojpeg0 is not installed");
        for (String file : new String[] {"photo_48x36.jpg", "progressive_48x36.jpg"}) {
            byte[] jpeg = PreprocessFixtures.bytes(file);
            Pixels turbo = TurboJpeg.decode(jpeg, (w, h) -> { }, null);
            assertNotNull(turbo, file + " should take the libjpeg-turbo path");
            Pixels imageIo = ImageDecoder.decodeWithImageIO(jpeg, 3);
            assertEquals(imageIo.width(), turbo.width(), file);
            assertEquals(imageIo.height(), turbo.height(), file);
            assertArrayEquals(imageIo.data(), turbo.data(), file);
        }
    }

    @Test
    void cmykAndDamagedJpegsAreLeftToImageIo() throws IOException {
        assumeTrue(TurboJpeg.unavailableBecause() == null, "libturbojpeg0 is not installed");
        assertNull(decodeOrNull(PreprocessFixtures.bytes("cmyk_40x24.jpg")), "CMYK goes to ImageIO");
        byte[] jpeg = jpeg(noise(320, 200, 7));
        byte[] truncated = java.util.Arrays.copyOf(jpeg, jpeg.length / 2);
        assertNull(decodeOrNull(truncated), "a warning stops libjpeg-turbo, and ImageIO words the error");
        ImageException e = org.junit.jupiter.api.Assertions.assertThrows(ImageException.class, () -> ImageDecoder.decode(truncated, 3));
        assertEquals(ImageException.Reason.UNDECODABLE_IMAGE, e.reason());
    }

    @Test
    void theHeaderSizeCheckRunsBeforeDecoding() throws IOException {
        assumeTrue(TurboJpeg.unavailableBecause() == null, "libturbojpeg0 is not installed");
        byte[] jpeg = jpeg(noise(64, 48, 1));
        ImageException e = org.junit.jupiter.api.Assertions.assertThrows(ImageException.class, () -> TurboJpeg.decode(jpeg,
                (w, h) -> { throw new ImageException(ImageException.Reason.IMAGE_TOO_LARGE, w + "x" + h); }, null));
        assertEquals("64x48", e.getMessage());
    }

    @Test
    void draftDecodingKeepsTheSizeTheResizeNeeds() throws IOException, ImageException {
        assumeTrue(TurboJpeg.unavailableBecause() == null, "libturbojpeg0 is not installed");
        byte[] jpeg = jpeg(noise(1920, 1080, 3));
        Pixels half = TurboJpeg.decode(jpeg, (w, h) -> { }, (w, h) -> new int[] {441, 248});
        assertEquals(480, half.width(), "1920/4 still covers 441");
        assertEquals(270, half.height());
        Pixels full = TurboJpeg.decode(jpeg, (w, h) -> { }, (w, h) -> new int[] {1000, 600});
        assertEquals(1920, full.width(), "no power-of-two reduction keeps 1000 px");
    }

    @Test
    void aWindowOfTheResizeIsBitIdenticalToCuttingItFromTheWholeResize() {
        SplittableRandom rnd = new SplittableRandom(11);
        for (int trial = 0; trial < 60; trial++) {
            int channels = rnd.nextBoolean() ? 3 : 1;
            int w = 5 + rnd.nextInt(300), h = 5 + rnd.nextInt(200);
            if (trial % 10 == 0) h = w * 101 + rnd.nextInt(20); // PIL's vertical-first case
            Pixels src = new Pixels(w, h, channels, bytes(w * h * channels, rnd));
            int outW = 1 + rnd.nextInt(2 * w), outH = 1 + rnd.nextInt(Math.min(2 * h, 400));
            if (trial % 7 == 0) outW = w; // one pass only
            if (trial % 9 == 0) outH = h;
            Interpolation interpolation = Interpolation.values()[rnd.nextInt(Interpolation.values().length)];
            Pixels whole = Resampler.resize(src, outW, outH, interpolation);
            int x0 = rnd.nextInt(outW), x1 = x0 + 1 + rnd.nextInt(outW - x0);
            int y0 = rnd.nextInt(outH), y1 = y0 + 1 + rnd.nextInt(outH - y0);
            Pixels window = Resampler.resizeWindow(src, outW, outH, interpolation, x0, x1, y0, y1);
            String what = interpolation + " " + w + "x" + h + "x" + channels + " -> " + outW + "x" + outH
                    + " window [" + x0 + "," + x1 + ")x[" + y0 + "," + y1 + ")";
            assertEquals(x1 - x0, window.width(), what);
            assertEquals(y1 - y0, window.height(), what);
            for (int y = y0; y < y1; y++) {
                for (int i = 0; i < (x1 - x0) * channels; i++) {
                    byte expected = whole.data()[(y * outW + x0) * channels + i];
                    byte actual = window.data()[((y - y0) * (x1 - x0)) * channels + i];
                    if (expected != actual) {
                        throw new AssertionError(what + ": differs at row " + y + ", byte " + i);
                    }
                }
            }
        }
    }

    @Test
    void camera720pFramesPreprocessTheSameThroughEitherDecoder() throws Exception {
        assumeTrue(TurboJpeg.unavailableBecause() == null, "libturbojpeg0 is not installed");
        InputSpec spec = new InputSpec(3, 224, 224, Interpolation.BICUBIC, 0.9,
                new float[] {0.485f, 0.456f, 0.406f}, new float[] {0.229f, 0.224f, 0.225f});
        byte[] jpeg = jpeg(noise(1280, 720, 5));
        Preprocessor p = new Preprocessor(spec);
        float[] viaTurbo = new float[p.tensorLength()];
        float[] viaImageIo = new float[p.tensorLength()];
        p.toTensor(jpeg, viaTurbo, 0);
        p.toTensor(ImageDecoder.decodeWithImageIO(jpeg, 3), viaImageIo, 0);
        assertArrayEquals(viaImageIo, viaTurbo);
        assertTrue(ImageDecoder.jpegDecoder().startsWith("libjpeg-turbo"));
    }

    private static Pixels decodeOrNull(byte[] jpeg) {
        try {
            return TurboJpeg.decode(jpeg, (w, h) -> { }, null);
        } catch (ImageException e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] bytes(int n, SplittableRandom rnd) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) rnd.nextInt(256);
        return b;
    }

    /** Smooth colour gradients with noise: compressible like a photograph, not flat. */
    static BufferedImage noise(int w, int h, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int r = (x * 255 / w + rnd.nextInt(24)) & 0xFF, g = (y * 255 / h + rnd.nextInt(24)) & 0xFF;
                img.setRGB(x, y, (r << 16) | (g << 8) | ((r + g) / 2));
            }
        }
        return img;
    }

    static byte[] jpeg(BufferedImage img) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "jpeg", out);
        return out.toByteArray();
    }
}
