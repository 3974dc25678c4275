package io.tomestream.image;

import java.util.Objects;

/**
 * Decoded 8-bit pixels, row-major and interleaved: 1 channel (PIL mode "L") or 3 (mode "RGB").
 * The array is shared, not copied; treat it as read-only once built.
 */
public record Pixels(int width, int height, int channels, byte[] data) {

    public Pixels {
        if (width < 1 || height < 1) throw new IllegalArgumentException("size must be positive, got " + width + "x" + height);
        if (channels != 1 && channels != 3) throw new IllegalArgumentException("channels must be 1 or 3, got " + channels);
        Objects.requireNonNull(data, "data");
        if ((long) width * height * channels != data.length) {
            throw new IllegalArgumentException(
                    width + "x" + height + "x" + channels + " pixels need " + (long) width * height * channels + " bytes, got " + data.length);
        }
    }

    /** Unsigned sample at a pixel and channel. Meant for tests and debugging, not inner loops. */
    public int sample(int x, int y, int channel) {
        return data[(y * width + x) * channels + channel] & 0xFF;
    }
}
