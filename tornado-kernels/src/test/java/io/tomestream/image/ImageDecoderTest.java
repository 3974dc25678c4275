package io.tomestream.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tomestream.image.ImageException.Reason;
import java.awt.color.ColorSpace;
import java.awt.color.ICC_Profile;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.CRC32;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

class ImageDecoderTest {

    // ------------------------------------------------------------------ conversions

    @Test
    void greyIsReadAsStoredNotColourManaged() throws Exception {
        // getRGB on a CS_GRAY image would treat 100 as linear light and return about 168.
        BufferedImage grey = new BufferedImage(3, 2, BufferedImage.TYPE_BYTE_GRAY);
        grey.getRaster().setSample(1, 1, 0, 100);
        Pixels rgb = ImageDecoder.decode(encode(grey, "png"), 3);
        assertEquals(3, rgb.channels());
        assertArrayEquals(new int[] {100, 100, 100}, rgbAt(rgb, 1, 1));
        assertEquals(100, ImageDecoder.decode(encode(grey, "png"), 1).sample(1, 1, 0));
    }

    @Test
    void sixteenBitGreyIsScaledToEightBits() throws Exception {
        int[] values = {0, 128, 129, 255, 256, 1000, 32768, 65400, 65407, 65535};
        BufferedImage grey = new BufferedImage(values.length, 1, BufferedImage.TYPE_USHORT_GRAY);
        for (int x = 0; x < values.length; x++) grey.getRaster().setSample(x, 0, 0, values[x]);
        Pixels pixels = ImageDecoder.decode(encode(grey, "png"), 1);
        int[] actual = new int[values.length];
        for (int x = 0; x < values.length; x++) actual[x] = pixels.sample(x, 0, 0);
        // round(v * 255 / 65535); PIL itself would clip everything over 255 to white.
        assertArrayEquals(new int[] {0, 0, 1, 1, 1, 4, 128, 254, 255, 255}, actual);
    }

    @Test
    void alphaIsDroppedNotComposited() throws Exception {
        BufferedImage rgba = new BufferedImage(2, 1, BufferedImage.TYPE_INT_ARGB);
        rgba.setRGB(0, 0, 0x00C86432); // fully transparent (200, 100, 50)
        rgba.setRGB(1, 0, 0x80102030);
        Pixels rgb = ImageDecoder.decode(encode(rgba, "png"), 3);
        assertArrayEquals(new int[] {200, 100, 50}, rgbAt(rgb, 0, 0));
        assertArrayEquals(new int[] {0x10, 0x20, 0x30}, rgbAt(rgb, 1, 0));
        assertEquals(ModeConversion.luminance(200, 100, 50), ImageDecoder.decode(encode(rgba, "png"), 1).sample(0, 0, 0));
    }

    @Test
    void luminanceIsPilsItuR601() throws Exception {
        int[][] colours = {{10, 200, 30}, {255, 255, 255}, {0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {128, 128, 127}, {1, 2, 3}};
        int[] pil = {124, 255, 0, 76, 150, 29, 128, 2}; // Image.fromarray(...).convert("L") in Pillow 12
        BufferedImage image = new BufferedImage(colours.length, 1, BufferedImage.TYPE_3BYTE_BGR);
        for (int x = 0; x < colours.length; x++) {
            for (int c = 0; c < 3; c++) image.getRaster().setSample(x, 0, c, colours[x][c]);
        }
        Pixels grey = ImageDecoder.decode(encode(image, "png"), 1);
        for (int x = 0; x < colours.length; x++) {
            assertEquals(pil[x], grey.sample(x, 0, 0), "L of " + Arrays.toString(colours[x]));
        }
    }

    @Test
    void embeddedIccProfileIsIgnoredLikePil() throws Exception {
        // ImageIO alone would convert these pixels from linear RGB to sRGB (by up to 73 levels here).
        byte[] plain = PreprocessFixtures.bytes("photo_48x36.jpg");
        byte[] tagged = withIccProfile(plain, ICC_Profile.getInstance(ColorSpace.CS_LINEAR_RGB).getData());
        assertArrayEquals(ImageDecoder.decode(plain, 3).data(), ImageDecoder.decode(tagged, 3).data());
        assertArrayEquals(plain, JpegProfiles.withoutIccProfile(tagged));
        byte[] png = PreprocessFixtures.bytes("rgb_40x30.png");
        assertSame(png, JpegProfiles.withoutIccProfile(png));
    }

    @Test
    void firstFrameOfAnAnimatedGif() throws Exception {
        Pixels pixels = ImageDecoder.decode(PreprocessFixtures.bytes("palette_37x29.gif"), 3);
        assertEquals(37, pixels.width());
        assertEquals(29, pixels.height());
        // The second frame is all index 0; the first is not.
        assertTrue(countDistinct(pixels) > 10);
    }

    // ------------------------------------------------------------------ refusals

    @Test
    void emptyData() {
        assertReason(Reason.UNDECODABLE_IMAGE, new byte[0], "empty");
        assertReason(Reason.UNDECODABLE_IMAGE, null, "empty");
    }

    @Test
    void randomBytes() {
        byte[] noise = new byte[4096];
        new Random(7).nextBytes(noise);
        ImageException e = assertThrows(ImageException.class, () -> ImageDecoder.decode(noise, 3));
        assertEquals(Reason.UNSUPPORTED_FORMAT, e.reason(), e.getMessage());
        assertTrue(e.getMessage().contains("unrecognised image format"), e.getMessage());
    }

    @Test
    void truncatedFilesOfEveryFormat() {
        for (String file : new String[] {"rgb_40x30.png", "photo_48x36.jpg", "progressive_48x36.jpg", "palette_37x29.gif", "rgb_33x27.bmp"}) {
            byte[] whole = PreprocessFixtures.bytes(file);
            for (int keep : new int[] {whole.length / 2, whole.length * 3 / 4, 40, 3}) {
                byte[] cut = Arrays.copyOf(whole, keep);
                ImageException e = assertThrows(ImageException.class, () -> ImageDecoder.decode(cut, 3), file + " cut at " + keep);
                assertEquals(Reason.UNDECODABLE_IMAGE, e.reason(), file + " cut at " + keep + ": " + e.getMessage());
            }
        }
    }

    @Test
    void truncatedJpegIsRefusedAlthoughImageIoOnlyWarns() {
        byte[] whole = PreprocessFixtures.bytes("photo_48x36.jpg");
        ImageException e = assertThrows(ImageException.class, () -> ImageDecoder.decode(Arrays.copyOf(whole, whole.length - 200), 3));
        assertEquals(Reason.UNDECODABLE_IMAGE, e.reason());
        assertTrue(e.getMessage().startsWith("JPEG data is damaged"), e.getMessage());
    }

    @Test
    void hugePngHeaderIsRefusedBeforeAnyPixelIsAllocated() throws Exception {
        ImageDecoder.decode(PreprocessFixtures.bytes("rgb_40x30.png"), 3); // load ImageIO's plugins outside the measurement
        byte[] png = pngHeaderOnly(20000, 20000);
        long before = allocatedBytes();
        ImageException e = assertThrows(ImageException.class, () -> ImageDecoder.decode(png, 3));
        long allocated = allocatedBytes() - before;
        assertEquals(Reason.IMAGE_TOO_LARGE, e.reason());
        assertEquals("image is 20000x20000 (400.0 MP); the limit is 64 MP and 16384 px a side", e.getMessage());
        assertTrue(allocated < 32 << 20, "allocated " + allocated + " bytes for a refused 1.2 GB image");
    }

    @Test
    void hugeBmpGifAndJpegHeadersAreRefused() {
        assertTooLarge(bmpHeaderOnly(20000, 20000), "20000x20000");
        assertTooLarge(gifHeaderOnly(20000, 20000, 20000, 20000), "20000x20000");
        // A small first frame on a huge logical screen: PIL would allocate the whole screen.
        assertTooLarge(gifHeaderOnly(30000, 30000, 10, 10), "30000x30000");
        assertTooLarge(jpegWithSize(PreprocessFixtures.bytes("photo_48x36.jpg"), 20000, 20000), "20000x20000");
    }

    @Test
    void aSideOverTheLimitIsRefusedEvenWhenTheAreaIsSmall() {
        ImageException e = assertTooLarge(pngHeaderOnly(16385, 2), "16385x2");
        assertTrue(e.getMessage().contains("(0.0 MP)"), e.getMessage());
    }

    @Test
    void formatsBeyondTheSixAreRefusedByNameAndADamagedWebPIsUndecodable() throws Exception {
        byte[] avif = Arrays.copyOf("\0\0\0\u001cftypavif".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), 32);
        ImageException e = assertThrows(ImageException.class, () -> ImageDecoder.decode(avif, 3));
        assertEquals(Reason.UNSUPPORTED_FORMAT, e.reason());
        assertEquals("AVIF images are not supported; send PNG, JPEG, BMP, GIF, TIFF or WebP", e.getMessage());

        byte[] webp = "RIFF\u0024\0\0\0WEBPVP8 \u0018\0\0\0".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        ImageException damaged = assertThrows(ImageException.class, () -> ImageDecoder.decode(Arrays.copyOf(webp, 44), 3));
        assertEquals(Reason.UNDECODABLE_IMAGE, damaged.reason(), damaged.getMessage());
    }

    @Test
    void aTiffTheJdkWritesDecodesToItsPixels() throws Exception {
        BufferedImage image = new BufferedImage(5, 3, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < 3; y++) for (int x = 0; x < 5; x++) image.setRGB(x, y, (x * 50) << 16 | (y * 80) << 8 | (x + y) * 20);
        Pixels p = ImageDecoder.decode(encode(image, "tiff"), 3);
        assertEquals(5, p.width());
        assertEquals(3, p.height());
        assertEquals(4 * 50, p.sample(4, 2, 0));
        assertEquals(2 * 80, p.sample(4, 2, 1));
        assertEquals(6 * 20, p.sample(4, 2, 2));
    }

    /**
     * Lossy WebP is not PIL's pixels: converting VP8's 4:2:0 YUV to RGB is each decoder's own, and
     * libwebp (PIL's) upsamples chroma with its "fancy" filter where TwelveMonkeys' reader does not.
     * On this noisy synthetic image that is 4.6 levels on average and 76 at worst, at chroma edges;
     * the bounds are those measurements, so that a change of decoder shows. Lossless WebP is exact
     * (the webp_lossless fixture case).
     */
    @Test
    void aLossyWebPDecodesWithinAFewLevelsOfPil() throws ImageException {
        Pixels ours = ImageDecoder.decode(PreprocessFixtures.bytes("lossy_44x30.webp"), 3);
        Pixels pil = ImageDecoder.decode(PreprocessFixtures.bytes("lossy_44x30.webp.pil.png"), 3);
        assertEquals(pil.width() + "x" + pil.height(), ours.width() + "x" + ours.height());
        int max = 0;
        double sum = 0;
        for (int i = 0; i < ours.data().length; i++) {
            int d = Math.abs((ours.data()[i] & 0xFF) - (pil.data()[i] & 0xFF));
            max = Math.max(max, d);
            sum += d;
        }
        System.out.printf("lossy WebP against PIL: max %d levels, mean %.3f%n", max, sum / ours.data().length);
        assertTrue(max <= 80 && sum / ours.data().length <= 5.0, "max difference " + max + " levels, mean " + sum / ours.data().length);
    }

    @Test
    void channelsOtherThanOneOrThreeAreAProgrammingError() {
        assertThrows(IllegalArgumentException.class, () -> ImageDecoder.decode(PreprocessFixtures.bytes("rgb_40x30.png"), 4));
    }

    // ------------------------------------------------------------------ fuzzing

    /** Damaged input of every supported format must end in an ImageException, never anything else. */
    @Test
    void mutatedImagesOnlyEverThrowImageException() {
        String[] names = {"rgb_40x30.png", "indexed4_19x21.png", "gray16_24x20.png", "photo_48x36.jpg",
            "progressive_48x36.jpg", "cmyk_40x24.jpg", "palette_37x29.gif", "offset_frame_26x18.gif", "rgb_33x27.bmp",
            "palette8_37x29.bmp", "rgb_34x26.tiff", "lzw_34x26.tiff", "gray_24x20.tiff", "lossless_44x30.webp", "lossy_44x30.webp", "icc"};
        byte[][] seeds = new byte[names.length][];
        for (int i = 0; i < names.length; i++) {
            seeds[i] = names[i].equals("icc")
                    ? withIccProfile(PreprocessFixtures.bytes("photo_48x36.jpg"), ICC_Profile.getInstance(ColorSpace.CS_LINEAR_RGB).getData())
                    : PreprocessFixtures.bytes(names[i]);
        }
        Random random = new Random(20240611L);
        int decoded = 0;
        int refused = 0;
        for (int i = 0; i < 2000; i++) {
            byte[] data = mutate(seeds[i % seeds.length], random);
            int channels = random.nextBoolean() ? 3 : 1;
            try {
                Pixels p = ImageDecoder.decode(data, channels);
                assertEquals(channels, p.channels());
                decoded++;
            } catch (ImageException e) {
                assertTrue(e.getMessage() != null && !e.getMessage().isBlank() && !e.getMessage().contains("\n"), "one-line message");
                refused++;
            } catch (Throwable t) {
                throw new AssertionError("mutation " + i + " of " + names[i % names.length] + " threw " + t, t);
            }
        }
        assertEquals(2000, decoded + refused);
        assertTrue(refused > 200, "only " + refused + " mutations were refused; is the fuzzer mutating?");
    }

    private static byte[] mutate(byte[] original, Random random) {
        byte[] b = original.clone();
        switch (random.nextInt(5)) {
            case 0 -> { // flip a few bytes, mostly in the header where readers trust lengths and sizes
                for (int n = 1 + random.nextInt(4); n > 0; n--) {
                    int at = random.nextBoolean() ? random.nextInt(Math.min(b.length, 64)) : random.nextInt(b.length);
                    b[at] ^= (byte) (1 + random.nextInt(255));
                }
            }
            case 1 -> b = Arrays.copyOf(b, 1 + random.nextInt(b.length - 1));
            case 2 -> { // overwrite a run with noise
                int at = random.nextInt(b.length);
                for (int k = at; k < Math.min(b.length, at + 1 + random.nextInt(32)); k++) b[k] = (byte) random.nextInt(256);
            }
            case 3 -> { // extreme values in a 16-bit field
                int at = random.nextInt(Math.min(b.length - 1, 48));
                b[at] = (byte) (random.nextBoolean() ? 0xFF : 0);
                b[at + 1] = (byte) (random.nextBoolean() ? 0xFF : 0);
            }
            default -> { // splice in a copy of another region
                int from = random.nextInt(b.length);
                int len = Math.min(b.length - from, 1 + random.nextInt(64));
                int to = random.nextInt(b.length);
                byte[] out = new byte[b.length + len];
                System.arraycopy(b, 0, out, 0, to);
                System.arraycopy(b, from, out, to, len);
                System.arraycopy(b, to, out, to + len, b.length - to);
                b = out;
            }
        }
        return b;
    }

    // ------------------------------------------------------------------ helpers

    private static ImageException assertTooLarge(byte[] data, String size) {
        ImageException e = assertThrows(ImageException.class, () -> ImageDecoder.decode(data, 3));
        assertEquals(Reason.IMAGE_TOO_LARGE, e.reason(), e.getMessage());
        assertTrue(e.getMessage().startsWith("image is " + size + " ("), e.getMessage());
        return e;
    }

    private static void assertReason(Reason reason, byte[] data, String messagePart) {
        ImageException e = assertThrows(ImageException.class, () -> ImageDecoder.decode(data, 3));
        assertEquals(reason, e.reason(), e.getMessage());
        assertTrue(e.getMessage().contains(messagePart), e.getMessage());
    }

    private static long allocatedBytes() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    private static int[] rgbAt(Pixels p, int x, int y) {
        return new int[] {p.sample(x, y, 0), p.sample(x, y, 1), p.sample(x, y, 2)};
    }

    private static long countDistinct(Pixels p) {
        java.util.Set<Integer> colours = new java.util.HashSet<>();
        for (int i = 0; i < p.data().length; i += 3) colours.add(((p.data()[i] & 0xFF) << 16) | ((p.data()[i + 1] & 0xFF) << 8) | (p.data()[i + 2] & 0xFF));
        return colours.size();
    }

    private static byte[] encode(BufferedImage image, String format) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        if (!ImageIO.write(image, format, out)) throw new IllegalStateException("no " + format + " writer");
        return out.toByteArray();
    }

    /** The JPEG with an APP2 ICC_PROFILE segment right after SOI, as cameras and editors write it. */
    static byte[] withIccProfile(byte[] jpeg, byte[] profile) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(jpeg, 0, 2);
        int length = 2 + 12 + 2 + profile.length;
        out.write(0xFF);
        out.write(0xE2);
        out.write(length >> 8);
        out.write(length);
        out.writeBytes("ICC_PROFILE\0".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        out.write(1); // chunk 1 of 1
        out.write(1);
        out.writeBytes(profile);
        out.write(jpeg, 2, jpeg.length - 2);
        return out.toByteArray();
    }

    /** A PNG whose IHDR announces the size but that carries no image data at all. */
    static byte[] pngHeaderOnly(int width, int height) {
        ByteBuffer ihdr = ByteBuffer.allocate(13).putInt(width).putInt(height).put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
        chunk(out, "IHDR", ihdr.array());
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
        byte[] t = type.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
        out.writeBytes(t);
        out.writeBytes(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    /** A 24-bit BMP header (BITMAPINFOHEADER) with no pixel rows. */
    static byte[] bmpHeaderOnly(int width, int height) {
        ByteBuffer b = ByteBuffer.allocate(54).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 'B').put((byte) 'M').putInt(54 + width * 3 * height).putInt(0).putInt(54);
        b.putInt(40).putInt(width).putInt(height).putShort((short) 1).putShort((short) 24).putInt(0).putInt(0)
                .putInt(2835).putInt(2835).putInt(0).putInt(0);
        return b.array();
    }

    /** A GIF with a logical screen and one frame descriptor, and an empty image data block. */
    static byte[] gifHeaderOnly(int screenWidth, int screenHeight, int frameWidth, int frameHeight) {
        ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        b.put("GIF89a".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        b.putShort((short) screenWidth).putShort((short) screenHeight).put((byte) 0x80).put((byte) 0).put((byte) 0);
        b.put(new byte[] {0, 0, 0, (byte) 255, (byte) 255, (byte) 255}); // 2-entry global colour table
        b.put((byte) 0x2C).putShort((short) 0).putShort((short) 0).putShort((short) frameWidth).putShort((short) frameHeight).put((byte) 0);
        b.put((byte) 2).put((byte) 0).put((byte) 0x3B);
        return Arrays.copyOf(b.array(), b.position());
    }

    /** The same JPEG with its SOF0 size fields rewritten. */
    static byte[] jpegWithSize(byte[] jpeg, int width, int height) {
        byte[] b = jpeg.clone();
        for (int i = 2; i + 9 < b.length; i++) {
            if ((b[i] & 0xFF) == 0xFF && ((b[i + 1] & 0xFF) == 0xC0 || (b[i + 1] & 0xFF) == 0xC2)) {
                b[i + 5] = (byte) (height >> 8);
                b[i + 6] = (byte) height;
                b[i + 7] = (byte) (width >> 8);
                b[i + 8] = (byte) width;
                return b;
            }
        }
        throw new IllegalStateException("no SOF marker");
    }
}
