package io.tomestream.backend.select;

import io.tomestream.backend.Backend;
import io.tomestream.backend.ForwardResult;
import io.tomestream.backend.cpu.CpuBackend;

import io.tomestream.Fixtures;
import io.tomestream.model.VitModel;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A device that fails mid-stream: the batch is re-run on the CPU, the failure logged once, the device closed. */
class FallbackBackendTest {

    /** Works for {@code good} batches, then fails like a lost device. */
    private static class FlakyDevice implements Backend {
        int good, calls;
        boolean closed;

        FlakyDevice(int good) {
            this.good = good;
        }

        @Override
        public String name() {
            return "flaky";
        }

        @Override
        public String device() {
            return "a flaky device";
        }

        @Override
        public void forward(float[] pixels, int batch, int[] rPerLayer, ForwardResult out) {
            if (calls++ >= good) throw new IllegalStateException("device lost\nwith a second line");
            out.prepare(batch, 10, rPerLayer.length, 1);
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    @Test
    void failedBatchRunsOnCpuAndLaterOnesStayThere() throws Exception {
        VitModel model = VitModel.load(Fixtures.model("vit-tiny-rand"));
        int len = 3 * 32 * 32, batch = 2;
        float[] px = new float[batch * len];
        for (int i = 0; i < px.length; i++) px[i] = (i % 17) / 17f - 0.5f;
        int[] r = {8, 8, 8, 8};
        ForwardResult want = new ForwardResult();
        try (CpuBackend cpu = new CpuBackend(model, 1)) {
            cpu.forward(px, batch, r, want);
        }

        List<String> log = new ArrayList<>();
        FlakyDevice device = new FlakyDevice(1);
        try (FallbackBackend b = new FallbackBackend(device, () -> new CpuBackend(model, 1), log::add)) {
            ForwardResult out = new ForwardResult();
            b.forward(px, batch, r, out);
            assertFalse(b.fellBack());
            b.forward(px, batch, r, out); // the device fails on this one
            assertTrue(b.fellBack());
            assertEquals("cpu", b.name());
            assertArrayEquals(want.logits, out.logits, "the failed batch, re-run on the CPU");
            assertArrayEquals(want.sources, out.sources);
            b.forward(px, batch, r, out);
            assertEquals(2, device.calls, "the device isn't tried again");
            assertTrue(device.closed);
            assertEquals(1, log.size(), "logged once: " + log);
            assertTrue(log.getFirst().contains("device lost") && !log.getFirst().contains("second line"), log.getFirst());
        }
    }

    @Test
    void argumentErrorsAreTheCallersNotTheDevices() throws Exception {
        VitModel model = VitModel.load(Fixtures.model("vit-tiny-rand"));
        Backend bad = new FlakyDevice(0) {
            @Override
            public void forward(float[] pixels, int batch, int[] rPerLayer, ForwardResult out) {
                throw new IllegalArgumentException("need one r per block");
            }
        };
        try (FallbackBackend b = new FallbackBackend(bad, () -> new CpuBackend(model, 1), s -> { })) {
            assertThrows(IllegalArgumentException.class, () -> b.forward(new float[0], 1, new int[0], new ForwardResult()));
            assertFalse(b.fellBack());
        }
    }

    @Test
    void tornadoWithoutItsProfileOrSdkIsAOneLineUsageError() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(
                Backends.providers().stream().noneMatch(p -> p.name().equals("tornado") && p.unavailable() == null),
                "a TornadoVM device is there (the tornadovm profile's run)");
        VitModel model = VitModel.load(Fixtures.model("vit-tiny-rand"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.create(BackendChoice.TORNADO, model, 1));
        assertTrue(e.getMessage().startsWith("backend 'tornado' is not available: "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }
}
