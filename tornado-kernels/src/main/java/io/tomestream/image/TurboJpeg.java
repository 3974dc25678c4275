package io.tomestream.image;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * JPEG decoding through the system's libjpeg-turbo (its TurboJPEG API, Debian's {@code libturbojpeg0}),
 * called with the FFM API. It is the decoder Pillow ships, so its pixels are PIL's by construction, and
 * its SIMD decode of a 1080p frame takes a quarter of ImageIO's time.
 *
 * <p>It handles the common case only: YCbCr and greyscale JPEGs that decode without a warning. For
 * anything else it answers {@code null}, and {@link ImageDecoder} falls back to ImageIO, which
 * also words the errors. Without the library everything goes to ImageIO; {@link #unavailableBecause()}
 * says why.
 */
final class TurboJpeg {
    private static final int TJPF_RGB = 0;
    private static final int TJPF_GRAY = 6;
    private static final int TJCS_YCBCR = 1;
    private static final int TJCS_GRAY = 2;
    /** A warning (a truncated or damaged stream) fails the call, as ImageIO's warnings fail ours. */
    private static final int TJFLAG_STOPONWARNING = 8192;
    /** Refuses progressive files of over 500 scans, which cost minutes to decode. */
    private static final int TJFLAG_LIMITSCANS = 32768;
    private static final int FLAGS = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS;
    /** libjpeg-turbo scales in the DCT domain by m/8; PIL's {@code draft} uses the powers of two. */
    private static final List<Integer> DRAFT_DIVISORS = List.of(8, 4, 2);

    private static final MethodHandle INIT;
    private static final MethodHandle HEADER;
    private static final MethodHandle DECOMPRESS;
    private static final MethodHandle DESTROY;
    private static final String UNAVAILABLE;

    static {
        MethodHandle init = null, header = null, decompress = null, destroy = null;
        String why = null;
        if (Boolean.getBoolean("tomestream.imageio")) {
            why = "turned off by -Dtomestream.imageio=true";
        } else {
            try {
                SymbolLookup lib = lookup();
                Linker linker = Linker.nativeLinker();
                init = linker.downcallHandle(lib.findOrThrow("tjInitDecompress"), FunctionDescriptor.of(ADDRESS));
                // Critical with heap access: libjpeg-turbo reads the Java byte[] and writes the pixels' byte[] in
                // place, with no native copies of a 6 MB frame. It never calls back into Java; a garbage
                // collection waits for the decode (milliseconds) to return.
                Linker.Option inPlace = Linker.Option.critical(true);
                header = linker.downcallHandle(lib.findOrThrow("tjDecompressHeader3"),
                        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, ADDRESS), inPlace);
                decompress = linker.downcallHandle(lib.findOrThrow("tjDecompress2"),
                        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
                        inPlace);
                destroy = linker.downcallHandle(lib.findOrThrow("tjDestroy"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
            } catch (RuntimeException | LinkageError e) {
                why = "libturbojpeg is not loadable (" + e.getMessage() + "); install Debian's libturbojpeg0";
                init = header = decompress = destroy = null;
            }
        }
        INIT = init;
        HEADER = header;
        DECOMPRESS = decompress;
        DESTROY = destroy;
        UNAVAILABLE = why;
    }

    private TurboJpeg() {}

    private static SymbolLookup lookup() {
        String path = System.getProperty("tomestream.turbojpeg");
        if (path != null) return SymbolLookup.libraryLookup(java.nio.file.Path.of(path), Arena.global());
        IllegalArgumentException first = null;
        for (String name : List.of("libturbojpeg.so.0", "libturbojpeg.so", "libturbojpeg.0.dylib", "turbojpeg.dll")) {
            try {
                return SymbolLookup.libraryLookup(name, Arena.global());
            } catch (IllegalArgumentException e) {
                if (first == null) first = e;
            }
        }
        throw first;
    }

    /** Null when libjpeg-turbo decodes here; otherwise why ImageIO does all the JPEG decoding. */
    static String unavailableBecause() {
        return UNAVAILABLE;
    }

    /** Header dimensions, checked before any pixel is allocated. */
    @FunctionalInterface
    interface SizeCheck {
        void check(int width, int height) throws ImageException;
    }

    /** Picks the decoded size for a JPEG of {@code width × height}; {@code null} means its full size. */
    @FunctionalInterface
    interface Draft {
        /** The smallest size, in pixels, the image must keep on each side: {width, height}. */
        int[] minimumSize(int width, int height);
    }

    /**
     * @param draft null for the exact decode; otherwise the largest DCT-domain downscale (1/2, 1/4, 1/8)
     *              that keeps the image at least at {@code draft}'s size, as PIL's {@code Image.draft} does
     * @return RGB, or L for a greyscale JPEG; null when this decoder leaves the image to ImageIO
     */
    static Pixels decode(byte[] jpeg, SizeCheck sizeCheck, Draft draft) throws ImageException {
        if (UNAVAILABLE != null) return null;
        try {
            MemorySegment handle = (MemorySegment) INIT.invokeExact();
            if (handle.equals(MemorySegment.NULL)) return null;
            try {
                MemorySegment in = MemorySegment.ofArray(jpeg);
                int[] dims = new int[4]; // width, height, subsampling, colour space
                MemorySegment d = MemorySegment.ofArray(dims);
                int rc = (int) HEADER.invokeExact(handle, in, (long) jpeg.length, d, d.asSlice(4), d.asSlice(8), d.asSlice(12));
                if (rc != 0) return null;
                int width = dims[0], height = dims[1], colourspace = dims[3];
                if (colourspace != TJCS_YCBCR && colourspace != TJCS_GRAY) return null;
                sizeCheck.check(width, height);
                int divisor = draft == null ? 1 : divisor(width, height, draft.minimumSize(width, height));
                int outWidth = (width + divisor - 1) / divisor;
                int outHeight = (height + divisor - 1) / divisor;
                int channels = colourspace == TJCS_GRAY ? 1 : 3;
                byte[] pixels = new byte[Math.multiplyExact(Math.multiplyExact(outWidth, outHeight), channels)];
                rc = (int) DECOMPRESS.invokeExact(handle, in, (long) jpeg.length, MemorySegment.ofArray(pixels), outWidth, 0, outHeight,
                        channels == 1 ? TJPF_GRAY : TJPF_RGB, FLAGS);
                if (rc != 0) return null;
                return new Pixels(outWidth, outHeight, channels, pixels);
            } finally {
                int ignored = (int) DESTROY.invokeExact(handle);
            }
        } catch (ImageException e) {
            throw e;
        } catch (Throwable e) {
            if (e instanceof Error err && !(err instanceof LinkageError)) throw err;
            return null;
        }
    }

    private static int divisor(int width, int height, int[] minimum) {
        for (int d : DRAFT_DIVISORS) {
            if ((width + d - 1) / d >= minimum[0] && (height + d - 1) / d >= minimum[1]) return d;
        }
        return 1;
    }
}
