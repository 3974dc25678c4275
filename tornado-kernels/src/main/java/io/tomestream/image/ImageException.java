package io.tomestream.image;

/** An image that cannot become a model input. The message is a one-line cause fit for a reply to the sender. */
public final class ImageException extends Exception {
    private static final long serialVersionUID = 1L;

    public enum Reason {
        /** Empty, truncated or corrupt data in a supported format. */
        UNDECODABLE_IMAGE,
        /** The header announces more pixels than {@link ImageDecoder#MAX_PIXELS} or a side over {@link ImageDecoder#MAX_SIDE}. */
        IMAGE_TOO_LARGE,
        /** Not PNG, JPEG, BMP or GIF, or a colour layout within one of them that is not handled. */
        UNSUPPORTED_FORMAT
    }

    private final Reason reason;

    public ImageException(Reason reason, String message) {
        this(reason, message, null);
    }

    public ImageException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
