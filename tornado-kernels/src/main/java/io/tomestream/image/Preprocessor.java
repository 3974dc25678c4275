package io.tomestream.image;

import java.util.Objects;

/**
 * timm's eval transform for one model, as PIL and torchvision compute it: convert to the model's mode,
 * resize the shorter side to {@code floor(size / crop_pct)}, centre-crop to the input size, scale to
 * [0, 1] and normalise with the model's mean and std, written as CHW floats.
 *
 * <p>Immutable and thread-safe: all state is fixed at construction, so the images of a batch can be
 * preprocessed in parallel.
 */
public final class Preprocessor {
    private final InputSpec spec;
    /** {@code (v / 255f - mean) / std} for every byte value, per channel; the float steps are torch's, so results are identical. */
    private final float[][] normalized;

    /** Draft JPEG decoding: off, the exact path. */
    private final TurboJpeg.Draft draft;

    public Preprocessor(InputSpec spec) {
        this(spec, false);
    }

    /**
     * @param fastDecode decode JPEGs much larger than the model's input at 1/2, 1/4 or 1/8 of their size in
     *                   the DCT domain, as PIL's {@code draft()} does, keeping at least the size the resize
     *                   targets. Faster, and no longer PIL's eval transform exactly; off by default.
     */
    public Preprocessor(InputSpec spec, boolean fastDecode) {
        this.spec = Objects.requireNonNull(spec, "spec");
        this.draft = fastDecode ? (w, h) -> {
            EvalGeometry g = EvalGeometry.of(spec, w, h);
            return new int[] {g.resizedWidth(), g.resizedHeight()};
        } : null;
        float[] mean = spec.mean();
        float[] std = spec.std();
        normalized = new float[spec.channels()][256];
        for (int c = 0; c < spec.channels(); c++) {
            for (int v = 0; v < 256; v++) {
                normalized[c][v] = (v / 255f - mean[c]) / std[c];
            }
        }
    }

    public InputSpec spec() {
        return spec;
    }

    /** {@code channels * height * width}: the floats one image occupies. */
    public int tensorLength() {
        return spec.channels() * spec.height() * spec.width();
    }

    /** Decodes then preprocesses; see {@link ImageDecoder#decode} for the failures. */
    public void toTensor(byte[] encoded, float[] out, int offset) throws ImageException {
        toTensor(ImageDecoder.decode(encoded, spec.channels(), draft), out, offset);
    }

    /**
     * Writes {@link #tensorLength()} floats at {@code out[offset]}. Pixels with the other channel count
     * are converted first as PIL would (replicated grey, or ITU-R 601-2 luminance).
     */
    public void toTensor(Pixels pixels, float[] out, int offset) {
        Objects.checkFromIndexSize(offset, tensorLength(), out.length);
        Pixels cropped = cropped(pixels);
        byte[] data = cropped.data();
        int channels = spec.channels();
        int plane = spec.height() * spec.width();
        for (int i = 0; i < plane; i++) {
            for (int c = 0; c < channels; c++) {
                out[offset + c * plane + i] = normalized[c][data[i * channels + c] & 0xFF];
            }
        }
    }

    /**
     * The 8-bit image just before ToTensor: what PIL holds after resize and centre crop. Only the part of
     * the resized image inside the crop window is computed; parts of the window outside the image stay
     * zero, torchvision's padding.
     */
    Pixels cropped(Pixels pixels) {
        Pixels source = ModeConversion.toChannels(pixels, spec.channels());
        EvalGeometry g = EvalGeometry.of(spec, source.width(), source.height());
        int width = spec.width();
        int height = spec.height();
        int x0 = Math.max(0, g.left());
        int x1 = Math.min(g.resizedWidth(), g.left() + width);
        int y0 = Math.max(0, g.top());
        int y1 = Math.min(g.resizedHeight(), g.top() + height);
        Pixels window = Resampler.resizeWindow(source, g.resizedWidth(), g.resizedHeight(), g.interpolation(), x0, x1, y0, y1);
        if (window.width() == width && window.height() == height) {
            return window;
        }
        int channels = window.channels();
        byte[] out = new byte[width * height * channels];
        int rowBytes = window.width() * channels;
        for (int y = 0; y < window.height(); y++) {
            System.arraycopy(window.data(), y * rowBytes, out, ((y + y0 - g.top()) * width + x0 - g.left()) * channels, rowBytes);
        }
        return new Pixels(width, height, channels, out);
    }
}
