package io.tomestream.streambench;

import io.tomestream.dataset.FashionMnist;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * The images a stream benchmark sends, cycled: camera-like JPEG frames made from real photographs,
 * or Fashion-MNIST test images, whose labels are known.
 *
 * @param labels the true class of each image, or -1 where unknown
 */
record BenchEvents(String name, String contentType, List<byte[]> images, int[] labels) {

    /** Debian's mate-backgrounds: a dozen photographs, from 1280x1024 to 2560x1600 (bin/setup installs it). */
    static final Path PHOTOS = Path.of("/usr/share/backgrounds/mate/nature");
    static final int[][] FRAME_SIZES = {{1280, 720}, {1920, 1080}};
    static final float JPEG_QUALITY = 0.85f;

    int size() {
        return images.size();
    }

    /**
     * Each photograph centre-cropped to 16:9 and re-encoded at 1280x720 and at 1920x1080, JPEG quality 85,
     * as a camera would send them.
     */
    static BenchEvents camera(Path photos) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(photos)) {
            files = s.filter(p -> p.getFileName().toString().toLowerCase(Locale.ROOT).matches(".*\\.jpe?g")).sorted().toList();
        } catch (IOException e) {
            throw new IOException("no photographs in " + photos + " (apt-get install mate-backgrounds, or run bin/setup): " + e.getMessage());
        }
        if (files.isEmpty()) throw new IOException("no JPEG photographs in " + photos + " (apt-get install mate-backgrounds, or run bin/setup)");
        List<byte[]> frames = new ArrayList<>();
        for (Path f : files) {
            BufferedImage photo = ImageIO.read(f.toFile());
            if (photo == null) continue;
            for (int[] size : FRAME_SIZES) frames.add(jpeg(frame(photo, size[0], size[1])));
        }
        int[] labels = new int[frames.size()];
        java.util.Arrays.fill(labels, -1);
        return new BenchEvents("camera frames (" + files.size() + " photographs of " + photos + ", 16:9 at 1280x720 and 1920x1080, JPEG q85)",
                "image/jpeg", frames, labels);
    }

    static BenchEvents fashionMnist(Path dir, int count) throws IOException {
        if (!FashionMnist.present(dir)) {
            throw new IOException("Fashion-MNIST is not in " + dir + ": apt-get install dataset-fashion-mnist, or run bin/setup");
        }
        FashionMnist set = FashionMnist.readTestSet(dir, count);
        List<byte[]> images = new ArrayList<>(set.size());
        int[] labels = new int[set.size()];
        for (int i = 0; i < set.size(); i++) {
            images.add(set.png(i));
            labels[i] = set.label(i);
        }
        return new BenchEvents("Fashion-MNIST test set (first " + set.size() + ", 28x28 PNG)", "image/png", images, labels);
    }

    /** The largest 16:9 window at the photo's centre, scaled to {@code width x height}. */
    static BufferedImage frame(BufferedImage photo, int width, int height) {
        int w = photo.getWidth(), h = photo.getHeight();
        int cw = w, ch = (int) ((long) w * 9 / 16);
        if (ch > h) {
            ch = h;
            cw = (int) ((long) h * 16 / 9);
        }
        int x = (w - cw) / 2, y = (h - ch) / 2;
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR);
        Graphics2D g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BICUBIC);
        g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
        g.drawImage(photo, 0, 0, width, height, x, y, x + cw, y + ch, null);
        g.dispose();
        return out;
    }

    static byte[] jpeg(BufferedImage image) throws IOException {
        ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        ImageWriteParam param = writer.getDefaultWriteParam();
        param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
        param.setCompressionQuality(JPEG_QUALITY);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (MemoryCacheImageOutputStream out = new MemoryCacheImageOutputStream(bytes)) {
            writer.setOutput(out);
            writer.write(null, new IIOImage(image, null, null), param);
        } finally {
            writer.dispose();
        }
        return bytes.toByteArray();
    }
}
