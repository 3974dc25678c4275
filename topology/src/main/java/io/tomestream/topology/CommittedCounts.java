package io.tomestream.topology;

import io.tomestream.metrics.PipelineMetrics;
import io.tomestream.schema.DeadLetterReason;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.metrics.KafkaMetric;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.KafkaClientSupplier;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;

/**
 * Counts what the output topics hold as a {@code read_committed} consumer sees them: Kafka Streams'
 * clients, with each producer wrapped so that its classifications and dead letters are counted when
 * the transaction that holds them commits, and dropped when it aborts (a crash, a fenced producer, a
 * rebalance mid-batch). Without transactions ({@code at_least_once}) a record counts once the broker
 * acknowledges it. Kafka Streams has no commit callback; its producer is the one place a commit is seen.
 */
public final class CommittedCounts implements KafkaClientSupplier {
    private final String outputTopic;
    private final String dlqTopic;
    private final PipelineMetrics metrics;

    public CommittedCounts(String outputTopic, String dlqTopic, PipelineMetrics metrics) {
        this.outputTopic = outputTopic;
        this.dlqTopic = dlqTopic;
        this.metrics = metrics;
    }

    @Override
    public Admin getAdmin(Map<String, Object> config) {
        return Admin.create(config);
    }

    @Override
    public Producer<byte[], byte[]> getProducer(Map<String, Object> config) {
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer());
        return counting(producer, config.get(ProducerConfig.TRANSACTIONAL_ID_CONFIG) != null);
    }

    /** {@code producer}, counting the outputs it commits. */
    Producer<byte[], byte[]> counting(Producer<byte[], byte[]> producer, boolean transactional) {
        return new CountingProducer(producer, transactional);
    }

    @Override
    public Consumer<byte[], byte[]> getConsumer(Map<String, Object> config) {
        return new KafkaConsumer<>(config, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    @Override
    public Consumer<byte[], byte[]> getRestoreConsumer(Map<String, Object> config) {
        return getConsumer(config);
    }

    @Override
    public Consumer<byte[], byte[]> getGlobalConsumer(Map<String, Object> config) {
        return getConsumer(config);
    }

    /** What one open transaction has sent so far. Used by its stream thread only. */
    private static final class Pending {
        long classified;
        final EnumMap<DeadLetterReason, Long> deadLettered = new EnumMap<>(DeadLetterReason.class);

        void clear() {
            classified = 0;
            deadLettered.clear();
        }
    }

    /** One stream thread's producer (one per thread under exactly-once v2, which is all Kafka Streams 4 has). */
    private final class CountingProducer implements Producer<byte[], byte[]> {
        private final Producer<byte[], byte[]> delegate;
        private final boolean transactional;
        private final Pending pending = new Pending();

        CountingProducer(Producer<byte[], byte[]> delegate, boolean transactional) {
            this.delegate = delegate;
            this.transactional = transactional;
        }

        @Override
        public Future<RecordMetadata> send(ProducerRecord<byte[], byte[]> record) {
            return send(record, null);
        }

        @Override
        public Future<RecordMetadata> send(ProducerRecord<byte[], byte[]> record, Callback callback) {
            boolean classified = record.topic().equals(outputTopic);
            DeadLetterReason reason = record.topic().equals(dlqTopic) ? reasonOf(record) : null;
            if (!classified && reason == null) return delegate.send(record, callback); // the buffer's changelog
            if (transactional) {
                if (classified) pending.classified++;
                else pending.deadLettered.merge(reason, 1L, Long::sum);
                return delegate.send(record, callback);
            }
            return delegate.send(record, (metadata, error) -> {
                if (error == null) count(classified ? 1 : 0, reason);
                if (callback != null) callback.onCompletion(metadata, error);
            });
        }

        @Override
        public void commitTransaction() {
            delegate.commitTransaction(); // throws when the commit fails: nothing is counted then
            metrics.committed(pending.classified, pending.deadLettered);
            pending.clear();
        }

        @Override
        public void abortTransaction() {
            pending.clear();
            delegate.abortTransaction();
        }

        @Override
        public void beginTransaction() {
            pending.clear();
            delegate.beginTransaction();
        }

        private void count(long classified, DeadLetterReason reason) {
            metrics.committed(classified, reason == null ? Map.of() : Map.of(reason, 1L));
        }

        @Override
        public void initTransactions() {
            delegate.initTransactions();
        }

        @Override
        public void sendOffsetsToTransaction(Map<TopicPartition, OffsetAndMetadata> offsets, ConsumerGroupMetadata group) {
            delegate.sendOffsetsToTransaction(offsets, group);
        }

        @Override
        public void registerMetricForSubscription(KafkaMetric metric) {
            delegate.registerMetricForSubscription(metric);
        }

        @Override
        public void unregisterMetricFromSubscription(KafkaMetric metric) {
            delegate.unregisterMetricFromSubscription(metric);
        }

        @Override
        public void flush() {
            delegate.flush();
        }

        @Override
        public List<PartitionInfo> partitionsFor(String topic) {
            return delegate.partitionsFor(topic);
        }

        @Override
        public Map<MetricName, ? extends Metric> metrics() {
            return delegate.metrics();
        }

        @Override
        public Uuid clientInstanceId(Duration timeout) {
            return delegate.clientInstanceId(timeout);
        }

        @Override
        public void close() {
            delegate.close();
        }

        @Override
        public void close(Duration timeout) {
            delegate.close(timeout);
        }
    }

    /** The reason header every dead letter carries ({@link DeadLetters}); null for a record without one, which is not ours. */
    private static DeadLetterReason reasonOf(ProducerRecord<byte[], byte[]> record) {
        Header h = record.headers().lastHeader(DeadLetters.REASON_HEADER);
        if (h == null) return null;
        try {
            return DeadLetterReason.valueOf(new String(h.value(), StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
