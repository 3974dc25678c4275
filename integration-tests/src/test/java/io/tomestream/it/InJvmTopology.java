package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.streams.KafkaStreams;

import io.tomestream.classify.Classifier;
import io.tomestream.config.Settings;
import io.tomestream.metrics.PipelineMetrics;
import io.tomestream.model.ModelException;
import io.tomestream.topology.ClassificationTopology;
import io.tomestream.topology.Engine;

/** The topology run in this JVM, as {@code bin/tomestream run} builds it: started, and RUNNING when this returns. */
final class InJvmTopology implements AutoCloseable {
    private final Classifier classifier;
    final KafkaStreams streams;

    private InJvmTopology(Classifier classifier, KafkaStreams streams) {
        this.classifier = classifier;
        this.streams = streams;
    }

    static InJvmTopology start(Settings settings) throws ModelException, InterruptedException {
        Classifier classifier = Classifier.open(settings.modelDir(), Classifier.Options.defaults()
                .withBudget(settings.budget()).withThreads(1).withTopK(settings.topK()));
        KafkaStreams streams = ClassificationTopology.streams(settings, Engine.of(classifier, "it"), PipelineMetrics.discarding());
        CountDownLatch running = new CountDownLatch(1);
        streams.setStateListener((now, before) -> {
            if (now == KafkaStreams.State.RUNNING) running.countDown();
        });
        InJvmTopology topology = new InJvmTopology(classifier, streams);
        streams.start();
        if (!running.await(60, TimeUnit.SECONDS)) {
            topology.close();
            assertTrue(false, "Kafka Streams RUNNING within 60 s");
        }
        return topology;
    }

    @Override
    public void close() {
        streams.close(Duration.ofSeconds(30));
        classifier.close();
    }
}
