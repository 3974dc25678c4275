package io.tomestream.classify;

import io.tomestream.Fixtures;
import io.tomestream.image.ImageException;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The engine's public entry point, from encoded bytes to predictions, as the topology calls it. */
class ClassifierTest {
    private static final String MODEL = "vit-tiny-rand";

    private static List<byte[]> images() {
        List<byte[]> out = new ArrayList<>();
        for (Object name : (List<?>) Fixtures.expected(MODEL).get("images")) out.add(Fixtures.bytes("images/" + name));
        return out;
    }

    private static Map<?, ?> expectedCase(String tome) {
        for (Object o : (List<?>) Fixtures.expected(MODEL).get("cases")) {
            if (((Map<?, ?>) o).get("tome").equals(tome)) return (Map<?, ?>) o;
        }
        throw new AssertionError("no case " + tome);
    }

    @Test
    void encodedImagesGiveTheReferenceResults() throws Exception {
        Map<?, ?> expected = expectedCase("8:-1");
        try (Classifier c = Classifier.open(Fixtures.model(MODEL), Classifier.Options.defaults().withBudget("8:-1").withThreads(2).withTopK(3))) {
            List<Outcome> outcomes = c.classify(images());
            for (int i = 0; i < outcomes.size(); i++) {
                Prediction p = assertInstanceOf(Outcome.Classified.class, outcomes.get(i)).prediction();
                float[] want = Fixtures.floats(((List<?>) expected.get("logits")).get(i));
                for (int k = 0; k < want.length; k++) assertEquals(want[k], p.logits()[k], 1e-4f * Math.max(1, Math.abs(want[k])));
                assertArrayEquals(Fixtures.ints(((List<?>) expected.get("tokens")).get(i)), p.tokens());
                assertEquals(3, p.top().size());
                int argmax = 0;
                for (int k = 1; k < want.length; k++) if (want[k] > want[argmax]) argmax = k;
                assertEquals(argmax, p.best().index());
                assertEquals(c.config().label(argmax), p.best().label());
                assertTrue(p.top().get(0).score() >= p.top().get(1).score());
            }
        }
    }

    @Test
    void badImagesAreRejectedAloneAndTheRestOfTheBatchIsUntouched() throws Exception {
        List<byte[]> good = images();
        byte[] truncated = Arrays.copyOf(good.get(0), good.get(0).length / 2);
        List<byte[]> mixed = List.of(new byte[0], good.get(1), "not an image".getBytes(), good.get(2), truncated,
                hugePngHeader(20000, 20000), good.get(3));
        try (Classifier c = Classifier.open(Fixtures.model(MODEL), Classifier.Options.defaults().withBudget("8").withThreads(2))) {
            List<Outcome> alone = c.classify(List.of(good.get(1), good.get(2), good.get(3)));
            List<Outcome> outcomes = c.classify(mixed);
            assertEquals(mixed.size(), outcomes.size());
            assertReason(ImageException.Reason.UNDECODABLE_IMAGE, outcomes.get(0));
            assertReason(ImageException.Reason.UNSUPPORTED_FORMAT, outcomes.get(2));
            assertReason(ImageException.Reason.UNDECODABLE_IMAGE, outcomes.get(4));
            assertReason(ImageException.Reason.IMAGE_TOO_LARGE, outcomes.get(5));
            int[] goodSlots = {1, 3, 6};
            for (int i = 0; i < goodSlots.length; i++) {
                Prediction batched = assertInstanceOf(Outcome.Classified.class, outcomes.get(goodSlots[i])).prediction();
                Prediction single = assertInstanceOf(Outcome.Classified.class, alone.get(i)).prediction();
                assertArrayEquals(single.logits(), batched.logits(), 1e-5f);
            }
        }
    }

    @Test
    void concurrentCallersGetTheirOwnResults() throws Exception {
        List<byte[]> good = images();
        try (Classifier c = Classifier.open(Fixtures.model(MODEL), Classifier.Options.defaults().withBudget("2,6,10,4").withThreads(2));
             ExecutorService pool = Executors.newFixedThreadPool(4)) {
            List<Future<float[]>> futures = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                int image = t % good.size();
                futures.add(pool.submit(() -> ((Outcome.Classified) c.classify(List.of(good.get(image))).getFirst()).prediction().logits()));
            }
            for (int t = 0; t < futures.size(); t++) {
                float[] want = ((Outcome.Classified) c.classify(List.of(good.get(t % good.size()))).getFirst()).prediction().logits();
                assertArrayEquals(want, futures.get(t).get());
            }
        }
    }

    private static void assertReason(ImageException.Reason reason, Outcome outcome) {
        Outcome.Rejected r = assertInstanceOf(Outcome.Rejected.class, outcome);
        assertEquals(reason, r.error().reason(), r.error().getMessage());
        assertTrue(!r.error().getMessage().isBlank() && !r.error().getMessage().contains("\n"));
    }

    /** A PNG signature and IHDR that claim a huge image, with no pixel data behind them. */
    static byte[] hugePngHeader(int width, int height) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteBuffer ihdr = ByteBuffer.allocate(17);
        ihdr.put("IHDR".getBytes()).putInt(width).putInt(height).put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        CRC32 crc = new CRC32();
        crc.update(ihdr.array());
        out.writeBytes(ByteBuffer.allocate(4).putInt(13).array());
        out.writeBytes(ihdr.array());
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
        return out.toByteArray();
    }
}
