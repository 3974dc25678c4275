package io.tomestream.dataset;

import io.tomestream.image.Pixels;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.zip.GZIPInputStream;

/**
 * Fashion-MNIST as Debian's {@code dataset-fashion-mnist} installs it: gzipped IDX files per split
 * ({@code t10k-images-idx3-ubyte.gz}: magic 0x00000803, count, rows, cols, then one unsigned byte per
 * pixel, row by row; {@code t10k-labels-idx1-ubyte.gz}: magic 0x00000801, count, then one byte per
 * label; {@code train-*} the same for the training split).
 *
 * @param pixels one {@code rows x cols} grayscale image per entry
 * @param labels the class index of each image
 */
public record FashionMnist(int rows, int cols, List<byte[]> pixels, byte[] labels) {
    /** Where {@code apt-get install dataset-fashion-mnist} puts it. */
    public static final Path DEBIAN_DIR = Path.of("/usr/share/datasets/fashion-mnist");
    public static final String TEST_IMAGES = Split.TEST.images();
    public static final String TEST_LABELS = Split.TEST.labels();
    public static final String TRAIN_IMAGES = Split.TRAIN.images();
    public static final String TRAIN_LABELS = Split.TRAIN.labels();
    public static final List<String> LABEL_NAMES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

    private static final int IMAGES_MAGIC = 0x00000803;
    private static final int LABELS_MAGIC = 0x00000801;

    /** The two splits, by the prefix of their files. */
    public enum Split {
        TEST("t10k"), TRAIN("train");

        private final String prefix;

        Split(String prefix) {
            this.prefix = prefix;
        }

        public String images() {
            return prefix + "-images-idx3-ubyte.gz";
        }

        public String labels() {
            return prefix + "-labels-idx1-ubyte.gz";
        }

        /** {@code test} or {@code train}. */
        public static Split parse(String name) {
            return switch (name.strip().toLowerCase(Locale.ROOT)) {
                case "test", "t10k" -> TEST;
                case "train" -> TRAIN;
                default -> throw new IllegalArgumentException("unknown split '" + name + "' (use test or train)");
            };
        }

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Whether the test split is in {@code dir}. */
    public static boolean present(Path dir) {
        return present(dir, Split.TEST);
    }

    public static boolean present(Path dir, Split split) {
        return Files.isRegularFile(dir.resolve(split.images())) && Files.isRegularFile(dir.resolve(split.labels()));
    }

    /** The first {@code limit} images and labels of the test set in {@code dir} (all of them if it has fewer). */
    public static FashionMnist readTestSet(Path dir, int limit) throws IOException {
        return read(dir, Split.TEST, limit);
    }

    /** The first {@code limit} images and labels of a split in {@code dir} (all of them if it has fewer). */
    public static FashionMnist read(Path dir, Split split, int limit) throws IOException {
        Path imageFile = dir.resolve(split.images()), labelFile = dir.resolve(split.labels());
        try (DataInputStream images = open(imageFile); DataInputStream labels = open(labelFile)) {
            int magic = images.readInt();
            if (magic != IMAGES_MAGIC) throw new IOException(imageFile + ": not an IDX3 image file (magic " + Integer.toHexString(magic) + ")");
            int count = images.readInt(), rows = images.readInt(), cols = images.readInt();
            magic = labels.readInt();
            if (magic != LABELS_MAGIC) throw new IOException(labelFile + ": not an IDX1 label file (magic " + Integer.toHexString(magic) + ")");
            int labelCount = labels.readInt();
            if (labelCount != count) throw new IOException("the " + split + " set has " + count + " images but " + labelCount + " labels");
            if (rows < 1 || cols < 1 || rows > 4096 || cols > 4096) throw new IOException("implausible image size " + rows + "x" + cols);
            if (count < 0) throw new IOException("implausible image count " + count);
            int n = Math.min(count, Math.max(0, limit));
            byte[][] pixels = new byte[n][];
            for (int i = 0; i < n; i++) {
                pixels[i] = new byte[rows * cols];
                images.readFully(pixels[i]);
            }
            byte[] y = new byte[n];
            labels.readFully(y);
            return new FashionMnist(rows, cols, List.of(pixels), y);
        }
    }

    public int size() {
        return pixels.size();
    }

    public int label(int i) {
        return labels[i] & 0xFF;
    }

    /** Image {@code i} as decoded 8-bit grayscale pixels, what decoding {@link #png(int)} gives. */
    public Pixels image(int i) {
        return new Pixels(cols, rows, 1, pixels.get(i));
    }

    /** Image {@code i} as an 8-bit grayscale PNG. */
    public byte[] png(int i) {
        return png(pixels.get(i), cols, rows);
    }

    public static byte[] png(byte[] gray, int width, int height) {
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_BYTE_GRAY);
        image.getRaster().setDataElements(0, 0, width, height, gray);
        ByteArrayOutputStream out = new ByteArrayOutputStream(1024);
        try {
            if (!ImageIO.write(image, "png", out)) throw new IllegalStateException("no PNG writer");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private static DataInputStream open(Path file) throws IOException {
        InputStream in = Files.newInputStream(file);
        try {
            return new DataInputStream(new BufferedInputStream(new GZIPInputStream(in, 1 << 16), 1 << 16));
        } catch (IOException e) {
            in.close();
            throw new IOException(file + ": not gzip: " + e.getMessage(), e);
        }
    }
}
