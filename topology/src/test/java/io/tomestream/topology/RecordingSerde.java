package io.tomestream.topology;

import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/** Stands in for a registry serde (Confluent's, Apicurio's): remembers its configuration, then delegates. */
public final class RecordingSerde implements Serde<SpecificRecord> {
    static final List<Map<String, ?>> configs = new CopyOnWriteArrayList<>();
    private final SingleObjectAvroSerde delegate = new SingleObjectAvroSerde();

    @Override
    public void configure(Map<String, ?> config, boolean isKey) {
        if (isKey) throw new IllegalArgumentException("configured as a key serde");
        configs.add(Map.copyOf(config));
    }

    @Override
    public Serializer<SpecificRecord> serializer() {
        return delegate.serializer();
    }

    @Override
    public Deserializer<SpecificRecord> deserializer() {
        return delegate.deserializer();
    }
}
