package io.tomestream.model;

import java.util.Arrays;
import java.util.Locale;

/** How the classifier head sees the image: timm's {@code global_pool}. */
public enum GlobalPool {
    /** The class token's final state. */
    TOKEN,
    /** The mean of the patch tokens (the class and distillation tokens left out). */
    AVG;

    /** The name in {@code config.json}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The value of {@code global_pool}, or a clear error naming the ones supported. */
    static GlobalPool of(String label) throws ModelException {
        for (GlobalPool p : values()) if (p.label().equals(label)) return p;
        throw new ModelException("global_pool '" + label + "' is not supported (use "
                + String.join(" or ", Arrays.stream(values()).map(p -> "'" + p.label() + "'").toList()) + ")");
    }
}
