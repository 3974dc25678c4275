package io.tomestream.topology;

import io.tomestream.config.ConfigException;
import io.tomestream.config.Settings;
import io.tomestream.schema.SchemaMismatchException;
import io.tomestream.schema.SingleObjectSerde;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaParseException;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * tomestream's registry-less value format as a Kafka serde: Avro single-object encoding of
 * {@link io.tomestream.schema.ImageEvent}, {@link io.tomestream.schema.Classification} and
 * {@link io.tomestream.schema.DeadLetter}.
 *
 * <p>Like Confluent's {@code SpecificAvroSerde}, one instance handles every record type, so the
 * {@code value.serde} setting can name either class: it writes whatever record it is given, and
 * reads the type the 8-byte schema fingerprint in each message names. It reads every released
 * version of the three schemas, and the extra writer schemas that the {@code writer.schemas}
 * setting names (a newer producer's, say), resolved to the current ones by Avro's rules.
 * Deserializing throws {@link SchemaMismatchException}, whose message is one line.
 */
public final class SingleObjectAvroSerde implements Serde<SpecificRecord> {
    private final List<SingleObjectSerde<? extends SpecificRecord>> serdes = List.of(
            SingleObjectSerde.imageEvents(), SingleObjectSerde.classifications(), SingleObjectSerde.deadLetters());
    private final Map<Long, SingleObjectSerde<? extends SpecificRecord>> byFingerprint = new ConcurrentHashMap<>();

    /** Public and argument-free: Kafka and {@code value.serde} instantiate serdes by class name. */
    public SingleObjectAvroSerde() {
        for (SingleObjectSerde<? extends SpecificRecord> serde : serdes) {
            for (long fingerprint : serde.writerFingerprints()) byFingerprint.put(fingerprint, serde);
        }
    }

    /** Reads the {@code writer.schemas} setting: .avsc files, or folders of them, comma-separated. */
    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        Object value = configs.get(Settings.WRITER_SCHEMAS);
        if (value == null || value.toString().isBlank()) return;
        for (String entry : value.toString().split(",")) {
            for (Path file : avscFiles(Path.of(entry.strip()))) addWriterSchema(file);
        }
    }

    private void addWriterSchema(Path file) {
        Schema writer;
        try {
            writer = new Schema.Parser().parse(file.toFile());
        } catch (IOException | SchemaParseException e) {
            throw new ConfigException(Settings.WRITER_SCHEMAS + ": " + file + " is not an Avro schema: " + e.getMessage());
        }
        for (SingleObjectSerde<? extends SpecificRecord> serde : serdes) {
            if (!serde.schema().getFullName().equals(writer.getFullName())) continue;
            var compatibility = SchemaCompatibility.checkReaderWriterCompatibility(serde.schema(), writer);
            if (compatibility.getType() != SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE) {
                throw new ConfigException(Settings.WRITER_SCHEMAS + ": " + file + " can't be read as the current "
                        + writer.getName() + ": " + compatibility.getResult().getIncompatibilities().getFirst().getMessage());
            }
            serde.withWriterSchema(writer);
            for (long fingerprint : serde.writerFingerprints()) byFingerprint.put(fingerprint, serde);
            return;
        }
        throw new ConfigException(Settings.WRITER_SCHEMAS + ": " + file + " is a schema of " + writer.getFullName()
                + ", not of ImageEvent, Classification or DeadLetter");
    }

    private static List<Path> avscFiles(Path path) {
        if (Files.isRegularFile(path)) return List.of(path);
        if (!Files.isDirectory(path)) throw new ConfigException(Settings.WRITER_SCHEMAS + ": " + path + " does not exist");
        try (Stream<Path> files = Files.list(path)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".avsc")).sorted().toList();
        } catch (IOException e) {
            throw new ConfigException(Settings.WRITER_SCHEMAS + ": " + path + " can't be read: " + e.getMessage());
        }
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
    private <T extends SpecificRecord> byte[] encode(T record) {
        for (SingleObjectSerde<? extends SpecificRecord> serde : serdes) {
            if (serde.type() == record.getClass()) return ((SingleObjectSerde<T>) serde).encode(record);
        }
        throw new SerializationException("no single-object schema for " + record.getClass().getName()
                + "; this serde writes ImageEvent, Classification and DeadLetter");
    }

    private SpecificRecord decode(byte[] bytes) {
        if (bytes.length >= 10 && bytes[0] == (byte) 0xC3 && bytes[1] == 0x01) {
            long fingerprint = ByteBuffer.wrap(bytes, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            SingleObjectSerde<? extends SpecificRecord> serde = byFingerprint.get(fingerprint);
            if (serde == null) {
                throw new SchemaMismatchException(SchemaMismatchException.Kind.UNKNOWN_FINGERPRINT, String.format(
                        "unknown schema fingerprint %016x: not a known version of ImageEvent, Classification or DeadLetter"
                                + " (a newer producer's schema? add it with %s)", fingerprint, Settings.WRITER_SCHEMAS));
            }
            return serde.decode(bytes);
        }
        // Not single-object encoded at all: the ImageEvent serde words that failure (marker, length) precisely.
        return serdes.getFirst().decode(bytes);
    }
}
