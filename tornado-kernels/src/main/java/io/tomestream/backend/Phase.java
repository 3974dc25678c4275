package io.tomestream.backend;

/** The parts of a forward pass that {@link ForwardResult#phaseNanos} times separately. */
public enum Phase {
    PATCH_EMBED, LAYER_NORM, QKV, ATTENTION, PROJ, MATCH_AND_MERGE, MLP, HEAD;

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ');
    }
}
