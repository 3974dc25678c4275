package io.tomestream.streambench;

import com.fasterxml.jackson.annotation.JsonValue;

import java.util.Arrays;
import java.util.List;

/** What bench-stream sends. */
public enum EventKind {
    /** Debian's photographs, re-encoded as 1280×720 and 1920×1080 JPEGs: what users' cameras send. */
    CAMERA("camera", "camera JPEGs"),
    /** The Fashion-MNIST test set as PNGs, labelled, so that each rate also has an accuracy. */
    FASHION_MNIST("fashion-mnist", "Fashion-MNIST PNGs");

    private final String label, description;

    EventKind(String label, String description) {
        this.label = label;
        this.description = description;
    }

    /** The name {@code --events} takes and the JSON line carries. */
    @JsonValue
    public String label() {
        return label;
    }

    public String description() {
        return description;
    }

    @Override
    public String toString() {
        return label;
    }

    public static List<String> labels() {
        return Arrays.stream(values()).map(EventKind::label).toList();
    }

    public static EventKind of(String label) {
        for (EventKind k : values()) if (k.label.equals(label == null ? "" : label.strip())) return k;
        throw new IllegalArgumentException("--events must be " + String.join(" or ", labels()) + ", got '" + label + "'");
    }
}
