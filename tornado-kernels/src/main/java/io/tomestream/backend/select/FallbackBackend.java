package io.tomestream.backend.select;

import io.tomestream.backend.Backend;
import io.tomestream.backend.ForwardResult;
import io.tomestream.backend.MergeTrace;

import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A device backend that hands over to the CPU backend for good when the device fails (a kernel that
 * doesn't compile, device memory running out, a lost device): the failure is logged once and the
 * batch that failed is run again on the CPU, so no caller ever sees the failure and no event is lost.
 */
public final class FallbackBackend implements Backend {
    private final Backend device;
    private final Supplier<Backend> cpu;
    private final Consumer<String> log;
    private Backend current;
    private MergeTrace trace;
    private int reserved;

    public FallbackBackend(Backend device, Supplier<Backend> cpu, Consumer<String> log) {
        this.device = device;
        this.cpu = cpu;
        this.log = log;
        this.current = device;
    }

    @Override
    public String name() {
        return current.name();
    }

    @Override
    public String device() {
        return current.device();
    }

    @Override
    public String reducer() {
        return current.reducer();
    }

    /** Whether the device failed and the CPU runs the batches now. */
    public boolean fellBack() {
        return current != device;
    }

    @Override
    public void reserve(int maxBatch) {
        reserved = Math.max(reserved, maxBatch);
        try {
            current.reserve(maxBatch);
        } catch (RuntimeException | LinkageError | OutOfMemoryError e) {
            if (current != device) throw e;
            fallBack(e);
            current.reserve(maxBatch);
        }
    }

    @Override
    public void forward(float[] pixels, int batch, int[] rPerLayer, ForwardResult out) {
        if (current == device) {
            try {
                device.forward(pixels, batch, rPerLayer, out);
                return;
            } catch (IllegalArgumentException e) {
                throw e; // the caller's mistake, the same on any backend
            } catch (RuntimeException | LinkageError | OutOfMemoryError e) {
                fallBack(e);
            }
        }
        current.forward(pixels, batch, rPerLayer, out);
    }

    private void fallBack(Throwable e) {
        String was = device.device();
        current = cpu.get();
        if (trace != null) current.trace(trace);
        if (reserved > 0) current.reserve(reserved);
        log.accept("tomestream: the " + device.name() + " backend failed on " + was + " (" + oneLine(e)
                + "); running on the CPU backend from now on");
        try {
            device.close();
        } catch (RuntimeException | LinkageError ignored) {
            // the device is already broken; what matters is that the CPU backend runs
        }
    }

    static String oneLine(Throwable e) {
        String m = e.getMessage();
        String text = e.getClass().getSimpleName() + (m == null || m.isBlank() ? "" : ": " + m.strip());
        int nl = text.indexOf('\n');
        return nl < 0 ? text : text.substring(0, nl);
    }

    @Override
    public void trace(MergeTrace trace) {
        this.trace = trace;
        current.trace(trace);
    }

    @Override
    public void close() {
        current.close(); // a failed device was closed when it failed
    }
}
