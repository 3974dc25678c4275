package io.tomestream.backend;

import io.tomestream.model.VitModel;

/** Picks a backend by name. {@code auto} takes the best one available on this machine. */
public final class Backends {
    private Backends() {
    }

    public static Backend create(String name, VitModel model, int threads) {
        return create(name, model, threads, "tome");
    }

    /** @param reducer the token reducer, one of {@link io.tomestream.merge.TokenReducer#NAMES} */
    public static Backend create(String name, VitModel model, int threads, String reducer) {
        return switch (name) {
            case "cpu", "auto" -> new CpuBackend(model, threads, reducer);
            default -> throw new IllegalArgumentException("unknown backend '" + name + "' (available: auto, cpu)");
        };
    }

    public static int defaultThreads() {
        return Runtime.getRuntime().availableProcessors();
    }
}
