package io.tomestream.image;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentSampleModel;
import java.awt.image.DataBufferByte;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;

/**
 * PIL's {@code Image.convert("RGB")} and {@code convert("L")}, applied to the samples ImageIO decoded.
 *
 * <p>Samples are read from the raster, never through {@code getRGB}: Java colour-manages on the way
 * (a CS_GRAY image is treated as linear light and comes out brighter), while PIL copies numbers.
 * PIL's rules followed here: grey is replicated into RGB; alpha is dropped, never composited; a palette
 * is looked up; CMYK uses PIL's {@code cmyk2rgb}; luminance is ITU-R 601-2 in 16-bit fixed point;
 * 16-bit colour keeps the high byte (PIL unpacks "RGB;16B" that way); packed 5/6-bit fields scale as
 * {@code v * 255 / max}.
 *
 * <p>One deliberate departure: PIL opens a 16-bit grey PNG as mode "I;16" and its conversion clips
 * every value above 255 to white, which turns almost any such image white. 16-bit grey is instead
 * scaled, {@code round(v * 255 / 65535)}, with or without alpha (for grey+alpha PIL keeps the high
 * byte, at most one level away; ImageIO reports a grey PNG with a tRNS chunk as grey+alpha too, so
 * the two cannot be told apart here).
 */
final class ModeConversion {

    private ModeConversion() {}

    /** PIL's "L": R*299/1000 + G*587/1000 + B*114/1000 with its rounding constants. */
    static int luminance(int r, int g, int b) {
        return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;
    }

    /** Converts between L and RGB as PIL does; returns {@code pixels} itself if it already has {@code channels}. */
    static Pixels toChannels(Pixels pixels, int channels) {
        if (pixels.channels() == channels) {
            return pixels;
        }
        byte[] in = pixels.data();
        int n = pixels.width() * pixels.height();
        byte[] out = new byte[n * channels];
        if (channels == 3) {
            for (int i = 0; i < n; i++) {
                out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = in[i];
            }
        } else {
            for (int i = 0; i < n; i++) {
                out[i] = (byte) luminance(in[3 * i] & 0xFF, in[3 * i + 1] & 0xFF, in[3 * i + 2] & 0xFF);
            }
        }
        return new Pixels(pixels.width(), pixels.height(), channels, out);
    }

    static Pixels fromImage(BufferedImage image, int channels) throws ImageException {
        ColorModel model = image.getColorModel();
        Raster raster = image.getRaster();
        if (model instanceof IndexColorModel palette) {
            return fromPalette(raster, palette, channels);
        }
        int colours = model.getNumColorComponents();
        int space = model.getColorSpace().getType();
        if (colours == 1) {
            return fromBands(raster, model, 1, channels, false);
        }
        if (colours == 3 && space == ColorSpace.TYPE_RGB) {
            return fromBands(raster, model, 3, channels, false);
        }
        if (colours == 4 && space == ColorSpace.TYPE_CMYK) {
            return fromBands(raster, model, 4, channels, true);
        }
        throw new ImageException(ImageException.Reason.UNSUPPORTED_FORMAT,
                "unsupported colour layout: " + colours + " colour components in colour space type " + space);
    }

    /** The colour of one palette entry in the target mode, for painting a canvas around a GIF frame. */
    static byte[] paletteColour(IndexColorModel palette, int index, int channels) {
        int r = 0;
        int g = 0;
        int b = 0;
        if (index < palette.getMapSize()) {
            r = palette.getRed(index);
            g = palette.getGreen(index);
            b = palette.getBlue(index);
        }
        return channels == 3 ? new byte[] {(byte) r, (byte) g, (byte) b} : new byte[] {(byte) luminance(r, g, b)};
    }

    private static Pixels fromPalette(Raster raster, IndexColorModel palette, int channels) {
        // Indices past the palette's end (possible in GIF) read as black; PIL keeps whatever its
        // 256-entry palette holds there, which is undefined enough not to imitate.
        byte[] black = new byte[channels];
        byte[][] table = new byte[256][];
        for (int i = 0; i < 256; i++) {
            table[i] = paletteColour(palette, i, channels);
        }
        int width = raster.getWidth();
        int height = raster.getHeight();
        byte[] out = new byte[width * height * channels];
        int[] row = new int[width];
        int o = 0;
        for (int y = 0; y < height; y++) {
            raster.getSamples(raster.getMinX(), raster.getMinY() + y, width, 1, 0, row);
            for (int x = 0; x < width; x++) {
                int index = row[x];
                byte[] colour = index >= 0 && index < 256 ? table[index] : black;
                for (int c = 0; c < channels; c++) {
                    out[o++] = colour[c];
                }
            }
        }
        return new Pixels(width, height, channels, out);
    }

    private static Pixels fromBands(Raster raster, ColorModel model, int colours, int channels, boolean cmyk) {
        int width = raster.getWidth();
        int height = raster.getHeight();
        BandReader[] bands = new BandReader[colours];
        for (int b = 0; b < colours; b++) {
            bands[b] = new BandReader(raster, b, model.getComponentSize(b), colours == 1);
        }
        int[][] rows = new int[colours][width];
        byte[] out = new byte[width * height * channels];
        int o = 0;
        for (int y = 0; y < height; y++) {
            for (int b = 0; b < colours; b++) {
                bands[b].read(y, rows[b]);
            }
            for (int x = 0; x < width; x++) {
                int r;
                int g;
                int bl;
                if (colours == 1) {
                    r = g = bl = rows[0][x];
                } else if (cmyk) {
                    int notK = 255 - rows[3][x];
                    r = notK - mulDiv255(rows[0][x], notK);
                    g = notK - mulDiv255(rows[1][x], notK);
                    bl = notK - mulDiv255(rows[2][x], notK);
                } else {
                    r = rows[0][x];
                    g = rows[1][x];
                    bl = rows[2][x];
                }
                if (channels == 3) {
                    out[o++] = (byte) r;
                    out[o++] = (byte) g;
                    out[o++] = (byte) bl;
                } else {
                    out[o++] = (byte) (colours == 1 ? r : luminance(r, g, bl));
                }
            }
        }
        return new Pixels(width, height, channels, out);
    }

    /** PIL's MULDIV255: a * b / 255, rounded, without a division. */
    private static int mulDiv255(int a, int b) {
        int t = a * b + 128;
        return ((t >> 8) + t) >> 8;
    }

    /** Reads one band a row at a time as 8-bit values, straight from the bytes when they are bytes. */
    private static final class BandReader {
        private final Raster raster;
        private final int band;
        private final int bits;
        private final boolean roundSixteen;
        private final byte[] bytes;
        private final int start;
        private final int pixelStride;
        private final int scanlineStride;

        BandReader(Raster raster, int band, int bits, boolean roundSixteen) {
            this.raster = raster;
            this.band = band;
            this.bits = bits;
            this.roundSixteen = roundSixteen;
            if (bits == 8
                    && raster.getSampleModel() instanceof ComponentSampleModel sm
                    && raster.getDataBuffer() instanceof DataBufferByte buffer
                    && buffer.getNumBanks() == 1) {
                bytes = buffer.getData();
                pixelStride = sm.getPixelStride();
                scanlineStride = sm.getScanlineStride();
                start = buffer.getOffset() + sm.getBandOffsets()[band]
                        + (raster.getMinY() - raster.getSampleModelTranslateY()) * scanlineStride
                        + (raster.getMinX() - raster.getSampleModelTranslateX()) * pixelStride;
            } else {
                bytes = null;
                start = pixelStride = scanlineStride = 0;
            }
        }

        void read(int y, int[] row) {
            if (bytes != null) {
                int p = start + y * scanlineStride;
                for (int x = 0; x < row.length; x++, p += pixelStride) {
                    row[x] = bytes[p] & 0xFF;
                }
                return;
            }
            raster.getSamples(raster.getMinX(), raster.getMinY() + y, row.length, 1, band, row);
            if (bits == 8) {
                return;
            }
            for (int x = 0; x < row.length; x++) {
                row[x] = to8(row[x]);
            }
        }

        private int to8(int v) {
            if (bits == 16) {
                return roundSixteen ? (v * 255 + 32767) / 65535 : v >>> 8;
            }
            long max = (1L << bits) - 1;
            return (int) ((v & max) * 255 / max);
        }
    }
}
