package io.tomestream.model;

import io.tomestream.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafeTensorsTest {

    @Test
    void halfPrecisionWidensExactlyAsTorchDoes() throws Exception {
        SafeTensors st = SafeTensors.open(Fixtures.root().resolve("dtypes.safetensors"));
        Map<?, ?> expected = (Map<?, ?>) Fixtures.json(Fixtures.root().resolve("dtypes.json"));
        for (Map.Entry<?, ?> e : expected.entrySet()) {
            String name = (String) e.getKey();
            Map<?, ?> spec = (Map<?, ?>) e.getValue();
            assertEquals(spec.get("dtype"), st.entries().get(name).dtype());
            float[] got = st.floats(name);
            List<?> rows = (List<?>) spec.get("values");
            int i = 0;
            for (Object row : rows) {
                for (Object v : (List<?>) row) {
                    float want = ((Number) v).floatValue();
                    assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(got[i]), name + "[" + i + "] " + want + " vs " + got[i]);
                    i++;
                }
            }
        }
    }

    @Test
    void malformedFilesGiveOneLineErrors(@TempDir Path dir) throws Exception {
        assertBad(dir, new byte[] {1, 2, 3}, "not a safetensors file");
        assertBad(dir, withHeader(Long.MAX_VALUE, new byte[0]), "malformed safetensors header");
        assertBad(dir, withHeader(5, "{\"a\":".getBytes(StandardCharsets.UTF_8)), "malformed safetensors header");
        assertBad(dir, file("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,64]}}", 16),
                "fall outside the 16 data bytes");
        assertBad(dir, file("{\"w\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[0,16]}}", 16),
                "needs 20 bytes but data_offsets give 16");
        assertBad(dir, file("[1,2]", 0), "not a JSON object");
        assertBad(dir, file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8), "no data_offsets");
    }

    @Test
    void shapeMismatchNamesKeyAndBothShapes(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("m.safetensors");
        Files.write(f, file("{\"blocks.0.attn.qkv.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16));
        SafeTensors st = SafeTensors.open(f);
        var e = assertThrows(ModelException.class, () -> st.floats("blocks.0.attn.qkv.weight", 6, 2));
        assertEquals("tensor 'blocks.0.attn.qkv.weight' has shape [2, 2] but the model config needs [6, 2]", e.getMessage());
        var missing = assertThrows(ModelException.class, () -> st.floats("head.weight", 10, 2));
        assertEquals("model.safetensors has no tensor 'head.weight' (expected shape [10, 2])", missing.getMessage());
    }

    private static void assertBad(Path dir, byte[] bytes, String fragment) throws Exception {
        Path f = dir.resolve("bad.safetensors");
        Files.write(f, bytes);
        var e = assertThrows(ModelException.class, () -> SafeTensors.open(f));
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), "one line");
    }

    static byte[] file(String header, int dataBytes) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(withHeader(h.length, h));
        out.writeBytes(new byte[dataBytes]);
        return out.toByteArray();
    }

    private static byte[] withHeader(long length, byte[] header) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(length).put(header);
        return b.array();
    }
}
