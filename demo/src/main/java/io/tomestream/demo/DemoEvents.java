package io.tomestream.demo;

import io.tomestream.dataset.FashionMnist;
import io.tomestream.schema.DeadLetterReason;
import io.tomestream.schema.ImageEvent;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.zip.CRC32;

/** The events the demo sends: good images, with a few deliberately bad ones spread among them. */
public final class DemoEvents {
    static final String FIXTURES = "tornado-kernels/src/test/resources/fixtures";
    static final int FIXTURE_IMAGES = 8;

    private DemoEvents() {
    }

    /** Where the good images come from. */
    public enum Data {
        /** Fashion-MNIST for a Fashion-MNIST model, else the fixtures. */
        AUTO,
        /** The Fashion-MNIST test set (Debian's dataset-fashion-mnist), labelled. */
        FASHION_MNIST,
        /** The committed fixture images, cycled; their labels are unknown. */
        FIXTURES;

        public String label() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        @Override
        public String toString() {
            return label();
        }

        public static List<String> labels() {
            return Arrays.stream(values()).map(Data::label).toList();
        }

        public static Data of(String label) {
            for (Data d : values()) if (d.label().equals(label == null ? "" : label.strip())) return d;
            throw new IllegalArgumentException("unknown data '" + label + "' (available: " + String.join(", ", labels()) + ")");
        }
    }

    /** Bad input the demo sends on purpose, and the reason the topology should give it. */
    enum BadKind {
        CORRUPT_PNG(DeadLetterReason.UNDECODABLE_IMAGE),
        NOT_AVRO(DeadLetterReason.SCHEMA_ERROR),
        HUGE_PNG(DeadLetterReason.IMAGE_TOO_LARGE),
        TRUNCATED_PNG(DeadLetterReason.UNDECODABLE_IMAGE),
        AVIF(DeadLetterReason.UNSUPPORTED_FORMAT);

        final DeadLetterReason expected;

        BadKind(DeadLetterReason expected) {
            this.expected = expected;
        }
    }

    /** What one planned event is: a good image (label -1 if unknown) or a bad one. */
    record Planned(String id, byte[] image, int label, BadKind bad) {
        /** The record sent; for NOT_AVRO, {@link #image} is the whole record value instead. */
        ImageEvent event() {
            Map<String, String> attributes = label >= 0 ? Map.of("label", Integer.toString(label)) : Map.of();
            return ImageEvent.newBuilder()
                    .setEventId(id)
                    .setEventTime(Instant.now())
                    .setSource("tomestream-demo")
                    .setContentType(bad == BadKind.AVIF ? "image/avif" : "image/png")
                    .setImage(ByteBuffer.wrap(image))
                    .setAttributes(attributes)
                    .build();
        }
    }

    /**
     * The events to send, in order: {@code events} good images with {@code bad} bad ones spread evenly
     * among them. {@code data} is FASHION_MNIST or FIXTURES; status lines go to {@code err}.
     */
    static List<Planned> plan(Data data, int events, int bad, Path datasetDir, Path home, PrintStream err) throws IOException {
        List<byte[]> images = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        if (data == Data.FASHION_MNIST) {
            if (!FashionMnist.present(datasetDir)) {
                throw new Demo.DemoException("Fashion-MNIST is not in " + datasetDir + " (" + FashionMnist.TEST_IMAGES + ", "
                        + FashionMnist.TEST_LABELS + "): apt-get install dataset-fashion-mnist, or use --data fixtures");
            }
            FashionMnist set = FashionMnist.readTestSet(datasetDir, Math.max(1, events));
            for (int i = 0; i < set.size(); i++) {
                images.add(set.png(i));
                labels.add(set.label(i));
            }
            err.printf("tomestream demo: data: the first %d Fashion-MNIST test images (%dx%d, PNG), labels in attributes[\"label\"]%n",
                    set.size(), set.cols(), set.rows());
        } else {
            Path dir = home.resolve(FIXTURES).resolve("images");
            for (int i = 0; i < FIXTURE_IMAGES; i++) {
                Path p = dir.resolve("img" + i + ".png");
                if (!Files.isRegularFile(p)) throw new Demo.DemoException("fixture image " + p + " does not exist");
                images.add(Files.readAllBytes(p));
                labels.add(-1);
            }
            err.printf("tomestream demo: data: the %d fixture images, cycled; labels unknown%n", images.size());
        }
        int total = events + bad;
        List<Planned> plan = new ArrayList<>(total);
        int good = 0, badSoFar = 0;
        for (int i = 0; i < total; i++) {
            // Bad event j goes to position (j+1) * total / (bad+1), so they are spread over the run.
            boolean badHere = badSoFar < bad && (good == events || i >= (long) (badSoFar + 1) * total / (bad + 1));
            if (badHere) {
                BadKind kind = BadKind.values()[badSoFar % BadKind.values().length];
                plan.add(new Planned(String.format(Locale.ROOT, "demo-bad-%03d-%s", badSoFar, kind.name().toLowerCase(Locale.ROOT)),
                        badImage(kind, images.getFirst(), badSoFar), -1, kind));
                badSoFar++;
            } else {
                int k = good % images.size();
                plan.add(new Planned(String.format(Locale.ROOT, "demo-%05d", good), images.get(k), labels.get(k), null));
                good++;
            }
        }
        return plan;
    }

    /** The image bytes of a bad event (for NOT_AVRO, the whole record value). */
    static byte[] badImage(BadKind kind, byte[] goodPng, int seed) {
        return switch (kind) {
            case CORRUPT_PNG -> {
                byte[] b = new byte[256];
                new Random(seed).nextBytes(b);
                System.arraycopy(goodPng, 0, b, 0, 8); // the PNG signature, then noise
                yield b;
            }
            case NOT_AVRO -> "this is not an Avro ImageEvent".getBytes(StandardCharsets.UTF_8);
            case HUGE_PNG -> pngClaiming(20000, 20000);
            case TRUNCATED_PNG -> Arrays.copyOf(goodPng, goodPng.length / 2);
            case AVIF -> Arrays.copyOf("\0\0\0\u001cftypavif".getBytes(StandardCharsets.ISO_8859_1), 32);
        };
    }

    /**
     * A PNG whose header alone claims {@code width x height}; the decoder refuses it before reading a pixel.
     * The tests send the same bad input.
     */
    public static byte[] pngClaiming(int width, int height) {
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        png.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteBuffer ihdr = ByteBuffer.allocate(4 + 13).put("IHDR".getBytes(StandardCharsets.US_ASCII))
                .putInt(width).putInt(height).put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        CRC32 crc = new CRC32();
        crc.update(ihdr.array());
        png.writeBytes(ByteBuffer.allocate(4).putInt(13).array());
        png.writeBytes(ihdr.array());
        png.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
        return png.toByteArray();
    }
}
