package io.tomestream.image;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import org.w3c.dom.Node;

/**
 * Turns PNG, JPEG, BMP, GIF, TIFF or WebP bytes into 8-bit L or RGB pixels the way PIL's
 * {@code Image.open(f).convert(mode)} would, using only javax.imageio. Every failure, including the
 * runtime exceptions ImageIO's readers throw on hostile input, becomes an {@link ImageException}.
 */
public final class ImageDecoder {
    public static final long MAX_PIXELS = 64_000_000L;
    public static final int MAX_SIDE = 16384;

    /** Which decoder reads JPEGs here, for start-up logs: libjpeg-turbo, or ImageIO and why. */
    public static String jpegDecoder() {
        String why = TurboJpeg.unavailableBecause();
        return why == null ? "libjpeg-turbo" : "ImageIO (" + why + ")";
    }

    /**
     * Formats whose decoding has been checked against PIL, by the names ImageIO's readers give. TIFF is
     * the JDK's own reader; WebP needs a plugin on the class path (TwelveMonkeys' imageio-webp, which the
     * app carries; the engine itself depends on nothing). The JDK also reads WBMP, refused because its
     * loose signature would otherwise claim random bytes.
     */
    private static final Set<String> FORMATS = Set.of("png", "jpeg", "bmp", "gif", "tif", "webp");
    private static final String SEND = "send PNG, JPEG, BMP, GIF, TIFF or WebP";

    private ImageDecoder() {}

    /**
     * @param channels 3 for RGB, 1 for luminance (PIL mode "L")
     * @throws ImageException UNSUPPORTED_FORMAT, IMAGE_TOO_LARGE (decided from the header, before any pixel
     *     is allocated) or UNDECODABLE_IMAGE (empty, truncated or corrupt, including data ImageIO's JPEG
     *     reader merely warns about)
     */
    public static Pixels decode(byte[] encoded, int channels) throws ImageException {
        return decode(encoded, channels, null);
    }

    /**
     * @param draft null for the exact decode; otherwise a JPEG may be decoded smaller, in the DCT domain,
     *              down to the size {@code draft} asks for (see {@link TurboJpeg#decode})
     */
    static Pixels decode(byte[] encoded, int channels, TurboJpeg.Draft draft) throws ImageException {
        if (channels != 1 && channels != 3) {
            throw new IllegalArgumentException("channels must be 1 or 3, got " + channels);
        }
        if (encoded == null || encoded.length == 0) {
            throw undecodable("the image is empty (0 bytes)", null);
        }
        if (signature(encoded, "\u00ff\u00d8\u00ff")) {
            Pixels fast = TurboJpeg.decode(encoded, ImageDecoder::checkSize, draft);
            if (fast != null) return ModeConversion.toChannels(fast, channels);
        }
        return decodeWithImageIO(encoded, channels);
    }

    /** The ImageIO path alone: every format, and every JPEG that libjpeg-turbo leaves to it. */
    static Pixels decodeWithImageIO(byte[] encoded, int channels) throws ImageException {
        // A memory-backed stream on purpose: ImageIO.createImageInputStream would spill to a temp file
        // whenever ImageIO's global cache flag is on, which is its default.
        byte[] data = JpegProfiles.withoutIccProfile(encoded);
        try (ImageInputStream stream = new MemoryCacheImageInputStream(new ByteArrayInputStream(data))) {
            ImageReader reader = readerFor(stream, data);
            try {
                return read(reader, stream, channels);
            } finally {
                reader.dispose();
            }
        } catch (ImageException e) {
            throw e;
        } catch (IOException e) {
            throw undecodable(describe(e), e);
        } catch (RuntimeException e) {
            // ImageIO's readers throw IndexOutOfBounds, NegativeArraySize, IllegalArgument and more on damaged data.
            throw undecodable(describe(e), e);
        }
    }

    private static ImageReader readerFor(ImageInputStream stream, byte[] encoded) throws IOException, ImageException {
        Iterator<ImageReader> readers = ImageIO.getImageReaders(stream);
        String refused = null;
        while (readers.hasNext()) {
            ImageReader reader = readers.next();
            String format = reader.getFormatName().toLowerCase(Locale.ROOT);
            if (FORMATS.contains(format)) {
                return reader;
            }
            refused = refused == null ? format : refused;
            reader.dispose();
        }
        if (refused != null) {
            throw new ImageException(ImageException.Reason.UNSUPPORTED_FORMAT,
                    refused.toUpperCase(Locale.ROOT) + " images are not supported; " + SEND);
        }
        throw unrecognised(encoded);
    }

    private static Pixels read(ImageReader reader, ImageInputStream stream, int channels) throws IOException, ImageException {
        String format = reader.getFormatName().toLowerCase(Locale.ROOT);
        boolean gif = format.equals("gif");
        // Metadata is only needed to place a GIF's first frame on its canvas; skipping it elsewhere
        // also skips parsing ancillary chunks nobody uses.
        reader.setInput(stream, true, !gif);
        List<String> warnings = new ArrayList<>();
        reader.addIIOReadWarningListener((source, warning) -> warnings.add(warning));

        int width = reader.getWidth(0);
        int height = reader.getHeight(0);
        checkSize(width, height);
        GifCanvas canvas = gif ? GifCanvas.of(reader, width, height) : null;
        if (canvas != null) {
            checkSize(canvas.width(), canvas.height());
        }

        BufferedImage image = reader.read(0);
        // The JPEG reader only warns about a truncated or damaged stream and fills the rest with grey.
        if (!warnings.isEmpty()) {
            throw undecodable(format.toUpperCase(Locale.ROOT) + " data is damaged: " + warnings.getFirst(), null);
        }
        Pixels pixels = ModeConversion.fromImage(image, channels);
        return canvas == null ? pixels : canvas.place(pixels, image, channels);
    }

    private static void checkSize(int width, int height) throws ImageException {
        if (width < 1 || height < 1) {
            throw undecodable("the header gives an empty size " + width + "x" + height, null);
        }
        long pixels = (long) width * height;
        if (pixels > MAX_PIXELS || width > MAX_SIDE || height > MAX_SIDE) {
            throw new ImageException(ImageException.Reason.IMAGE_TOO_LARGE, String.format(Locale.ROOT,
                    "image is %dx%d (%.1f MP); the limit is %d MP and %d px a side",
                    width, height, pixels / 1e6, MAX_PIXELS / 1_000_000, MAX_SIDE));
        }
    }

    /**
     * PIL opens a GIF at its logical screen size (grown to cover the first frame if that sticks out)
     * and draws the first frame at its offset over the transparent colour index, or index 0. ImageIO
     * returns the bare frame, so the canvas is rebuilt here.
     */
    private record GifCanvas(int width, int height, int left, int top, int background) {

        static GifCanvas of(ImageReader reader, int frameWidth, int frameHeight) throws IOException {
            Node screen = child(tree(reader.getStreamMetadata()), "LogicalScreenDescriptor");
            Node frame = tree(reader.getImageMetadata(0));
            Node descriptor = child(frame, "ImageDescriptor");
            Node control = child(frame, "GraphicControlExtension");
            int left = attribute(descriptor, "imageLeftPosition", 0);
            int top = attribute(descriptor, "imageTopPosition", 0);
            int background = control != null && "TRUE".equalsIgnoreCase(text(control, "transparentColorFlag"))
                    ? attribute(control, "transparentColorIndex", 0)
                    : 0;
            return new GifCanvas(
                    Math.max(attribute(screen, "logicalScreenWidth", 0), left + frameWidth),
                    Math.max(attribute(screen, "logicalScreenHeight", 0), top + frameHeight),
                    left, top, background);
        }

        Pixels place(Pixels frame, BufferedImage image, int channels) {
            if (left == 0 && top == 0 && width == frame.width() && height == frame.height()) {
                return frame;
            }
            byte[] fill = image.getColorModel() instanceof IndexColorModel palette
                    ? ModeConversion.paletteColour(palette, background, channels)
                    : new byte[channels];
            byte[] out = new byte[width * height * channels];
            for (int i = 0; i < out.length; i += channels) {
                System.arraycopy(fill, 0, out, i, channels);
            }
            int rowBytes = frame.width() * channels;
            for (int y = 0; y < frame.height(); y++) {
                System.arraycopy(frame.data(), y * rowBytes, out, ((top + y) * width + left) * channels, rowBytes);
            }
            return new Pixels(width, height, channels, out);
        }

        private static Node tree(IIOMetadata metadata) {
            return metadata == null ? null : metadata.getAsTree(metadata.getNativeMetadataFormatName());
        }

        private static Node child(Node parent, String name) {
            if (parent == null) return null;
            for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
                if (n.getNodeName().equals(name)) return n;
            }
            return null;
        }

        private static String text(Node node, String name) {
            Node a = node == null || node.getAttributes() == null ? null : node.getAttributes().getNamedItem(name);
            return a == null ? null : a.getNodeValue();
        }

        private static int attribute(Node node, String name, int fallback) {
            String value = text(node, name);
            try {
                return value == null ? fallback : Integer.parseInt(value);
            } catch (NumberFormatException e) {
                return fallback;
            }
        }
    }

    /**
     * No reader claimed the data. A known signature whose header the readers rejected is damaged data;
     * anything else is named where it is a format people commonly send, so the refusal says more than "unknown".
     */
    private static ImageException unrecognised(byte[] b) {
        String damaged = signature(b, "\u0089PNG\r\n\u001a\n") ? "PNG"
                : signature(b, "\u00ff\u00d8\u00ff") ? "JPEG"
                : signature(b, "GIF8") ? "GIF"
                : signature(b, "BM") ? "BMP"
                : startsWith(b, 0, "II*\0") || startsWith(b, 0, "MM\0*") ? "TIFF"
                : null;
        if (damaged != null) {
            return undecodable("the " + damaged + " header is truncated, damaged or of an unknown variant", null);
        }
        if (startsWith(b, 0, "RIFF") && startsWith(b, 8, "WEBP")) {
            if (ImageIO.getImageReadersByFormatName("webp").hasNext()) {
                return undecodable("the WebP header is truncated, damaged or of an unknown variant", null);
            }
            return new ImageException(ImageException.Reason.UNSUPPORTED_FORMAT,
                    "WebP needs an ImageIO reader on the class path (TwelveMonkeys imageio-webp, which bin/tomestream carries)");
        }
        String name = startsWith(b, 4, "ftypavi") ? "AVIF"
                : startsWith(b, 4, "ftyphei") || startsWith(b, 4, "ftypmif1") ? "HEIF"
                : null;
        String what = name != null
                ? name + " images are not supported"
                : "unrecognised image format (first bytes " + HexFormat.ofDelimiter(" ").formatHex(b, 0, Math.min(b.length, 8)) + ")";
        return new ImageException(ImageException.Reason.UNSUPPORTED_FORMAT, what + "; " + SEND);
    }

    /** The data begins with the signature, or is cut off inside it (two bytes at least). */
    private static boolean signature(byte[] b, String ascii) {
        int n = Math.min(b.length, ascii.length());
        return n >= 2 && startsWith(b, 0, ascii.substring(0, n));
    }

    private static boolean startsWith(byte[] b, int at, String ascii) {
        if (b.length < at + ascii.length()) return false;
        for (int i = 0; i < ascii.length(); i++) {
            if ((b[at + i] & 0xFF) != ascii.charAt(i)) return false;
        }
        return true;
    }

    private static ImageException undecodable(String message, Throwable cause) {
        return new ImageException(ImageException.Reason.UNDECODABLE_IMAGE, message, cause);
    }

    private static String describe(Throwable e) {
        StringBuilder sb = new StringBuilder("cannot decode the image: ");
        sb.append(e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName());
        for (Throwable c = e.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
            if (c.getMessage() != null) {
                sb.append(" (").append(c.getMessage()).append(')');
                break;
            }
        }
        return sb.toString().replace('\n', ' ');
    }
}
