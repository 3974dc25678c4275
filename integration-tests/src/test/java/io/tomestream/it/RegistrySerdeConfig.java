package io.tomestream.it;

import java.util.Map;

/**
 * The Apicurio 3.x serde settings that put records on the wire in the Confluent format, as verified
 * by {@link RegistryIT#serializerWritesConfluentWireFormat}: magic byte {@code 0}, a 4-byte big-endian
 * schema id, then the plain Avro binary of the value; no Kafka headers. The id is the registry's
 * CONTENT id, which is the id the Confluent-compatible API ({@code /apis/ccompat/v7/schemas/ids/{id}})
 * serves, so Confluent clients and any ccompat reader can decode these records, and Apicurio's
 * deserializer can decode records of Confluent producers pointed at ccompat.
 *
 * <p>Every value below except {@code dereference-schema} is also Apicurio 3.1.7's default (the 2.x
 * defaults were different: 8-byte global ids, ids in headers); they are spelled out so that a future
 * default change cannot silently change the wire format. The topology copies these keys into its
 * configuration ({@link EndToEndIT}).
 */
public final class RegistrySerdeConfig {

    /** Native Core Registry API v3 base, e.g. {@code http://host:8080/apis/registry/v3}. NOT the ccompat URL. */
    public static final String REGISTRY_URL = "apicurio.registry.url";

    private RegistrySerdeConfig() {
    }

    /** Settings shared by serializer and deserializer. */
    public static Map<String, Object> common(String registryUrl) {
        return Map.of(
                REGISTRY_URL, registryUrl,
                // Subject = <topic>-value (or <topic>-key), in the default group: the ccompat subject.
                "apicurio.registry.artifact-resolver-strategy", "io.apicurio.registry.serde.strategy.TopicIdStrategy",
                // 4-byte id after the magic byte (Legacy8ByteIdHandler would write 8 bytes).
                "apicurio.registry.id-handler", "io.apicurio.registry.serde.Default4ByteIdHandler",
                // contentId = the id ccompat hands out and serves; globalId would NOT match ccompat.
                "apicurio.registry.use-id", "contentId",
                // Id in the payload, not in apicurio.value.* headers.
                "apicurio.registry.headers.enabled", false,
                "apicurio.registry.avro.encoding", "BINARY",
                // Register (and read) self-contained schemas. Without it, Apicurio 3 registers every nested
                // named type (Classification's ClassScore) as an artifact of its own, and the outer schema
                // only names it: /schemas/ids/{id} then serves a schema that a reader cannot parse without
                // resolving its references first, which plain and older Confluent readers don't do.
                "apicurio.registry.dereference-schema", true);
    }

    /**
     * Value serializer ({@code io.apicurio.registry.serde.avro.AvroKafkaSerializer}) settings.
     * With {@code autoRegister} false the schema must already be registered under the subject; the
     * serializer then uses the latest version's content id.
     */
    public static Map<String, Object> serializer(String registryUrl, boolean autoRegister) {
        var config = new java.util.HashMap<String, Object>(common(registryUrl));
        config.put("apicurio.registry.auto-register", autoRegister);
        if (autoRegister) {
            // Reuse an existing version whose content matches instead of always adding one.
            config.put("apicurio.registry.auto-register.if-exists", "FIND_OR_CREATE_VERSION");
        } else {
            config.put("apicurio.registry.find-latest", true);
        }
        return Map.copyOf(config);
    }

    /**
     * Value deserializer ({@code io.apicurio.registry.serde.avro.AvroKafkaDeserializer}) settings that
     * yield generated SpecificRecord classes (e.g. {@code io.tomestream.schema.ImageEvent}).
     */
    public static Map<String, Object> specificDeserializer(String registryUrl) {
        var config = new java.util.HashMap<String, Object>(common(registryUrl));
        config.put("apicurio.registry.use-specific-avro-reader", true);
        return Map.copyOf(config);
    }
}
