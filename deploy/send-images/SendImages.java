import io.tomestream.config.ConfigException;
import io.tomestream.config.Settings;
import io.tomestream.schema.ImageEvent;
import io.tomestream.topology.ValueSerdes;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Sends image files to a running tomestream's input topic as ImageEvent records.
 *
 * <p>It is configured exactly like the app ({@code --config FILE}, {@code TOMESTREAM_*} environment,
 * {@code --set key=value}), so it writes with the app's own value serde and registry settings: what it
 * sends is what the app reads, in the Confluent wire format when the app uses a registry.
 *
 * <pre>
 * send-images [--config FILE] [--set key=value ...] [--count N] [--rate PER_S] [--id-prefix P] [--source S] IMAGE...
 * </pre>
 * Event {@code i} (from 0) carries image {@code i % images} and the key and eventId {@code P + i},
 * zero-padded to 6 digits; {@code --count} defaults to one event per image.
 */
public final class SendImages {
    public static void main(String[] argv) throws Exception {
        System.exit(run(argv));
    }

    static int run(String[] argv) throws Exception {
        List<String> settingsArgs = new ArrayList<>();
        List<Path> images = new ArrayList<>();
        int count = -1;
        double rate = 0;
        String prefix = "img-", source = "send-images";
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            switch (a) {
                case "--config", "--set" -> {
                    settingsArgs.add(a);
                    settingsArgs.add(value(argv, ++i, a));
                }
                case "--count" -> count = Integer.parseInt(value(argv, ++i, a));
                case "--rate" -> rate = Double.parseDouble(value(argv, ++i, a));
                case "--id-prefix" -> prefix = value(argv, ++i, a);
                case "--source" -> source = value(argv, ++i, a);
                case "-h", "--help" -> {
                    System.out.println("usage: send-images [--config FILE] [--set key=value ...] [--count N] [--rate PER_S] [--id-prefix P] [--source S] IMAGE...");
                    return 0;
                }
                default -> {
                    if (a.startsWith("--")) return fail("unknown option " + a);
                    images.add(Path.of(a));
                }
            }
        }
        if (images.isEmpty()) return fail("no image files given");
        if (count < 0) count = images.size();

        // The sender needs no model, but Settings insists on one for the app.
        settingsArgs.add("--set");
        settingsArgs.add(Settings.MODEL_DIR + "=(unused by send-images)");
        Settings settings;
        try {
            settings = Settings.fromCommandLine(settingsArgs.toArray(String[]::new), System.getenv());
        } catch (ConfigException e) {
            return fail(e.getMessage());
        }
        List<byte[]> bytes = new ArrayList<>();
        List<String> types = new ArrayList<>();
        for (Path p : images) {
            bytes.add(Files.readAllBytes(p));
            types.add(contentType(p));
        }

        String topic = settings.topicInput();
        Map<String, Object> producerConfig = new HashMap<>(new StreamsConfig(settings.kafkaProperties()).getProducerConfigs("send-images"));
        producerConfig.put("acks", "all");
        producerConfig.put("enable.idempotence", "true");
        Serializer<SpecificRecord> serializer = ValueSerdes.create(settings.valueSerde(), settings.serdeConfigs()).serializer();
        AtomicReference<Exception> failure = new AtomicReference<>();
        long start = System.nanoTime();
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(producerConfig, new StringSerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < count && failure.get() == null; i++) {
                if (rate > 0) {
                    long wait = start + (long) (i * 1e9 / rate) - System.nanoTime();
                    if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
                }
                String id = prefix + String.format(Locale.ROOT, "%06d", i);
                int k = i % bytes.size();
                ImageEvent event = ImageEvent.newBuilder()
                        .setEventId(id).setEventTime(Instant.now()).setSource(source)
                        .setContentType(types.get(k)).setImage(ByteBuffer.wrap(bytes.get(k)))
                        .setWidth(null).setHeight(null).setAttributes(new LinkedHashMap<>())
                        .build();
                producer.send(new ProducerRecord<>(topic, id, serializer.serialize(topic, event)),
                        (md, e) -> { if (e != null) failure.compareAndSet(null, e); });
            }
            producer.flush();
        }
        if (failure.get() != null) return fail("sending failed: " + failure.get());
        System.err.printf(Locale.ROOT, "send-images: sent %d events to %s in %.1f s%n", count, topic, (System.nanoTime() - start) / 1e9);
        return 0;
    }

    private static String value(String[] argv, int i, String flag) {
        if (i >= argv.length) throw new IllegalArgumentException(flag + " needs a value");
        return argv[i];
    }

    private static String contentType(Path p) {
        String name = p.getFileName().toString().toLowerCase(Locale.ROOT);
        String ext = name.substring(name.lastIndexOf('.') + 1);
        return switch (ext) {
            case "jpg", "jpeg" -> "image/jpeg";
            case "png", "bmp", "gif" -> "image/" + ext;
            default -> "application/octet-stream"; // the app dead-letters what it can't decode
        };
    }

    private static int fail(String message) {
        System.err.println("send-images: " + message);
        return 2;
    }
}
