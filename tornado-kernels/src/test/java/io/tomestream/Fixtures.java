package io.tomestream;

import io.tomestream.json.Json;

import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;

/** The fixtures written by tools/reference/make_fixtures.py, read from the test classpath. */
public final class Fixtures {
    private Fixtures() {
    }

    public static Path root() {
        try {
            return Path.of(Fixtures.class.getResource("/fixtures").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    public static String model(String name) {
        return root().resolve(name).toString();
    }

    public static Map<?, ?> expected(String model) {
        return (Map<?, ?>) json(root().resolve("expected/" + model + ".json"));
    }

    public static Object json(Path file) {
        try {
            return Json.parse(Files.readString(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static byte[] bytes(String relative) {
        try {
            return Files.readAllBytes(root().resolve(relative));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Normalized CHW pixels of RGB fixture images, which are already at the model's input size: the
     * engine tests stay independent of the image pipeline, which has its own tests.
     */
    /** The fixture images, normalized for the model's input. */
    public static float[] pixels(io.tomestream.model.VitModel model, List<?> images) {
        var in = model.config().input();
        return pixels(images, in.height(), in.mean(), in.std());
    }

    public static float[] pixels(List<?> images, int size, float[] mean, float[] std) {
        int len = 3 * size * size;
        float[] px = new float[images.size() * len];
        for (int i = 0; i < images.size(); i++) {
            BufferedImage im;
            try {
                im = ImageIO.read(root().resolve("images/" + images.get(i)).toFile());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            Raster r = im.getRaster();
            for (int c = 0; c < 3; c++) {
                for (int y = 0; y < size; y++) {
                    for (int x = 0; x < size; x++) {
                        px[i * len + (c * size + y) * size + x] = (r.getSample(x, y, c) / 255f - mean[c]) / std[c];
                    }
                }
            }
        }
        return px;
    }

    public static int[] ints(Object list) {
        return ((List<?>) list).stream().mapToInt(o -> ((Number) o).intValue()).toArray();
    }

    public static float[] floats(Object list) {
        List<?> l = (List<?>) list;
        float[] a = new float[l.size()];
        for (int i = 0; i < a.length; i++) a[i] = ((Number) l.get(i)).floatValue();
        return a;
    }

    /** Logits within 1e-4 · max(1, max |logit|) of the reference's: the engine's parity tolerance. */
    public static void assertLogitsClose(float[] want, float[] got, String what) {
        float maxAbs = 0, maxDiff = 0;
        for (int k = 0; k < want.length; k++) {
            maxAbs = Math.max(maxAbs, Math.abs(want[k]));
            maxDiff = Math.max(maxDiff, Math.abs(want[k] - got[k]));
        }
        org.junit.jupiter.api.Assertions.assertTrue(maxDiff <= 1e-4f * Math.max(1f, maxAbs), what + ": max |Δlogit| " + maxDiff);
    }
}
