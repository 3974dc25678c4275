package io.tomestream.image;

import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;

/**
 * What the model expects: timm's {@code pretrained_cfg} ({@code input_size}, {@code interpolation},
 * {@code crop_pct}, {@code mean}, {@code std}). Only timm's default "center" crop mode exists here.
 *
 * <p>The arrays are copied in and out so that a spec, and the {@link Preprocessor} built from it,
 * cannot be changed behind a caller's back.
 */
public record InputSpec(
        int channels, int height, int width, Interpolation interpolation, double cropPct, float[] mean, float[] std) {

    public InputSpec {
        if (channels != 1 && channels != 3) {
            throw new IllegalArgumentException("channels must be 1 or 3, got " + channels);
        }
        if (height < 1 || width < 1) {
            throw new IllegalArgumentException("input size must be positive, got " + height + "x" + width);
        }
        if ((long) channels * height * width > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("input size " + channels + "x" + height + "x" + width + " is too large");
        }
        Objects.requireNonNull(interpolation, "interpolation");
        if (!(cropPct > 0) || Double.isInfinite(cropPct)) {
            throw new IllegalArgumentException("crop_pct must be a positive number, got " + cropPct);
        }
        if (Math.floor(Math.min(height, width) / cropPct) < 1) {
            // timm would ask PIL for a 0-pixel resize, which fails.
            throw new IllegalArgumentException("crop_pct " + cropPct + " leaves nothing to resize to for " + height + "x" + width);
        }
        mean = perChannel("mean", mean, channels).clone();
        std = perChannel("std", std, channels).clone();
        for (float s : std) {
            if (s == 0 || !Float.isFinite(s)) {
                throw new IllegalArgumentException("std must be finite and non-zero, got " + Arrays.toString(std));
            }
        }
    }

    @Override
    public float[] mean() {
        return mean.clone();
    }

    @Override
    public float[] std() {
        return std.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof InputSpec s
                && channels == s.channels && height == s.height && width == s.width
                && interpolation == s.interpolation
                && Double.compare(cropPct, s.cropPct) == 0
                && Arrays.equals(mean, s.mean) && Arrays.equals(std, s.std);
    }

    @Override
    public int hashCode() {
        return Objects.hash(channels, height, width, interpolation, cropPct, Arrays.hashCode(mean), Arrays.hashCode(std));
    }

    @Override
    public String toString() {
        return "InputSpec[" + channels + "x" + height + "x" + width + ", " + interpolation.name().toLowerCase(Locale.ROOT)
                + ", crop_pct=" + cropPct + ", mean=" + Arrays.toString(mean) + ", std=" + Arrays.toString(std) + "]";
    }

    private static float[] perChannel(String name, float[] values, int channels) {
        Objects.requireNonNull(values, name);
        if (values.length != channels) {
            throw new IllegalArgumentException(name + " has " + values.length + " values for " + channels + " channels");
        }
        return values;
    }
}
