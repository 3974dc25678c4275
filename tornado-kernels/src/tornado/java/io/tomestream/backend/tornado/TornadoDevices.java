package io.tomestream.backend.tornado;

import io.tomestream.backend.BackendProvider;
import uk.ac.manchester.tornado.api.TornadoBackend;
import uk.ac.manchester.tornado.api.TornadoRuntime;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.TornadoDeviceType;
import uk.ac.manchester.tornado.api.runtime.TornadoRuntimeProvider;

import java.util.ArrayList;
import java.util.List;

/** The TornadoVM drivers and devices of this machine, and the one the backend runs on. */
final class TornadoDevices {
    private TornadoDevices() {
    }

    static String unavailable() {
        TornadoRuntime rt = TornadoRuntimeProvider.getTornadoRuntime();
        if (rt.getNumBackends() == 0) return "TornadoVM found no driver (is an OpenCL ICD installed?)";
        for (int i = 0; i < rt.getNumBackends(); i++) {
            if (rt.getBackend(i).getNumDevices() > 0) return null;
        }
        return "TornadoVM found no device (clinfo lists the OpenCL devices)";
    }

    /** The runtime's default device: the first device of the first driver, unless -Dtornado.device picks another. */
    static TornadoDevice chosen() {
        return TornadoRuntimeProvider.getTornadoRuntime().getDefaultDevice();
    }

    static BackendProvider.Choice preferredOverCpu() {
        TornadoDevice d = chosen();
        if (d.getDeviceType() == TornadoDeviceType.CPU) {
            return new BackendProvider.Choice(false, "TornadoVM's device " + describe(d)
                    + " is the CPU itself, where the engine's own SIMD backend is faster (use --backend tornado to run on it anyway)");
        }
        return new BackendProvider.Choice(true, "TornadoVM has an accelerator (" + d.getDeviceType().name().toLowerCase() + ")");
    }

    static List<String> list() {
        TornadoRuntime rt = TornadoRuntimeProvider.getTornadoRuntime();
        List<String> lines = new ArrayList<>();
        TornadoDevice def = chosen();
        for (int i = 0; i < rt.getNumBackends(); i++) {
            TornadoBackend backend = rt.getBackend(i);
            lines.add("tornado driver " + i + ": " + backend.getName() + ", " + backend.getNumDevices() + " device(s)");
            for (int j = 0; j < backend.getNumDevices(); j++) {
                TornadoDevice d = backend.getDevice(j);
                boolean isDefault = i == 0 && d.getDeviceName().equals(def.getDeviceName());
                lines.add("  device " + i + ":" + j + ": " + describe(d) + ", " + (d.getMaxGlobalMemory() >> 20) + " MiB"
                        + (isDefault ? " (default; -Dtornado.device=" + i + ":" + j + " picks a device)" : ""));
            }
        }
        return lines;
    }

    static String describe(TornadoDevice d) {
        return d.getPhysicalDevice().getDeviceName().strip() + " (" + d.getDeviceType().name().toLowerCase() + ", "
                + d.getTornadoVMBackend().name().toLowerCase() + ")";
    }
}
