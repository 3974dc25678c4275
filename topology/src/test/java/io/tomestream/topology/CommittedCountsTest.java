package io.tomestream.topology;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.tomestream.metrics.PipelineMetrics;
import io.tomestream.schema.DeadLetterReason;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

class CommittedCountsTest {
    private final PipelineMetrics metrics = PipelineMetrics.discarding();
    private final CommittedCounts counts = new CommittedCounts("out", "dlq", metrics);

    @Test
    void aTransactionsOutputsCountWhenItCommitsAndNotWhenItAborts() {
        MockProducer<byte[], byte[]> mock = new MockProducer<>(true, null, new ByteArraySerializer(), new ByteArraySerializer());
        Producer<byte[], byte[]> producer = counts.counting(mock, true);
        producer.initTransactions();

        producer.beginTransaction();
        producer.send(record("out"));
        producer.send(record("out"));
        producer.send(record("classify-buffer-changelog"));
        producer.send(deadLetter(DeadLetterReason.UNDECODABLE_IMAGE));
        assertEquals(0, metrics.classifiedCommittedCount(), "nothing before the commit");
        producer.commitTransaction();
        assertEquals(2, metrics.classifiedCommittedCount());
        assertEquals(1, metrics.deadLetteredCommittedCount(DeadLetterReason.UNDECODABLE_IMAGE));

        producer.beginTransaction();
        producer.send(record("out"));
        producer.send(deadLetter(DeadLetterReason.MODEL_ERROR));
        producer.abortTransaction();
        producer.beginTransaction();
        producer.send(record("out"));
        producer.commitTransaction();
        assertEquals(3, metrics.classifiedCommittedCount(), "the aborted transaction's record is not counted");
        assertEquals(0, metrics.deadLetteredCommittedCount(DeadLetterReason.MODEL_ERROR));
    }

    @Test
    void aCommitThatFailsCountsNothing() {
        MockProducer<byte[], byte[]> mock = new MockProducer<>(true, null, new ByteArraySerializer(), new ByteArraySerializer());
        Producer<byte[], byte[]> producer = counts.counting(mock, true);
        producer.initTransactions();
        producer.beginTransaction();
        producer.send(record("out"));
        mock.fenceProducer();
        assertThrows(ProducerFencedException.class, producer::commitTransaction);
        assertEquals(0, metrics.classifiedCommittedCount());
    }

    @Test
    void withoutTransactionsARecordCountsWhenTheBrokerAcknowledgesIt() {
        MockProducer<byte[], byte[]> mock = new MockProducer<>(false, null, new ByteArraySerializer(), new ByteArraySerializer());
        Producer<byte[], byte[]> producer = counts.counting(mock, false);
        producer.send(record("out"));
        producer.send(record("out"));
        producer.send(deadLetter(DeadLetterReason.SCHEMA_ERROR));
        assertEquals(0, metrics.classifiedCommittedCount(), "not acknowledged yet");
        mock.completeNext();
        mock.errorNext(new RuntimeException("the broker refused it"));
        mock.completeNext();
        assertEquals(1, metrics.classifiedCommittedCount(), "the refused record is not counted");
        assertEquals(1, metrics.deadLetteredCommittedCount(DeadLetterReason.SCHEMA_ERROR));
    }

    private static ProducerRecord<byte[], byte[]> record(String topic) {
        return new ProducerRecord<>(topic, new byte[] {1}, new byte[] {2});
    }

    private static ProducerRecord<byte[], byte[]> deadLetter(DeadLetterReason reason) {
        RecordHeaders headers = new RecordHeaders();
        headers.add(DeadLetters.REASON_HEADER, reason.name().getBytes(StandardCharsets.UTF_8));
        return new ProducerRecord<>("dlq", null, new byte[] {1}, new byte[] {2}, headers);
    }
}
