package io.tomestream.it;

import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

import io.tomestream.schema.ImageEvent;
import io.tomestream.schema.SingleObjectSerde;

/**
 * Sends {@code evt-0 ... evt-(n-1)} (the fixture images in turn, single-object encoded) at a steady
 * rate from a thread of its own, and keeps going through a broker outage: its delivery timeout and
 * blocking limit are longer than any outage the fault tests make, so it buffers and retries.
 */
final class PacedProducer extends Thread {
    final AtomicInteger sent = new AtomicInteger();
    final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final String bootstrap, topic;
    private final int events, first, ratePerS;

    PacedProducer(String bootstrap, String topic, int events, int ratePerS) {
        this(bootstrap, topic, events, 0, ratePerS);
    }

    /** Sends {@code evt-first ... evt-(first+n-1)}. */
    PacedProducer(String bootstrap, String topic, int events, int first, int ratePerS) {
        super("paced-producer-" + topic);
        this.bootstrap = bootstrap;
        this.topic = topic;
        this.events = events;
        this.first = first;
        this.ratePerS = ratePerS;
    }

    @Override
    public void run() {
        SingleObjectSerde<ImageEvent> serde = SingleObjectSerde.imageEvents();
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.<String, Object>of(
                "bootstrap.servers", bootstrap, "acks", "all", "delivery.timeout.ms", 240_000, "request.timeout.ms", 10_000,
                "max.block.ms", 240_000,
                // One request in flight: on a partition created a moment before, the broker may refuse the
                // first batch (NOT_LEADER_OR_FOLLOWER) and accept the next ones; the first one's retry is
                // then out of order forever (OUT_OF_ORDER_SEQUENCE_NUMBER) and expires. SoakIT met it in CI.
                "max.in.flight.requests.per.connection", 1), new StringSerializer(), new ByteArraySerializer())) {
            long start = System.nanoTime();
            for (int i = 0; i < events; i++) {
                long wait = start + TimeUnit.SECONDS.toNanos(i) / ratePerS - System.nanoTime();
                if (wait > 0) Thread.sleep(wait / 1_000_000);
                String key = "evt-" + (first + i);
                producer.send(new ProducerRecord<>(topic, key, serde.encode(Pipelines.event(key, Pipelines.image((first + i) % Pipelines.IMAGES), "image/png"))),
                        (md, e) -> {
                            if (e != null && failure.compareAndSet(null, e)) Diagnostics.printKafkaThreads("paced producer: " + e);
                        });
                sent.incrementAndGet();
            }
            producer.flush();
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
        }
    }
}
