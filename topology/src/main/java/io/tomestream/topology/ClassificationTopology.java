package io.tomestream.topology;

import io.tomestream.config.Settings;
import io.tomestream.metrics.PipelineMetrics;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyConfig;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

import java.util.Map;

/**
 * The whole streaming application:
 *
 * <pre>
 *   topic.input (bytes) ──► classify ──► topic.output  Classification, same key
 *                              │    └──► topic.dlq     DeadLetter, same key, reason headers
 *                        classify-buffer (persistent, changelogged)
 * </pre>
 *
 * The source reads raw bytes, so a value that isn't an ImageEvent never fails the stream: the
 * classify processor decodes it with the configured value serde and dead-letters what doesn't
 * decode. See {@link MicroBatchProcessor} for the batching.
 */
public final class ClassificationTopology {
    public static final String SOURCE = "image-events";
    public static final String PROCESSOR = "classify";
    public static final String CLASSIFIED_SINK = "classifications";
    public static final String DEAD_LETTER_SINK = "dead-letters";
    /** Its changelog topic is {@code <application.id>-classify-buffer-changelog}. */
    public static final String BUFFER_STORE = "classify-buffer";

    private ClassificationTopology() {
    }

    /**
     * The application's Kafka Streams, not started: its outputs are also counted as they commit
     * ({@link CommittedCounts}), and its buffer stores share a bounded memory budget ({@link BufferStoreMemory}).
     */
    public static KafkaStreams streams(Settings settings, Engine engine, PipelineMetrics metrics) {
        java.util.Properties properties = settings.kafkaProperties();
        properties.putIfAbsent(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, BufferStoreMemory.class.getName());
        return new KafkaStreams(build(settings, engine, metrics), properties,
                new CommittedCounts(settings.topicOutput(), settings.topicDlq(), metrics));
    }

    public static Topology build(Settings settings, Engine engine, PipelineMetrics metrics) {
        Deserializer<SpecificRecord> values = ValueSerdes.create(settings.valueSerde(), settings.serdeConfigs()).deserializer();
        // Keyed by partition and offset, so a flush reads the batch back in arrival order. The changelog
        // makes the buffer survive a crash or a move to another instance. With the cache, a record
        // buffered and flushed between two commits leaves only a small tombstone in the changelog, not
        // its image; what is still buffered at a commit is written then, in the same transaction as
        // the consumed offsets.
        StoreBuilder<KeyValueStore<Bytes, byte[]>> buffer = Stores.keyValueStoreBuilder(
                        Stores.persistentKeyValueStore(BUFFER_STORE), Serdes.Bytes(), Serdes.ByteArray())
                .withLoggingEnabled(Map.of())
                .withCachingEnabled();

        // Built with the app's settings, so topology-level ones (e.g. processing.exception.handler.*) apply.
        Topology topology = new Topology(new TopologyConfig(new StreamsConfig(settings.kafkaProperties())));
        topology.addSource(SOURCE, new ByteArrayDeserializer(), new ByteArrayDeserializer(), settings.topicInput());
        topology.addProcessor(PROCESSOR, () -> new MicroBatchProcessor(engine, settings.topicInput(), values, metrics,
                settings.batchSize(), settings.batchMaxWaitMs(), settings.imageMaxBytes(), settings.registryRetryMaxMs()), SOURCE);
        topology.addStateStore(buffer, PROCESSOR);
        topology.addSink(CLASSIFIED_SINK, settings.topicOutput(), new ByteArraySerializer(),
                ValueSerdes.create(settings.valueSerde(), settings.serdeConfigs()).serializer(), PROCESSOR);
        topology.addSink(DEAD_LETTER_SINK, settings.topicDlq(), new ByteArraySerializer(),
                ValueSerdes.create(settings.valueSerde(), settings.serdeConfigs()).serializer(), PROCESSOR);
        return topology;
    }
}
