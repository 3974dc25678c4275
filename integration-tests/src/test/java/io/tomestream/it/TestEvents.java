package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

import javax.imageio.ImageIO;

import io.tomestream.demo.DemoEvents;
import io.tomestream.schema.DeadLetterReason;
import io.tomestream.schema.ImageEvent;

/**
 * The registry-format test traffic: {@code events} values in order, ten of them bad in five ways (a
 * corrupt PNG, random bytes, truncated JPEGs, images too large, values that are not Avro or name a
 * schema id the registry never gave out), the rest the fixture images in turn.
 *
 * @param values        key to value bytes, in sending order
 * @param goodImage     each good key's fixture image
 * @param badReason     each bad key's expected dead-letter reason
 */
record TestEvents(Map<String, byte[]> values, Map<String, Integer> goodImage, Map<String, DeadLetterReason> badReason) {
    private static final int[] BAD_AT = {17, 42, 80, 111, 150, 177, 201, 238, 260, 299};

    /** {@code serialize} writes an event as the app reads it (the registry serde, Confluent framing). */
    static TestEvents withBadOnes(int events, Function<ImageEvent, byte[]> serialize) {
        if (events <= BAD_AT[BAD_AT.length - 1]) throw new IllegalArgumentException("at least " + (BAD_AT[BAD_AT.length - 1] + 1) + " events");
        byte[] jpeg = jpeg(Pipelines.image(3));
        Random random = new Random(42);
        byte[] noise = new byte[500];
        random.nextBytes(noise);
        byte[] corruptPng = Pipelines.image(0).clone();
        for (int i = 40; i < corruptPng.length - 12; i++) corruptPng[i] ^= (byte) random.nextInt(256);
        Object[][] badKinds = {
                {"bad-corrupt-png", corruptPng, DeadLetterReason.UNDECODABLE_IMAGE},
                {"bad-random-bytes", noise, DeadLetterReason.UNSUPPORTED_FORMAT},
                {"bad-truncated-jpeg", Arrays.copyOf(jpeg, jpeg.length / 2), DeadLetterReason.UNDECODABLE_IMAGE},
                {"bad-jpeg-cut-in-scan", Arrays.copyOf(jpeg, (startOfScan(jpeg) + jpeg.length) / 2), DeadLetterReason.UNDECODABLE_IMAGE},
                {"bad-huge-png", DemoEvents.pngClaiming(20000, 20000), DeadLetterReason.IMAGE_TOO_LARGE},
                {"bad-huge-png-wide", DemoEvents.pngClaiming(20000, 16), DeadLetterReason.IMAGE_TOO_LARGE},
                {"bad-not-avro", null, DeadLetterReason.SCHEMA_ERROR},
                {"bad-json", null, DeadLetterReason.SCHEMA_ERROR},
                {"bad-unknown-schema-id", null, DeadLetterReason.SCHEMA_ERROR},
                {"bad-unknown-schema-id-2", null, DeadLetterReason.SCHEMA_ERROR},
        };
        Map<String, byte[]> values = new LinkedHashMap<>();
        Map<String, Integer> goodImage = new HashMap<>();
        Map<String, DeadLetterReason> badReason = new LinkedHashMap<>();
        int good = 0, b = 0;
        for (int i = 0; i < events; i++) {
            if (b < BAD_AT.length && BAD_AT[b] == i) {
                String key = (String) badKinds[b][0];
                byte[] image = (byte[]) badKinds[b][1];
                byte[] value = switch (key) {
                    case "bad-not-avro" -> "definitely not Avro".getBytes(StandardCharsets.UTF_8);
                    case "bad-json" -> "{\"eventId\": \"x\", \"image\": \"...\"}".getBytes(StandardCharsets.UTF_8);
                    // Confluent framing with a schema id the registry never handed out.
                    case "bad-unknown-schema-id" -> ByteBuffer.allocate(45).put((byte) 0).putInt(987_654).put(noise, 0, 40).array();
                    case "bad-unknown-schema-id-2" -> withSchemaId(Integer.MAX_VALUE, serialize.apply(Pipelines.event(key, Pipelines.image(1), "image/png")));
                    default -> serialize.apply(Pipelines.event(key, image, key.contains("jpeg") ? "image/jpeg" : "image/png"));
                };
                values.put(key, value);
                badReason.put(key, (DeadLetterReason) badKinds[b][2]);
                b++;
            } else {
                String key = String.format("good-%03d", good);
                int img = good % Pipelines.IMAGES;
                values.put(key, serialize.apply(Pipelines.event(key, Pipelines.image(img), "image/png")));
                goodImage.put(key, img);
                good++;
            }
        }
        return new TestEvents(values, goodImage, badReason);
    }

    /** A real Confluent-framed value whose id is replaced by {@code schemaId}. */
    private static byte[] withSchemaId(int schemaId, byte[] framed) {
        byte[] out = framed.clone();
        ByteBuffer.wrap(out).put(0, (byte) 0).putInt(1, schemaId);
        return out;
    }

    private static byte[] jpeg(byte[] png) {
        try {
            BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
            BufferedImage rgb = new BufferedImage(image.getWidth(), image.getHeight(), BufferedImage.TYPE_INT_RGB);
            rgb.getGraphics().drawImage(image, 0, 0, null);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            assertTrue(ImageIO.write(rgb, "jpeg", out));
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Where the entropy-coded data begins: after the SOS marker (FF DA) and its header. */
    private static int startOfScan(byte[] jpeg) {
        for (int i = 2; i + 3 < jpeg.length; i++) {
            if ((jpeg[i] & 0xFF) == 0xFF && (jpeg[i + 1] & 0xFF) == 0xDA) {
                return i + 2 + (((jpeg[i + 2] & 0xFF) << 8) | (jpeg[i + 3] & 0xFF));
            }
        }
        throw new AssertionError("no SOS marker");
    }
}
