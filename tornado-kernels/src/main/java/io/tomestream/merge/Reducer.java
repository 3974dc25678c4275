package io.tomestream.merge;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** The training-free token reducers, by the names the command line and the settings take. */
public enum Reducer {
    /** ToMe: bipartite soft matching on the attention keys, size-weighted merges. */
    TOME,
    /** EViT-style pruning: keeps the tokens the class token attends to most. */
    PRUNE,
    /** Token Pooling: clusters tokens on their features. */
    POOL;

    /**
     * A new reducer with its own scratch buffers. A switch, not a constructor argument: the names must
     * load without the reducers' classes, which need the Vector API module (tools that only read
     * settings, such as send-images, run without it).
     */
    public TokenReducer create() {
        return switch (this) {
            case TOME -> new BipartiteMatching();
            case PRUNE -> new AttentivePruning();
            case POOL -> new TokenPooling();
        };
    }

    /** The name users type: {@code tome}, {@code prune} or {@code pool}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    @Override
    public String toString() {
        return label();
    }

    public static List<String> labels() {
        return Arrays.stream(values()).map(Reducer::label).toList();
    }

    /** The reducer a user named, or an error that lists the names. */
    public static Reducer of(String label) {
        String l = label == null ? "" : label.strip().toLowerCase(Locale.ROOT);
        for (Reducer r : values()) if (r.label().equals(l)) return r;
        throw new IllegalArgumentException("unknown reducer '" + label + "' (available: " + String.join(", ", labels()) + ")");
    }
}
