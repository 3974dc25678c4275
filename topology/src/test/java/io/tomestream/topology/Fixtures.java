package io.tomestream.topology;

import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.api.MockProcessorContext;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

import io.tomestream.classify.Classifier;
import io.tomestream.config.Settings;
import io.tomestream.model.ModelException;
import io.tomestream.schema.ImageEvent;
import io.tomestream.schema.SingleObjectSerde;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;

/** The engine's test model and images, and ImageEvents made from them. */
final class Fixtures {
    static final Path FIXTURES = Path.of("..", "tornado-kernels", "src", "test", "resources", "fixtures");
    static final String MODEL = FIXTURES.resolve("vit-tiny-rand").toString();
    static final Instant EVENT_TIME = Instant.parse("2026-01-02T03:04:05.678Z");
    static final SingleObjectSerde<ImageEvent> EVENTS = SingleObjectSerde.imageEvents();

    private Fixtures() {
    }

    static Classifier classifier(String tome) {
        try {
            return Classifier.open(MODEL, Classifier.Options.defaults().withBudget(tome).withThreads(1).withTopK(3));
        } catch (ModelException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] image(int i) {
        try {
            return Files.readAllBytes(FIXTURES.resolve("images/img" + i + ".png"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code png} with its IHDR rewritten to claim {@code width} x {@code height}: a decompression bomb's header. */
    static byte[] claimingSize(byte[] png, int width, int height) {
        byte[] out = png.clone();
        ByteBuffer.wrap(out, 16, 8).putInt(width).putInt(height);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(out, 12, 17); // "IHDR" and its 13 bytes
        ByteBuffer.wrap(out, 29, 4).putInt((int) crc.getValue());
        return out;
    }

    static ImageEvent event(String id, byte[] image) {
        return ImageEvent.newBuilder()
                .setEventId(id)
                .setEventTime(EVENT_TIME)
                .setSource("camera-1")
                .setContentType("image/png")
                .setImage(ByteBuffer.wrap(image))
                .setAttributes(Map.of())
                .build();
    }

    static byte[] encoded(String id, byte[] image) {
        return EVENTS.encode(event(id, image));
    }

    /** Settings for TopologyTestDriver: the test model, a state dir of the test's own, and the given overrides. */
    static Settings settings(Path stateDir, String... overrides) {
        Map<String, String> m = new HashMap<>();
        m.put(Settings.MODEL_DIR, MODEL);
        m.put(Settings.BUDGET_ALIAS, "8");
        m.put(Settings.METRICS_PORT, "0");
        m.put("bootstrap.servers", "localhost:9092");
        m.put("state.dir", stateDir.toString());
        for (int i = 0; i < overrides.length; i += 2) m.put(overrides[i], overrides[i + 1]);
        return Settings.of(m);
    }

    /** A processor context for the classify processor, with the clock set. */
    static MockProcessorContext<byte[], SpecificRecord> context(Settings settings) {
        MockProcessorContext<byte[], SpecificRecord> context = new MockProcessorContext<>(settings.kafkaProperties());
        context.setCurrentSystemTimeMs(1_000_000);
        return context;
    }

    /** The batch buffer, in memory and unlogged, added to {@code context}. */
    static KeyValueStore<Bytes, byte[]> bufferStore(
            MockProcessorContext<byte[], SpecificRecord> context) {
        KeyValueStore<Bytes, byte[]> store = Stores.keyValueStoreBuilder(
                        Stores.inMemoryKeyValueStore(ClassificationTopology.BUFFER_STORE),
                        Serdes.Bytes(), Serdes.ByteArray())
                .withLoggingDisabled().build();
        store.init(context.getStateStoreContext(), store);
        context.addStateStore(store);
        return store;
    }
}
