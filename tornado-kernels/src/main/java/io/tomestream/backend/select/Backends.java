package io.tomestream.backend.select;

import io.tomestream.backend.Backend;
import io.tomestream.backend.BackendProvider;
import io.tomestream.backend.cpu.CpuBackend;

import io.tomestream.merge.Reducer;
import io.tomestream.model.VitModel;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.function.Consumer;

/**
 * Picks a backend. {@code cpu} is always there; {@code tornado} when the engine was built with
 * the TornadoVM profile and runs with an SDK and a device. {@code auto} takes a TornadoVM device that
 * beats the CPU backend, and the CPU backend otherwise, and says in one line which and why.
 */
public final class Backends {
    /** Where the choice of {@code auto} and device failures are reported; stderr unless a test swaps it. */
    public static volatile Consumer<String> log = System.err::println;

    /** Batches a device backend compiles for until {@link Backend#reserve} asks for more. */
    public static final int DEFAULT_MAX_BATCH = 8;

    private Backends() {
    }

    public static Backend create(BackendChoice choice, VitModel model, int threads) {
        return create(choice, model, threads, Reducer.TOME);
    }

    public static Backend create(BackendChoice choice, VitModel model, int threads, Reducer reducer) {
        return create(choice, model, threads, reducer, DEFAULT_MAX_BATCH);
    }

    /** @param maxBatch the largest batch expected; device backends size their buffers for it */
    public static Backend create(BackendChoice choice, VitModel model, int threads, Reducer reducer, int maxBatch) {
        return switch (choice) {
            case CPU -> new CpuBackend(model, threads, reducer);
            case AUTO -> auto(model, threads, reducer, maxBatch);
            case TORNADO -> {
                BackendProvider p = provider(choice);
                if (p == null) throw new IllegalArgumentException("backend 'tornado' is not available: " + tornadoMissing());
                yield onDevice(p, model, threads, reducer, maxBatch);
            }
        };
    }

    private static Backend auto(VitModel model, int threads, Reducer reducer, int maxBatch) {
        BackendProvider p = provider(BackendChoice.TORNADO);
        String why;
        if (model.config().module() != null) {
            why = "the tornado backend has no " + model.config().module();
        } else if (p == null) {
            why = tornadoMissing();
        } else if (p.unavailable() != null) {
            why = p.unavailable();
        } else if (!p.supports(reducer)) {
            why = "the tornado backend has no '" + reducer + "' reducer";
        } else {
            BackendProvider.Choice choice = p.preferredOverCpu();
            if (choice.preferred()) {
                Backend b = onDevice(p, model, threads, reducer, maxBatch);
                log.accept("tomestream: backend auto: " + b.device() + ", because " + choice.why());
                return b;
            }
            why = choice.why();
        }
        Backend cpu = new CpuBackend(model, threads, reducer);
        log.accept("tomestream: backend auto: " + cpu.device() + ", because " + why);
        return cpu;
    }

    /** A device backend that carries on on the CPU if the device fails at run time. */
    private static Backend onDevice(BackendProvider p, VitModel model, int threads, Reducer reducer, int maxBatch) {
        if (model.config().module() != null) {
            throw new IllegalArgumentException("backend '" + p.name() + "' has no " + model.config().module()
                    + ", which this model has; use --backend cpu or auto");
        }
        String why = p.unavailable();
        if (why != null) throw new IllegalArgumentException("backend '" + p.name() + "' is not available: " + why);
        if (!p.supports(reducer)) {
            throw new IllegalArgumentException("backend '" + p.name() + "' supports only the tome reducer, not '" + reducer + "'");
        }
        Backend device = p.create(model, reducer, maxBatch);
        return new FallbackBackend(device, () -> new CpuBackend(model, threads, reducer), log);
    }

    /** Every backend and device this JVM can use, one line each, for {@code tomestream devices}. */
    public static List<String> devices() {
        List<String> lines = new ArrayList<>();
        lines.add("cpu: " + defaultThreads() + " threads, " + jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize()
                + "-bit SIMD (always available)");
        BackendProvider tornado = provider(BackendChoice.TORNADO);
        if (tornado == null) {
            lines.add("tornado: not available: " + tornadoMissing());
        } else {
            String why = tornado.unavailable();
            if (why != null) lines.add("tornado: not available: " + why);
            for (String line : tornado.devices()) if (!line.equals(why)) lines.add(line);
        }
        return lines;
    }

    /** The providers on the class path; empty in the default build. */
    public static List<BackendProvider> providers() {
        List<BackendProvider> found = new ArrayList<>();
        try {
            for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) found.add(p);
        } catch (ServiceConfigurationError | LinkageError e) {
            // a provider whose libraries aren't on the module path: as if it weren't there
        }
        return found;
    }

    static BackendProvider provider(BackendChoice choice) {
        for (BackendProvider p : providers()) if (p.name().equals(choice.label())) return p;
        return null;
    }

    /** Why the TornadoVM backend isn't in this build or this JVM. */
    public static String tornadoMissing() {
        String home = System.getenv("TORNADOVM_HOME");
        if (home == null) home = System.getenv("TORNADO_SDK");
        if (home == null) return "no TornadoVM SDK (set TORNADOVM_HOME to an SDK, e.g. after 'sdk install tornadovm')";
        return "the engine was built without the TornadoVM profile, or the JVM runs without the SDK's tornado-argfile"
                + " (TORNADOVM_HOME=" + home + "; start it through bin/tomestream)";
    }

    public static int defaultThreads() {
        return Runtime.getRuntime().availableProcessors();
    }
}
