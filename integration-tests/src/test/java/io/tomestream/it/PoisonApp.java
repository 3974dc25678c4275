package io.tomestream.it;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;

import io.tomestream.classify.Classifier;
import io.tomestream.config.Settings;
import io.tomestream.metrics.PipelineMetrics;
import io.tomestream.topology.ClassificationTopology;
import io.tomestream.topology.Engine;

/**
 * The app's topology, in a process of its own, around the fixture model and a fake engine that fails
 * on any batch holding a marked image (one that ends with {@link #MARK}): {@code throw} throws an
 * IllegalStateException, as a GPU kernel error would; {@code halt} ends the process on the spot with
 * exit code {@link #HALTED}, as a native crash or the kernel's OOM killer would. Args: the settings
 * file and the mode. Runs until SIGTERM.
 */
public final class PoisonApp {
    static final byte[] MARK = "POISON".getBytes(StandardCharsets.US_ASCII);
    static final int HALTED = 134;

    enum Mode { THROW, HALT }

    public static void main(String[] args) throws Exception {
        Settings settings = Settings.load(Path.of(args[0]), Map.of(), Map.of());
        Mode mode = Mode.valueOf(args[1].toUpperCase(java.util.Locale.ROOT));
        Classifier classifier = Classifier.open(settings.modelDir(), Classifier.Options.defaults()
                .withBudget(settings.budget()).withThreads(1).withTopK(settings.topK()));
        Engine real = Engine.of(classifier, "it");
        Engine poisoned = real.withClassifier(images -> {
            if (images.stream().anyMatch(PoisonApp::marked)) {
                System.out.println("[poison-app] a batch of " + images.size() + " holds the marked image: " + mode);
                if (mode == Mode.HALT) Runtime.getRuntime().halt(HALTED);
                throw new IllegalStateException("CUDA error: an illegal memory access was encountered");
            }
            return real.classifier().classify(images);
        });
        KafkaStreams streams = ClassificationTopology.streams(settings, poisoned, PipelineMetrics.discarding());
        CountDownLatch stopped = new CountDownLatch(1);
        streams.setUncaughtExceptionHandler(e -> {
            e.printStackTrace();
            stopped.countDown();
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> streams.close(java.time.Duration.ofSeconds(30))));
        streams.start();
        stopped.await();
        System.exit(1);
    }

    static boolean marked(byte[] image) {
        return image.length >= MARK.length && Arrays.equals(image, image.length - MARK.length, image.length, MARK, 0, MARK.length);
    }

    static byte[] mark(byte[] png) {
        byte[] marked = Arrays.copyOf(png, png.length + MARK.length);
        System.arraycopy(MARK, 0, marked, png.length, MARK.length);
        return marked;
    }

    private PoisonApp() {
    }
}
