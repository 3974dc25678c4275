package io.tomestream.topology;

import io.tomestream.schema.Classification;
import io.tomestream.schema.DeadLetter;
import io.tomestream.schema.ImageEvent;
import io.tomestream.schema.SchemaMismatchException;
import io.tomestream.schema.SingleObjectSerde;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * tomestream's registry-less value format as a Kafka serde: Avro single-object encoding of
 * {@link ImageEvent}, {@link Classification} and {@link DeadLetter}.
 *
 * <p>Like Confluent's {@code SpecificAvroSerde}, one instance handles every record type, so the
 * {@code value.serde} setting can name either class: it writes whatever record it is given, and
 * reads the type the 8-byte schema fingerprint in each message names. Needs no configuration.
 * Deserializing throws {@link SchemaMismatchException}, whose message is one line.
 */
public final class SingleObjectAvroSerde implements Serde<SpecificRecord> {
    private static final List<SingleObjectSerde<? extends SpecificRecord>> SERDES = List.of(
            SingleObjectSerde.imageEvents(), SingleObjectSerde.classifications(), SingleObjectSerde.deadLetters());
    private static final Map<Class<?>, SingleObjectSerde<? extends SpecificRecord>> BY_TYPE =
            SERDES.stream().collect(Collectors.toMap(SingleObjectSerde::type, Function.identity()));
    private static final Map<Long, SingleObjectSerde<? extends SpecificRecord>> BY_FINGERPRINT =
            SERDES.stream().collect(Collectors.toMap(SingleObjectSerde::fingerprint, Function.identity()));

    /** Public and argument-free: Kafka and {@code value.serde} instantiate serdes by class name. */
    public SingleObjectAvroSerde() {
    }

    @Override
    public Serializer<SpecificRecord> serializer() {
        return (topic, record) -> record == null ? null : encode(record);
    }

    @Override
    public Deserializer<SpecificRecord> deserializer() {
        return (topic, bytes) -> bytes == null ? null : decode(bytes);
    }

    @SuppressWarnings("unchecked")
    private static <T extends SpecificRecord> byte[] encode(T record) {
        SingleObjectSerde<T> serde = (SingleObjectSerde<T>) BY_TYPE.get(record.getClass());
        if (serde == null) {
            throw new SerializationException("no single-object schema for " + record.getClass().getName()
                    + "; this serde writes ImageEvent, Classification and DeadLetter");
        }
        return serde.encode(record);
    }

    private static SpecificRecord decode(byte[] bytes) {
        if (bytes.length >= 10 && bytes[0] == (byte) 0xC3 && bytes[1] == 0x01) {
            long fingerprint = ByteBuffer.wrap(bytes, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            SingleObjectSerde<? extends SpecificRecord> serde = BY_FINGERPRINT.get(fingerprint);
            if (serde == null) {
                throw new SchemaMismatchException(SchemaMismatchException.Kind.UNKNOWN_FINGERPRINT, String.format(
                        "unknown schema fingerprint %016x: not ImageEvent, Classification or DeadLetter", fingerprint));
            }
            return serde.decode(bytes);
        }
        // Not single-object encoded at all: the ImageEvent serde words that failure (marker, length) precisely.
        return SERDES.getFirst().decode(bytes);
    }
}
