package io.tomestream.image;

import java.io.ByteArrayOutputStream;

/**
 * Removes embedded ICC profiles (APP2 "ICC_PROFILE" segments) from a JPEG's header.
 *
 * <p>PIL hands back the decoder's numbers and ignores the profile; ImageIO's JPEG reader instead
 * converts the pixels from the profile to sRGB, so a phone photo tagged Display P3 would come out
 * with shifted colours. Its API offers no way to decline that in every case (for an RGB-coded JPEG
 * there is no destination type that avoids the conversion), so the reader is simply never shown the
 * profile.
 */
final class JpegProfiles {
    private static final byte[] ICC_TAG = {'I', 'C', 'C', '_', 'P', 'R', 'O', 'F', 'I', 'L', 'E', 0};

    private JpegProfiles() {}

    /** The same bytes without ICC segments; {@code jpeg} itself if it has none or is not a JPEG. */
    static byte[] withoutIccProfile(byte[] jpeg) {
        if (jpeg.length < 4 || (jpeg[0] & 0xFF) != 0xFF || (jpeg[1] & 0xFF) != 0xD8) {
            return jpeg;
        }
        ByteArrayOutputStream out = null;
        int copied = 0;
        int pos = 2;
        // Walk the header segments up to the first scan; anything malformed is left for the decoder to refuse.
        while (pos + 4 <= jpeg.length && (jpeg[pos] & 0xFF) == 0xFF) {
            int marker = jpeg[pos + 1] & 0xFF;
            if (marker == 0xFF) {
                pos++; // fill byte
                continue;
            }
            if (marker == 0xDA || marker == 0xD9 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
                break;
            }
            int length = ((jpeg[pos + 2] & 0xFF) << 8) | (jpeg[pos + 3] & 0xFF);
            if (length < 2 || pos + 2 + length > jpeg.length) {
                break;
            }
            if (marker == 0xE2 && isIcc(jpeg, pos + 4, length - 2)) {
                if (out == null) out = new ByteArrayOutputStream(jpeg.length);
                out.write(jpeg, copied, pos - copied);
                copied = pos + 2 + length;
            }
            pos += 2 + length;
        }
        if (out == null) {
            return jpeg;
        }
        out.write(jpeg, copied, jpeg.length - copied);
        return out.toByteArray();
    }

    private static boolean isIcc(byte[] b, int at, int length) {
        if (length < ICC_TAG.length) return false;
        for (int i = 0; i < ICC_TAG.length; i++) {
            if (b[at + i] != ICC_TAG[i]) return false;
        }
        return true;
    }
}
