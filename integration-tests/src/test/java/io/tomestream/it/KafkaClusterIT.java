package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The shared KRaft cluster works the way exactly_once_v2 needs: multi-partition topics,
 * transactions that commit and abort, and consumer offsets committed inside a transaction.
 */
@ExtendWith(SharedInfra.class)
class KafkaClusterIT {

    private final KafkaCluster kafka;

    KafkaClusterIT(KafkaCluster kafka) {
        this.kafka = kafka;
    }

    @Test
    void createsTopicsWithPartitions() throws Exception {
        assertTrue(kafka.bootstrapServers().startsWith("127.0.0.1:"), kafka.bootstrapServers());
        kafka.createTopic("smoke-partitions", 3);
        var description = kafka.admin().describeTopics(Set.of("smoke-partitions"))
                .allTopicNames().get(10, TimeUnit.SECONDS).get("smoke-partitions");
        assertEquals(3, description.partitions().size());
    }

    @Test
    void transactionsCommitAbortAndCarryConsumerOffsets() throws Exception {
        kafka.createTopics(2, "smoke-in", "smoke-out");

        // 1. A committed and an aborted transaction on the input topic.
        try (var producer = producer("smoke-tx-1")) {
            producer.initTransactions();
            producer.beginTransaction();
            for (int i = 0; i < 6; i++) {
                producer.send(new ProducerRecord<>("smoke-in", "k" + i, "committed-" + i));
            }
            producer.commitTransaction();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>("smoke-in", "k0", "aborted"));
            producer.flush();
            producer.abortTransaction();
        }

        // 2. Read-process-write: read_committed input, transactional output, offsets in the transaction.
        List<String> seen = new ArrayList<>();
        try (var consumer = consumer("smoke-group", "read_committed");
             var producer = producer("smoke-tx-2")) {
            producer.initTransactions();
            consumer.subscribe(List.of("smoke-in"));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (seen.size() < 6 && System.nanoTime() < deadline) {
                var records = consumer.poll(Duration.ofMillis(200));
                if (records.isEmpty()) {
                    continue;
                }
                producer.beginTransaction();
                for (ConsumerRecord<String, String> r : records) {
                    seen.add(r.value());
                    producer.send(new ProducerRecord<>("smoke-out", r.key(), r.value().toUpperCase()));
                }
                producer.sendOffsetsToTransaction(nextOffsets(records), consumer.groupMetadata());
                producer.commitTransaction();
            }
        }
        assertEquals(new TreeSet<>(List.of("committed-0", "committed-1", "committed-2", "committed-3",
                "committed-4", "committed-5")), new TreeSet<>(seen), "read_committed skips the aborted record");

        // 3. The group's offsets were committed through the transaction: 6 records in total.
        Map<TopicPartition, OffsetAndMetadata> committed = kafka.admin()
                .listConsumerGroupOffsets("smoke-group").partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
        // Committed offsets count records plus the transaction markers before them: at least 6.
        long total = committed.values().stream().mapToLong(OffsetAndMetadata::offset).sum();
        assertTrue(!committed.isEmpty() && total >= 6, committed.toString());

        // 4. The output holds the 6 transformed records; read_uncommitted also sees the aborted one.
        assertEquals(6, drain("smoke-out", "read_committed", 6).size());
        List<String> uncommitted = drain("smoke-in", "read_uncommitted", 7);
        assertTrue(uncommitted.contains("aborted"), uncommitted.toString());
    }

    private static Map<TopicPartition, OffsetAndMetadata> nextOffsets(
            org.apache.kafka.clients.consumer.ConsumerRecords<String, String> records) {
        var offsets = new java.util.HashMap<TopicPartition, OffsetAndMetadata>();
        for (TopicPartition tp : records.partitions()) {
            var list = records.records(tp);
            offsets.put(tp, new OffsetAndMetadata(list.get(list.size() - 1).offset() + 1));
        }
        return offsets;
    }

    private List<String> drain(String topic, String isolation, int expected) {
        List<String> values = new ArrayList<>();
        try (var consumer = consumer(null, isolation)) {
            var partitions = consumer.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (values.size() < expected && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> values.add(r.value()));
            }
        }
        return values;
    }

    private KafkaProducer<String, String> producer(String transactionalId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        return new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
    }

    private KafkaConsumer<String, String> consumer(String group, String isolation) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        if (group != null) {
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        }
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        return new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer());
    }
}
