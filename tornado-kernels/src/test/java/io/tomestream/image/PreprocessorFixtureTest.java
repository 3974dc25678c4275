package io.tomestream.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each fixture case end to end against PIL: the same resize size, the same 8-bit crop, and the same
 * float32 tensor, bit for bit. JPEG cases are held to the same standard: the JDK's JPEG decoder (IJG
 * libjpeg) and PIL's libjpeg-turbo produce identical pixels for baseline, progressive and CMYK files.
 */
class PreprocessorFixtureTest {

    static List<PreprocessFixtures.Case> cases() {
        return PreprocessFixtures.cases();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesPil(PreprocessFixtures.Case c) throws ImageException {
        Preprocessor preprocessor = new Preprocessor(c.spec());
        Pixels decoded = ImageDecoder.decode(PreprocessFixtures.bytes(c.image()), c.spec().channels());

        EvalGeometry geometry = EvalGeometry.of(c.spec(), decoded.width(), decoded.height());
        assertEquals(c.resizedWidth() + "x" + c.resizedHeight(), geometry.resizedWidth() + "x" + geometry.resizedHeight(), "resize size");

        Pixels cropped = preprocessor.cropped(decoded);
        int[] actual = new int[cropped.data().length];
        for (int i = 0; i < actual.length; i++) actual[i] = cropped.data()[i] & 0xFF;
        assertEquals(0, maxLevelDiff(c.pixels(), actual), "max 8-bit difference from PIL's crop");
        assertArrayEquals(c.pixels(), actual);

        float[] tensor = new float[preprocessor.tensorLength() + 5];
        Arrays.fill(tensor, Float.NaN);
        preprocessor.toTensor(PreprocessFixtures.bytes(c.image()), tensor, 5);
        double maxDiff = 0;
        for (int i = 0; i < c.tensor().length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(tensor[5 + i] - c.tensor()[i]));
        }
        assertEquals(0.0, maxDiff, c.name() + ": max |diff| from PIL + torch");
        assertArrayEquals(c.tensor(), Arrays.copyOfRange(tensor, 5, tensor.length), "bit-identical tensor");
        assertTrue(Arrays.stream(new int[] {0, 1, 2, 3, 4}).allMatch(i -> Float.isNaN(tensor[i])), "wrote before offset");
    }

    @Test
    void imageAtTheInputSizeWithCropPctOnePassesThroughUnchanged() throws ImageException {
        InputSpec spec = new InputSpec(3, 32, 32, Interpolation.BICUBIC, 1.0,
                new float[] {0.485f, 0.456f, 0.406f}, new float[] {0.229f, 0.224f, 0.225f});
        Pixels decoded = ImageDecoder.decode(PreprocessFixtures.bytes("exact_32x32.png"), 3);
        Preprocessor preprocessor = new Preprocessor(spec);
        assertSame(decoded, preprocessor.cropped(decoded), "no resample and no copy for an exact fit");

        float[] tensor = new float[preprocessor.tensorLength()];
        preprocessor.toTensor(decoded, tensor, 0);
        float[] mean = spec.mean();
        float[] std = spec.std();
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < 32; y++) {
                for (int x = 0; x < 32; x++) {
                    float expected = (decoded.sample(x, y, c) / 255f - mean[c]) / std[c];
                    assertEquals(expected, tensor[c * 1024 + y * 32 + x], 0f);
                }
            }
        }
    }

    @Test
    void rgbPixelsGivenToAGreyModelAreConvertedLikePil() throws ImageException {
        PreprocessFixtures.Case c = PreprocessFixtures.load("rgb_to_luminance");
        Pixels rgb = ImageDecoder.decode(PreprocessFixtures.bytes(c.image()), 3);
        float[] tensor = new float[c.tensor().length];
        new Preprocessor(c.spec()).toTensor(rgb, tensor, 0);
        assertArrayEquals(c.tensor(), tensor);
    }

    private static int maxLevelDiff(int[] expected, int[] actual) {
        assertEquals(expected.length, actual.length, "pixel count");
        int max = 0;
        for (int i = 0; i < expected.length; i++) max = Math.max(max, Math.abs(expected[i] - actual[i]));
        return max;
    }
}
