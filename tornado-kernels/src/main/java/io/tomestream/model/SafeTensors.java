package io.tomestream.model;

import io.tomestream.json.Json;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a {@code .safetensors} file: an 8-byte little-endian header length, a JSON header that maps
 * each tensor name to its dtype, shape and byte range, then the raw data. Half-precision tensors are
 * widened to float on read, so the engine only ever sees float32.
 */
public final class SafeTensors {
    /** Headers over this size are refused: real ones are a few hundred kilobytes. */
    private static final long MAX_HEADER_BYTES = 100L << 20;

    public record Entry(String name, String dtype, long[] shape, long begin, long end) {
        public long elements() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }

        public String shapeText() {
            return Arrays.toString(shape);
        }
    }

    private final Path file;
    private final ByteBuffer data;
    private final Map<String, Entry> entries;

    private SafeTensors(Path file, ByteBuffer data, Map<String, Entry> entries) {
        this.file = file;
        this.data = data;
        this.entries = entries;
    }

    public static SafeTensors open(Path file) throws ModelException {
        ByteBuffer whole;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw new ModelException(file + ": not a safetensors file (" + size + " bytes)");
            whole = ch.map(FileChannel.MapMode.READ_ONLY, 0, size).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new ModelException("cannot read " + file + ": " + e.getMessage(), e);
        }
        return parse(file, whole);
    }

    static SafeTensors parse(Path file, ByteBuffer whole) throws ModelException {
        long size = whole.capacity();
        long headerLen = whole.getLong(0);
        if (headerLen <= 0 || headerLen > MAX_HEADER_BYTES || 8 + headerLen > size) {
            throw new ModelException(file + ": malformed safetensors header: it claims " + headerLen
                    + " header bytes in a file of " + size + " bytes");
        }
        byte[] headerBytes = new byte[(int) headerLen];
        whole.get(8, headerBytes);
        Object header;
        try {
            header = Json.parse(new String(headerBytes, java.nio.charset.StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw new ModelException(file + ": malformed safetensors header: " + e.getMessage());
        }
        if (!(header instanceof Map<?, ?> map)) {
            throw new ModelException(file + ": malformed safetensors header: not a JSON object");
        }
        long dataStart = 8 + headerLen;
        long dataLen = size - dataStart;
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals("__metadata__")) continue;
            entries.put(name, entry(file, name, e.getValue(), dataLen));
        }
        ByteBuffer data = whole.slice((int) dataStart, (int) dataLen).order(ByteOrder.LITTLE_ENDIAN);
        return new SafeTensors(file, data, entries);
    }

    private static Entry entry(Path file, String name, Object spec, long dataLen) throws ModelException {
        String where = file + ": malformed safetensors header for tensor '" + name + "': ";
        if (!(spec instanceof Map<?, ?> m)) throw new ModelException(where + "not an object");
        if (!(m.get("dtype") instanceof String dtype)) throw new ModelException(where + "no dtype");
        if (!(m.get("shape") instanceof List<?> shapeList)) throw new ModelException(where + "no shape");
        if (!(m.get("data_offsets") instanceof List<?> offs) || offs.size() != 2) {
            throw new ModelException(where + "no data_offsets pair");
        }
        long[] shape = new long[shapeList.size()];
        for (int i = 0; i < shape.length; i++) {
            if (!(shapeList.get(i) instanceof Long d) || d < 0) throw new ModelException(where + "bad shape " + shapeList);
            shape[i] = d;
        }
        if (!(offs.get(0) instanceof Long begin) || !(offs.get(1) instanceof Long end)) {
            throw new ModelException(where + "bad data_offsets " + offs);
        }
        if (begin < 0 || end < begin || end > dataLen) {
            throw new ModelException(where + "data_offsets " + offs + " fall outside the " + dataLen + " data bytes");
        }
        Entry entry = new Entry(name, dtype, shape, begin, end);
        int width = bytesPerElement(dtype);
        if (width > 0 && entry.elements() * width != end - begin) {
            throw new ModelException(where + "shape " + entry.shapeText() + " of " + dtype + " needs "
                    + entry.elements() * width + " bytes but data_offsets give " + (end - begin));
        }
        return entry;
    }

    private static int bytesPerElement(String dtype) {
        return switch (dtype) {
            case "F32", "I32", "U32" -> 4;
            case "F16", "BF16", "I16", "U16" -> 2;
            case "F64", "I64", "U64" -> 8;
            case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2" -> 1;
            default -> 0;
        };
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    public boolean has(String name) {
        return entries.containsKey(name);
    }

    /** Reads a tensor as float32, widening F16 and BF16. */
    public float[] floats(String name) throws ModelException {
        Entry e = entries.get(name);
        if (e == null) throw new ModelException(file + " has no tensor '" + name + "'");
        int n = Math.toIntExact(e.elements());
        float[] out = new float[n];
        int at = (int) e.begin;
        switch (e.dtype) {
            case "F32" -> data.slice(at, n * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
            case "F16" -> {
                for (int i = 0; i < n; i++) out[i] = Float.float16ToFloat(data.getShort(at + 2 * i));
            }
            case "BF16" -> {
                // bfloat16 is the top half of a float32
                for (int i = 0; i < n; i++) out[i] = Float.intBitsToFloat((data.getShort(at + 2 * i) & 0xffff) << 16);
            }
            case "F64" -> {
                for (int i = 0; i < n; i++) out[i] = (float) data.getDouble(at + 8 * i);
            }
            default -> throw new ModelException("tensor '" + name + "' has dtype " + e.dtype
                    + "; only F32, F16, BF16 and F64 weights are supported");
        }
        return out;
    }

    /** Reads a tensor after checking that its shape is exactly {@code expected}. */
    public float[] floats(String name, long... expected) throws ModelException {
        Entry e = entries.get(name);
        if (e == null) {
            throw new ModelException("model.safetensors has no tensor '" + name + "' (expected shape "
                    + Arrays.toString(expected) + ")");
        }
        if (!Arrays.equals(e.shape, expected)) {
            throw new ModelException("tensor '" + name + "' has shape " + e.shapeText()
                    + " but the model config needs " + Arrays.toString(expected));
        }
        return floats(name);
    }
}
