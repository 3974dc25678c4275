package io.tomestream.image;

import java.util.Objects;

/**
 * timm's eval transform for one model, as PIL and torchvision compute it: convert to the model's mode,
 * resize the shorter side to {@code floor(size / crop_pct)}, centre-crop to the input size, scale to
 * [0, 1] and normalise with the model's mean and std, written as CHW floats.
 *
 * <p>Immutable and thread-safe: all state is fixed at construction.
 */
public final class Preprocessor {
    private final InputSpec spec;
    /** {@code (v / 255f - mean) / std} for every byte value, per channel; the float steps are torch's, so results are identical. */
    private final float[][] normalized;

    public Preprocessor(InputSpec spec) {
        this.spec = Objects.requireNonNull(spec, "spec");
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
        toTensor(ImageDecoder.decode(encoded, spec.channels()), out, offset);
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

    /** The 8-bit image just before ToTensor: what PIL holds after resize and centre crop. */
    Pixels cropped(Pixels pixels) {
        Pixels source = ModeConversion.toChannels(pixels, spec.channels());
        EvalGeometry geometry = EvalGeometry.of(spec, source.width(), source.height());
        Pixels resized = Resampler.resize(source, geometry.resizedWidth(), geometry.resizedHeight(), geometry.interpolation());
        return crop(resized, geometry.left(), geometry.top());
    }

    /** Copies the crop window; parts of it outside the image stay zero, torchvision's padding. */
    private Pixels crop(Pixels image, int left, int top) {
        int channels = image.channels();
        int width = spec.width();
        int height = spec.height();
        if (left == 0 && top == 0 && image.width() == width && image.height() == height) {
            return image;
        }
        byte[] out = new byte[width * height * channels];
        int x0 = Math.max(0, -left);
        int x1 = Math.min(width, image.width() - left);
        for (int y = 0; y < height; y++) {
            int sy = y + top;
            if (sy < 0 || sy >= image.height() || x1 <= x0) continue;
            System.arraycopy(image.data(), (sy * image.width() + x0 + left) * channels,
                    out, (y * width + x0) * channels, (x1 - x0) * channels);
        }
        return new Pixels(width, height, channels, out);
    }
}
