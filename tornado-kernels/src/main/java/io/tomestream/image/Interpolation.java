package io.tomestream.image;

import java.util.Locale;

/** The resampling filters that timm's pretrained configs name, with PIL's semantics. */
public enum Interpolation {
    NEAREST,
    BILINEAR,
    BICUBIC;

    /**
     * Reads the {@code interpolation} value of a timm {@code pretrained_cfg}.
     *
     * @throws IllegalArgumentException for names PIL knows but this package does not implement
     *     (lanczos, box, hamming) and for anything else
     */
    public static Interpolation parse(String timmName) {
        if (timmName == null) {
            throw new IllegalArgumentException("interpolation is missing; expected bicubic, bilinear or nearest");
        }
        return switch (timmName.trim().toLowerCase(Locale.ROOT)) {
            case "bicubic" -> BICUBIC;
            case "bilinear" -> BILINEAR;
            case "nearest" -> NEAREST;
            default -> throw new IllegalArgumentException(
                    "unsupported interpolation '" + timmName + "'; expected bicubic, bilinear or nearest");
        };
    }
}
