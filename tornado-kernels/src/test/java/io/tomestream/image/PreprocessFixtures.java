package io.tomestream.image;

import io.tomestream.json.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/** Reads what tools/reference/make_preprocess_fixtures.py wrote under src/test/resources/preprocess. */
final class PreprocessFixtures {

    /** One case: a source image, the spec, and PIL's 8-bit crop (HWC) and tensor (CHW) for it. */
    record Case(String name, String image, InputSpec spec, int resizedWidth, int resizedHeight, int[] pixels, float[] tensor) {
        @Override
        public String toString() {
            return name;
        }
    }

    private PreprocessFixtures() {}

    static byte[] bytes(String file) {
        try (InputStream in = PreprocessFixtures.class.getResourceAsStream("/preprocess/" + file)) {
            if (in == null) throw new IllegalStateException("missing test resource preprocess/" + file);
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<Case> cases() {
        Map<?, ?> index = (Map<?, ?>) Json.parse(text("index.json"));
        return ((List<?>) index.get("cases")).stream().map(name -> load((String) name)).toList();
    }

    static Case load(String name) {
        Map<?, ?> c = (Map<?, ?>) Json.parse(text(name + ".json"));
        Map<?, ?> s = (Map<?, ?>) c.get("spec");
        InputSpec spec = new InputSpec(
                number(s.get("channels")).intValue(),
                number(s.get("height")).intValue(),
                number(s.get("width")).intValue(),
                Interpolation.parse((String) s.get("interpolation")),
                number(s.get("crop_pct")).doubleValue(),
                floats(s.get("mean")),
                floats(s.get("std")));
        List<?> resized = (List<?>) c.get("resized");
        List<?> pixels = (List<?>) c.get("pixels");
        int[] px = new int[pixels.size()];
        for (int i = 0; i < px.length; i++) px[i] = number(pixels.get(i)).intValue();
        return new Case(name, (String) c.get("image"), spec,
                number(resized.get(0)).intValue(), number(resized.get(1)).intValue(), px, floats(c.get("tensor")));
    }

    private static String text(String file) {
        return new String(bytes(file), StandardCharsets.UTF_8);
    }

    private static Number number(Object o) {
        return (Number) o;
    }

    /** The generator writes float32's shortest decimal form; via double it lands on the same float. */
    private static float[] floats(Object o) {
        List<?> list = (List<?>) o;
        float[] out = new float[list.size()];
        for (int i = 0; i < out.length; i++) out[i] = number(list.get(i)).floatValue();
        return out;
    }
}
