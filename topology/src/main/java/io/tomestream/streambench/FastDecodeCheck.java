package io.tomestream.streambench;

import io.tomestream.classify.Classifier;
import io.tomestream.classify.Prediction;
import io.tomestream.image.ImageException;
import io.tomestream.image.Preprocessor;
import io.tomestream.model.ModelException;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code tomestream bench-decode}: what the optional fast JPEG decode (DCT-domain downscaling, as PIL's
 * {@code draft()}) buys and costs against the exact path, on the same images in one run: decode and
 * preprocessing milliseconds per image, and how often the prediction changes. Two sets: the camera frames
 * (top-1 agreement with the exact path), and Fashion-MNIST test images upscaled to 640x640 JPEGs
 * (accuracy, since their labels are known).
 */
public final class FastDecodeCheck {
    private FastDecodeCheck() {
    }

    public record Options(String cameraModel, String fmnistModel, Path photos, Path datasetDir, int fmnistImages, int threads) {
    }

    public static int run(Options o, PrintStream out, PrintStream err) throws IOException, ModelException {
        out.println("| set | images | exact decode+preprocess ms/image | fast ms/image | speedup | exact | fast |");
        out.println("|---|---:|---:|---:|---:|---:|---:|");
        BenchEvents camera = BenchEvents.camera(o.photos());
        row(out, err, "camera frames, top-1 agreement with exact", o.cameraModel(), camera, false, o.threads());
        if (o.fmnistModel() != null) {
            BenchEvents fmnist = BenchEvents.fashionMnist(o.datasetDir(), o.fmnistImages());
            List<byte[]> big = new ArrayList<>(fmnist.size());
            for (byte[] png : fmnist.images()) big.add(BenchEvents.jpeg(upscale(javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(png)), 640)));
            BenchEvents upscaled = new BenchEvents("Fashion-MNIST upscaled to 640x640 JPEG", "image/jpeg", big, fmnist.labels());
            row(out, err, "Fashion-MNIST at 640x640 JPEG q85, top-1 accuracy", o.fmnistModel(), upscaled, true, o.threads());
        }
        return 0;
    }

    private static void row(PrintStream out, PrintStream err, String name, String model, BenchEvents events, boolean accuracy, int threads)
            throws ModelException, IOException {
        try (Classifier c = Classifier.open(model, Classifier.Options.defaults().withThreads(threads))) {
            Preprocessor exact = new Preprocessor(c.config().input(), false), fast = new Preprocessor(c.config().input(), true);
            int len = c.imageLength(), n = events.size();
            float[] a = new float[n * len], b = new float[n * len];
            // Interleaved, twice over: the first pass compiles both paths, the second is timed.
            double exactMs = 0, fastMs = 0;
            for (int pass = 0; pass < 2; pass++) {
                exactMs = 0;
                fastMs = 0;
                for (int i = 0; i < n; i++) {
                    long t0 = System.nanoTime();
                    tensor(exact, events.images().get(i), a, i * len);
                    long t1 = System.nanoTime();
                    tensor(fast, events.images().get(i), b, i * len);
                    long t2 = System.nanoTime();
                    exactMs += (t1 - t0) / 1e6;
                    fastMs += (t2 - t1) / 1e6;
                }
            }
            int agree = 0, rightExact = 0, rightFast = 0;
            for (int from = 0; from < n; from += 16) {
                int batch = Math.min(16, n - from);
                List<Prediction> pe = c.classifyPixels(java.util.Arrays.copyOfRange(a, from * len, (from + batch) * len), batch);
                List<Prediction> pf = c.classifyPixels(java.util.Arrays.copyOfRange(b, from * len, (from + batch) * len), batch);
                for (int k = 0; k < batch; k++) {
                    int e = pe.get(k).best().index(), f = pf.get(k).best().index(), label = events.labels()[from + k];
                    if (e == f) agree++;
                    if (e == label) rightExact++;
                    if (f == label) rightFast++;
                }
            }
            err.printf("bench-decode: %s on %s done%n", name, c.model().id());
            String exactCell = accuracy ? pct(rightExact, n) : "100%";
            String fastCell = accuracy ? pct(rightFast, n) : pct(agree, n);
            out.printf(Locale.ROOT, "| %s (%s) | %d | %.2f | %.2f | %.2fx | %s | %s |%n", name, c.model().id(), n, exactMs / n, fastMs / n,
                    exactMs / fastMs, exactCell, fastCell);
        }
    }

    private static void tensor(Preprocessor p, byte[] image, float[] out, int offset) throws IOException {
        try {
            p.toTensor(image, out, offset);
        } catch (ImageException e) {
            throw new IOException("an image does not decode: " + e.getMessage());
        }
    }

    private static String pct(int k, int n) {
        return String.format(Locale.ROOT, "%.2f%% (%d/%d)", 100.0 * k / n, k, n);
    }

    static BufferedImage upscale(BufferedImage src, int size) {
        BufferedImage out = new BufferedImage(size, size, BufferedImage.TYPE_BYTE_GRAY);
        Graphics2D g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BICUBIC);
        g.drawImage(src, 0, 0, size, size, null);
        g.dispose();
        return out;
    }
}
