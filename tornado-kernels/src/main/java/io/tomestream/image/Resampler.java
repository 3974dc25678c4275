package io.tomestream.image;

import java.util.Arrays;

/**
 * PIL's {@code Image.resize} for 8-bit L and RGB images (Pillow's libImaging/Resample.c and the
 * nearest-neighbour scaling in Geometry.c), reproduced operation for operation so that results are
 * bit-identical: timm evaluated every pretrained model through PIL, so PIL's pixels are the ones the
 * weights were measured on.
 *
 * <p>Bilinear and bicubic are separable convolutions whose kernel widens with the downscale factor
 * (which is what antialiases), run as a horizontal pass then a vertical pass. Weights are computed in
 * double, normalised to sum to one, then rounded to 22-bit fixed point; every pass rounds and clips
 * back to 8 bits, so the intermediate image is 8-bit too, exactly as in PIL.
 */
final class Resampler {
    /** 32 bits of accumulator, 8 for the pixel value, 2 spare for the overshoot of negative lobes. */
    private static final int PRECISION_BITS = 32 - 8 - 2;

    private Resampler() {}

    static Pixels resize(Pixels src, int outWidth, int outHeight, Interpolation interpolation) {
        return resizeWindow(src, outWidth, outHeight, interpolation, 0, outWidth, 0, outHeight);
    }

    /**
     * The columns {@code [x0, x1)} and rows {@code [y0, y1)} of {@code resize(src, outWidth, outHeight)},
     * computing only those: each output pixel of a separable pass depends on its own taps alone, so the
     * window is bit-identical to cutting it from the whole resize. A centre crop of a 16:9 camera frame
     * keeps about half of the resized columns, so this halves the work.
     */
    static Pixels resizeWindow(Pixels src, int outWidth, int outHeight, Interpolation interpolation,
                               int x0, int x1, int y0, int y1) {
        if (x0 < 0 || x1 > outWidth || x0 >= x1 || y0 < 0 || y1 > outHeight || y0 >= y1) {
            throw new IllegalArgumentException("window [" + x0 + "," + x1 + ")x[" + y0 + "," + y1 + ") outside "
                    + outWidth + "x" + outHeight);
        }
        if (outWidth == src.width() && outHeight == src.height()) {
            return x0 == 0 && y0 == 0 && x1 == outWidth && y1 == outHeight ? src : cut(src, x0, x1, y0, y1);
        }
        return switch (interpolation) {
            case NEAREST -> nearest(src, outWidth, outHeight, x0, x1, y0, y1);
            case BILINEAR, BICUBIC -> convolve(src, outWidth, outHeight, Filter.of(interpolation), x0, x1, y0, y1);
        };
    }

    private static Pixels cut(Pixels src, int x0, int x1, int y0, int y1) {
        int c = src.channels();
        int rowBytes = (x1 - x0) * c;
        byte[] out = new byte[rowBytes * (y1 - y0)];
        for (int y = y0; y < y1; y++) {
            System.arraycopy(src.data(), (y * src.width() + x0) * c, out, (y - y0) * rowBytes, rowBytes);
        }
        return new Pixels(x1 - x0, y1 - y0, c, out);
    }

    private enum Filter {
        BILINEAR(1.0) {
            @Override
            double weight(double x) {
                if (x < 0.0) x = -x;
                return x < 1.0 ? 1.0 - x : 0.0;
            }
        },
        /** Keys' cubic convolution with a = -0.5; the expression order is PIL's, so doubles agree bit for bit. */
        BICUBIC(2.0) {
            @Override
            double weight(double x) {
                final double a = -0.5;
                if (x < 0.0) x = -x;
                if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
                if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
                return 0.0;
            }
        };

        final double support;

        Filter(double support) {
            this.support = support;
        }

        abstract double weight(double x);

        static Filter of(Interpolation interpolation) {
            return switch (interpolation) {
                case BILINEAR -> BILINEAR;
                case BICUBIC -> BICUBIC;
                case NEAREST -> throw new IllegalArgumentException("nearest is not a convolution");
            };
        }
    }

    /**
     * One output line's taps: input index {@code first[i]}, {@code count[i]} taps, fixed-point weights at
     * {@code weights[i * stride]}.
     */
    private record Kernel(int[] first, int[] count, int[] weights, int stride) {

        static Kernel of(int inSize, int outSize, Filter filter) {
            double scale = (double) inSize / outSize;
            double filterScale = Math.max(scale, 1.0);
            double support = filter.support * filterScale;
            int stride = (int) Math.ceil(support) * 2 + 1;
            int[] first = new int[outSize];
            int[] count = new int[outSize];
            int[] weights = new int[outSize * stride];
            double[] k = new double[stride];
            for (int xx = 0; xx < outSize; xx++) {
                double center = (xx + 0.5) * scale;
                double ss = 1.0 / filterScale;
                // Java's (int) truncates toward zero like C's, which PIL's "round the value" relies on.
                int xmin = Math.max((int) (center - support + 0.5), 0);
                int xmax = Math.min((int) (center + support + 0.5), inSize) - xmin;
                double ww = 0.0;
                for (int x = 0; x < xmax; x++) {
                    double w = filter.weight((x + xmin - center + 0.5) * ss);
                    k[x] = w;
                    ww += w;
                }
                for (int x = 0; x < xmax; x++) {
                    double w = ww != 0.0 ? k[x] / ww : k[x];
                    weights[xx * stride + x] = w < 0
                            ? (int) (-0.5 + w * (1 << PRECISION_BITS))
                            : (int) (0.5 + w * (1 << PRECISION_BITS));
                }
                first[xx] = xmin;
                count[xx] = xmax;
            }
            return new Kernel(first, count, weights, stride);
        }

        /** The taps of output lines {@code [from, to)} only. */
        Kernel slice(int from, int to) {
            if (from == 0 && to == first.length) return this;
            return new Kernel(Arrays.copyOfRange(first, from, to), Arrays.copyOfRange(count, from, to),
                    Arrays.copyOfRange(weights, from * stride, to * stride), stride);
        }

        /** First input line any output line reads. */
        int low() {
            return first[0];
        }

        /** One past the last input line any output line reads. */
        int high() {
            return first[first.length - 1] + count[count.length - 1];
        }
    }

    private static Pixels convolve(Pixels src, int outWidth, int outHeight, Filter filter, int x0, int x1, int y0, int y1) {
        boolean horizontal = outWidth != src.width();
        boolean vertical = outHeight != src.height();
        Kernel rows = vertical ? Kernel.of(src.height(), outHeight, filter).slice(y0, y1) : null;
        Kernel columns = horizontal ? Kernel.of(src.width(), outWidth, filter).slice(x0, x1) : null;
        // PIL turns very tall images (over 100:1) that shrink vertically into a vertical-first resize,
        // so the intermediate image stays small; the rounding then differs, so follow it.
        if (src.height() > 100L * src.width() && outHeight < src.height()) {
            Pixels tall = verticalPass(horizontal ? src : cut(src, x0, x1, 0, src.height()), rows, 0);
            return horizontal ? horizontalPass(tall, columns, 0, y1 - y0) : tall;
        }
        // Only the rows the vertical pass will read are resampled horizontally (or, without one, cut out).
        int low = vertical ? rows.low() : y0;
        int high = vertical ? rows.high() : y1;
        Pixels out = horizontal ? horizontalPass(src, columns, low, high - low) : cut(src, x0, x1, low, high);
        return vertical ? verticalPass(out, rows, low) : out;
    }

    private static Pixels horizontalPass(Pixels src, Kernel kernel, int firstRow, int rows) {
        int channels = src.channels();
        int inRow = src.width() * channels;
        int outWidth = kernel.first().length;
        int[] first = kernel.first();
        int[] count = kernel.count();
        int[] weights = kernel.weights();
        byte[] in = src.data();
        byte[] out = new byte[outWidth * rows * channels];
        int o = 0;
        for (int y = 0; y < rows; y++) {
            int rowStart = (y + firstRow) * inRow;
            for (int xx = 0; xx < outWidth; xx++) {
                int p = rowStart + first[xx] * channels;
                int k = xx * kernel.stride();
                int taps = count[xx];
                if (channels == 1) {
                    int acc = 1 << (PRECISION_BITS - 1);
                    for (int x = 0; x < taps; x++) {
                        acc += (in[p + x] & 0xFF) * weights[k + x];
                    }
                    out[o++] = clip8(acc);
                } else {
                    int r = 1 << (PRECISION_BITS - 1);
                    int g = r;
                    int b = r;
                    for (int x = 0; x < taps; x++, p += 3) {
                        int w = weights[k + x];
                        r += (in[p] & 0xFF) * w;
                        g += (in[p + 1] & 0xFF) * w;
                        b += (in[p + 2] & 0xFF) * w;
                    }
                    out[o++] = clip8(r);
                    out[o++] = clip8(g);
                    out[o++] = clip8(b);
                }
            }
        }
        return new Pixels(outWidth, rows, channels, out);
    }

    /** {@code rowOffset} is the source row that {@code src}'s first row stands for. */
    private static Pixels verticalPass(Pixels src, Kernel kernel, int rowOffset) {
        int rowLength = src.width() * src.channels();
        int outHeight = kernel.first().length;
        byte[] in = src.data();
        byte[] out = new byte[rowLength * outHeight];
        // Accumulating a whole row tap by tap keeps the reads sequential; integer sums do not care about order.
        int[] acc = new int[rowLength];
        for (int yy = 0; yy < outHeight; yy++) {
            Arrays.fill(acc, 1 << (PRECISION_BITS - 1));
            int k = yy * kernel.stride();
            for (int y = 0; y < kernel.count()[yy]; y++) {
                int w = kernel.weights()[k + y];
                int p = (kernel.first()[yy] - rowOffset + y) * rowLength;
                for (int i = 0; i < rowLength; i++) {
                    acc[i] += (in[p + i] & 0xFF) * w;
                }
            }
            int o = yy * rowLength;
            for (int i = 0; i < rowLength; i++) {
                out[o + i] = clip8(acc[i]);
            }
        }
        return new Pixels(src.width(), outHeight, src.channels(), out);
    }

    private static byte clip8(int acc) {
        int v = acc >> PRECISION_BITS;
        return (byte) (v < 0 ? 0 : Math.min(v, 255));
    }

    /**
     * PIL samples the source at the pixel centre {@code (x + 0.5) * scale}, but builds that position by
     * repeatedly adding the scale, so the same accumulation is kept here for identical rounding.
     */
    private static Pixels nearest(Pixels src, int outWidth, int outHeight, int x0, int x1, int y0, int y1) {
        int channels = src.channels();
        int width = x1 - x0;
        int[] column = new int[width];
        double xScale = (double) src.width() / outWidth;
        double xo = xScale * 0.5;
        for (int x = 0; x < x1; x++) {
            if (x >= x0) column[x - x0] = Math.min((int) xo, src.width() - 1);
            xo += xScale;
        }
        byte[] in = src.data();
        byte[] out = new byte[width * (y1 - y0) * channels];
        double yScale = (double) src.height() / outHeight;
        double yo = yScale * 0.5;
        for (int y = 0; y < y1; y++) {
            if (y >= y0) {
                int row = Math.min((int) yo, src.height() - 1) * src.width();
                for (int x = 0; x < width; x++) {
                    System.arraycopy(in, (row + column[x]) * channels, out, ((y - y0) * width + x) * channels, channels);
                }
            }
            yo += yScale;
        }
        return new Pixels(width, y1 - y0, channels, out);
    }
}
