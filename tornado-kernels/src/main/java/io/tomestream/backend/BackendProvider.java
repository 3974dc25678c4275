package io.tomestream.backend;

import io.tomestream.merge.Reducer;
import io.tomestream.model.VitModel;

import java.util.List;

/**
 * A backend that lives outside the engine's default build, found through {@link java.util.ServiceLoader}
 * so that the engine needs none of its libraries to compile or run. The TornadoVM backend is one.
 */
public interface BackendProvider {

    /** The name {@code --backend} takes: the label of its {@code BackendChoice}. */
    String name();

    /** Why this backend can't run here, or null when it can. Cheap enough to call at start-up. */
    String unavailable();

    /**
     * Whether it beats the CPU backend on this machine, and why, for {@code --backend auto}: an
     * OpenCL device that is itself the CPU usually doesn't.
     */
    Choice preferredOverCpu();

    record Choice(boolean preferred, String why) {
    }

    /** The drivers and devices it sees, one line each, for {@code tomestream devices}. */
    List<String> devices();

    /**
     * @param reducer the token reducer; a provider that doesn't support it throws
     *                {@link IllegalArgumentException} with a one-line reason
     */
    Backend create(VitModel model, Reducer reducer, int maxBatch);

    /** Whether it supports this token reducer. */
    boolean supports(Reducer reducer);
}
