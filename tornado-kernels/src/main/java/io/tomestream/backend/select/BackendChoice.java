package io.tomestream.backend.select;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** Where the forward pass runs, as {@code --backend} and the {@code backend} setting name it. */
public enum BackendChoice {
    /** A TornadoVM device that beats the CPU backend on this machine, else the CPU; the log says which and why. */
    AUTO,
    /** The pure-Java backend: multi-threaded, SIMD through the Vector API. Always there. */
    CPU,
    /** TornadoVM (OpenCL or PTX), when the engine was built with its profile and runs with an SDK and a device. */
    TORNADO;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    @Override
    public String toString() {
        return label();
    }

    public static List<String> labels() {
        return Arrays.stream(values()).map(BackendChoice::label).toList();
    }

    /** The backend a user named, or an error that lists the names. */
    public static BackendChoice of(String label) {
        String l = label == null ? "" : label.strip().toLowerCase(Locale.ROOT);
        for (BackendChoice b : values()) if (b.label().equals(l)) return b;
        throw new IllegalArgumentException("unknown backend '" + label + "' (available: " + String.join(", ", labels()) + ")");
    }
}
