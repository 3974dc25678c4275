package io.tomestream.backend.tornado;

import io.tomestream.backend.Backend;
import io.tomestream.backend.BackendProvider;
import io.tomestream.merge.Reducer;
import io.tomestream.model.VitModel;

import java.util.List;

/**
 * The TornadoVM backend as the engine finds it, through {@link java.util.ServiceLoader}. It touches
 * TornadoVM only inside {@link TornadoDevices}, behind catches, so that a JVM started without the
 * SDK's module path gets a reason instead of a {@link NoClassDefFoundError}.
 */
public final class TornadoProvider implements BackendProvider {

    @Override
    public String name() {
        return "tornado";
    }

    @Override
    public String unavailable() {
        try {
            return TornadoDevices.unavailable();
        } catch (LinkageError e) {
            return io.tomestream.backend.select.Backends.tornadoMissing(); // no SDK, or a JVM started without its argfile
        } catch (RuntimeException e) {
            return "TornadoVM failed to start: " + e.getMessage();
        }
    }

    @Override
    public Choice preferredOverCpu() {
        return TornadoDevices.preferredOverCpu();
    }

    @Override
    public List<String> devices() {
        String why = unavailable();
        if (why != null && !why.startsWith("TornadoVM found no device")) return List.of(why);
        return TornadoDevices.list();
    }

    @Override
    public boolean supports(Reducer reducer) {
        return reducer == Reducer.TOME;
    }

    @Override
    public Backend create(VitModel model, Reducer reducer, int maxBatch) {
        if (!supports(reducer)) throw new IllegalArgumentException("the tornado backend supports only the tome reducer");
        return new TornadoBackend(model, TornadoDevices.chosen(), maxBatch);
    }

    /** The device in words: its name, type and driver. */
    static String describe(Object device) {
        return TornadoDevices.describe((uk.ac.manchester.tornado.api.common.TornadoDevice) device);
    }
}
