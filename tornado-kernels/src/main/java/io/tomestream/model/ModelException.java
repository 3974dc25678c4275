package io.tomestream.model;

/** A model folder that can't be used. The message is one line that names the cause. */
public final class ModelException extends Exception {
    public ModelException(String message) {
        super(message);
    }

    public ModelException(String message, Throwable cause) {
        super(message, cause);
    }
}
