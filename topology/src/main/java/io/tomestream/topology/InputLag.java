package io.tomestream.topology;

import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.streams.KafkaStreams;

import java.util.Map;
import java.util.function.LongSupplier;

/**
 * The input topic's consumer lag on this instance: the sum of its partitions' {@code records-lag},
 * read from the consumers' own metrics at most every 100 ms. 0 until the streams are attached and
 * have fetched.
 */
public final class InputLag implements LongSupplier {
    private static final long REFRESH_NANOS = 100_000_000L;

    private final String topic;
    private volatile KafkaStreams streams;
    private volatile long lag;
    private volatile long readAtNanos = System.nanoTime() - REFRESH_NANOS;

    public InputLag(String topic) {
        this.topic = topic;
    }

    /** The streams are built after the engine they run, so they are attached afterwards. */
    public void attach(KafkaStreams s) {
        streams = s;
    }

    @Override
    public long getAsLong() {
        KafkaStreams s = streams;
        long now = System.nanoTime();
        if (s == null || now - readAtNanos < REFRESH_NANOS) return lag;
        long sum = 0;
        for (Map.Entry<MetricName, ? extends Metric> e : s.metrics().entrySet()) {
            MetricName name = e.getKey();
            if (name.name().equals("records-lag") && topic.equals(name.tags().get("topic"))
                    && e.getValue().metricValue() instanceof Number n && !Double.isNaN(n.doubleValue())) {
                sum += Math.max(0, n.longValue());
            }
        }
        lag = sum;
        readAtNanos = now;
        return sum;
    }
}
