package io.tomestream.topology;

import static io.tomestream.topology.Fixtures.encoded;
import static io.tomestream.topology.Fixtures.image;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ConnectException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.streams.processor.api.MockProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tomestream.classify.Classifier;
import io.tomestream.metrics.PipelineMetrics;
import io.tomestream.schema.DeadLetter;
import io.tomestream.schema.DeadLetterReason;

/**
 * A value serde that fails because the registry can't be reached is an outage, not a bad record: the
 * record waits (the app not ready meanwhile) and is classified once the registry answers, and no dead
 * letter is written. A serde failure about the record itself still dead-letters it at once. An outage
 * longer than registry.retry.max.ms ends the stream thread instead of dead-lettering.
 */
class RegistryOutageTest {
    private static Classifier classifier;
    private static Engine engine;
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final PipelineMetrics metrics = new PipelineMetrics(registry);

    @TempDir
    Path stateDir;

    @BeforeAll
    static void openModel() {
        classifier = Fixtures.classifier("8");
        engine = Engine.of(classifier, "test-1");
    }

    @AfterAll
    static void closeModel() {
        classifier.close();
    }

    private static RuntimeException registryDown() {
        // What Apicurio's serde 3.1.7 throws with the registry's port closed (measured).
        return new RuntimeException(new RuntimeException(new ExecutionException(new ConnectException("Connection refused"))));
    }

    @Test
    void aRecordWaitsOutARegistryOutageAndIsClassifiedNotDeadLettered() {
        Deserializer<SpecificRecord> real = new SingleObjectAvroSerde().deserializer();
        AtomicInteger calls = new AtomicInteger();
        List<String> duringOutage = new ArrayList<>();
        Deserializer<SpecificRecord> flaky = (topic, bytes) -> {
            if (calls.incrementAndGet() <= 3) {
                if (calls.get() > 1) duringOutage.add(metrics.outage());
                throw registryDown();
            }
            return real.deserialize(topic, bytes);
        };
        MockProcessorContext<byte[], SpecificRecord> context = context();
        MicroBatchProcessor processor = new MicroBatchProcessor(engine, "image-events", flaky, metrics, 1, 60_000, 1 << 20, 60_000);
        processor.init(context);
        context.setRecordMetadata("image-events", 0, 7);
        processor.process(new Record<>(null, encoded("e0", image(0)), 1000L));

        assertTrue(context.forwarded(ClassificationTopology.DEAD_LETTER_SINK).isEmpty(), "no dead letter");
        assertEquals(1, context.forwarded(ClassificationTopology.CLASSIFIED_SINK).size(), "classified once the registry answered");
        assertEquals(3.0, registry.get("tomestream.transient.retries").tag("cause", "registry").counter().count());
        assertEquals(2, duringOutage.size());
        for (String why : duringOutage) assertNotNull(why, "not ready while retrying");
        assertTrue(duringOutage.getFirst().contains("Connection refused"), duringOutage.getFirst());
        assertNull(metrics.outage(), "ready again after");
        assertEquals(0.0, registry.get("tomestream.outage").gauge().value());
    }

    @Test
    void aSerdeFailureAboutTheRecordIsDeadLetteredAtOnce() {
        Deserializer<SpecificRecord> notFound = (topic, bytes) -> {
            throw new RuntimeException("No content with id 987654 was found");
        };
        MockProcessorContext<byte[], SpecificRecord> context = context();
        MicroBatchProcessor processor = new MicroBatchProcessor(engine, "image-events", notFound, metrics, 1, 60_000, 1 << 20, 60_000);
        processor.init(context);
        context.setRecordMetadata("image-events", 0, 8);
        processor.process(new Record<>(null, new byte[] {0, 0, 15, 18, 6}, 1000L));
        var dead = context.forwarded(ClassificationTopology.DEAD_LETTER_SINK);
        assertEquals(1, dead.size());
        assertEquals(DeadLetterReason.SCHEMA_ERROR, ((DeadLetter) dead.getFirst().record().value()).getReason());
        assertEquals(0, registry.find("tomestream.transient.retries").counters().size(), "no retry");
    }

    @Test
    void anOutageLongerThanTheRetryLimitEndsTheThreadInsteadOfDeadLettering() {
        Deserializer<SpecificRecord> down = (topic, bytes) -> {
            throw registryDown();
        };
        MockProcessorContext<byte[], SpecificRecord> context = context();
        MicroBatchProcessor processor = new MicroBatchProcessor(engine, "image-events", down, metrics, 1, 60_000, 1 << 20, 300);
        processor.init(context);
        context.setRecordMetadata("image-events", 0, 9);
        var e = assertThrows(EventDecoder.RegistryUnreachable.class,
                () -> processor.process(new Record<>(null, encoded("e0", image(0)), 1000L)));
        assertTrue(e.getMessage().contains("registry.retry.max.ms 300"), e.getMessage());
        assertTrue(context.forwarded().isEmpty(), "nothing forwarded: the record stays unconsumed");
    }

    private MockProcessorContext<byte[], SpecificRecord> context() {
        MockProcessorContext<byte[], SpecificRecord> context = Fixtures.context(Fixtures.settings(stateDir));
        Fixtures.bufferStore(context);
        return context;
    }
}
