package io.tomestream.topology;

import io.tomestream.config.ConfigException;
import io.tomestream.config.Settings;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serde;

import java.lang.reflect.InvocationTargetException;
import java.util.Map;

/**
 * Makes the value serde that the {@code value.serde} setting names: tomestream's
 * {@link SingleObjectAvroSerde} by default, or a registry-backed one such as Confluent's
 * {@code io.confluent.kafka.streams.serdes.avro.SpecificAvroSerde} or Apicurio's Avro serde, when
 * its jar is on the class path. Its {@code configure()} gets every non-app setting, so
 * {@code schema.registry.*} and {@code apicurio.*} reach it unchanged.
 */
public final class ValueSerdes {
    private ValueSerdes() {
    }

    /** A new configured instance for values ({@code isKey = false}); each use gets its own. */
    @SuppressWarnings("unchecked")
    public static Serde<SpecificRecord> create(String className, Map<String, ?> configs) {
        Object instance;
        try {
            instance = Class.forName(className).getDeclaredConstructor().newInstance();
        } catch (ClassNotFoundException e) {
            throw new ConfigException(Settings.VALUE_SERDE + ": class " + className + " is not on the class path");
        } catch (NoSuchMethodException | InstantiationException | IllegalAccessException e) {
            throw new ConfigException(Settings.VALUE_SERDE + ": " + className + " has no public no-argument constructor");
        } catch (InvocationTargetException e) {
            throw new ConfigException(Settings.VALUE_SERDE + ": " + className + " failed to construct: " + e.getCause());
        }
        if (!(instance instanceof Serde<?> serde)) {
            throw new ConfigException(Settings.VALUE_SERDE + ": " + className + " is not a " + Serde.class.getName());
        }
        try {
            serde.configure(configs, false);
        } catch (RuntimeException e) {
            throw new ConfigException(Settings.VALUE_SERDE + ": " + className + " rejected its configuration: " + firstLine(e.getMessage()));
        }
        return (Serde<SpecificRecord>) serde;
    }

    private static String firstLine(String s) {
        if (s == null) return "(no message)";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
