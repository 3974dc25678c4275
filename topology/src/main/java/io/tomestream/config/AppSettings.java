package io.tomestream.config;

import io.tomestream.merge.Schedule;
import io.tomestream.backend.select.BackendChoice;
import io.tomestream.merge.Reducer;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Type;

import java.util.List;
import java.util.Locale;

import static io.tomestream.config.Settings.*;

/**
 * The app's own settings, declared as Kafka declares its own: each with its type, default, validator
 * and documentation. The README's settings table is generated from this ({@link SettingsTable}).
 * Validators throw {@link ConfigException} with the whole one-line message.
 */
final class AppSettings {
    private AppSettings() {
    }

    static final ConfigDef DEF = new ConfigDef()
            .define(MODEL_DIR, Type.STRING, "", Importance.HIGH, "The model folder (config.json and model.safetensors). Required.")
            .define(MODEL_VERSION, Type.STRING, "unversioned", Importance.LOW,
                    "A version name each Classification and the tomestream_model_info gauge carry.")
            .define(REDUCER, Type.STRING, "tome", new OneOf(Reducer.labels()), Importance.MEDIUM,
                    "The token reducer: tome merges similar tokens, prune keeps the tokens the class token attends to, pool clusters tokens.")
            .define(BUDGET, Type.STRING, "", new Budget(BUDGET), Importance.HIGH,
                    "The reducer's budget spec (R, R:INFLECT or R1,R2,...; 0 = off), or auto, the load-adaptive budget."
                            + " Each Classification records the reducer and the schedule its batch ran with. Empty: tome's value.")
            .define(BUDGET_ALIAS, Type.STRING, "0", new Budget(BUDGET_ALIAS), Importance.LOW, "The older name of budget, for old config files.")
            .define(BUDGET_LADDER, Type.STRING, "0;4:-1;8:-1;16:-1;24:-1", new Ladder(), Importance.LOW,
                    "With budget=auto: the schedules to pick from, least merging first, separated by ';'.")
            .define(LATENCY_TARGET_MS, Type.LONG, 1000L, new Bounds(1, 3_600_000), Importance.MEDIUM,
                    "With budget=auto: the latency, from event time to result, to hold.")
            .define(BATCH_SIZE, Type.INT, 16, new Bounds(1, 4096), Importance.HIGH,
                    "A micro-batch is flushed at this many events, or after batch.max.wait.ms. The producer's own batch.size is producer.batch.size.")
            .define(BATCH_MAX_WAIT_MS, Type.LONG, 50L, new Bounds(1, 3_600_000), Importance.HIGH, "A micro-batch is flushed once its oldest event has waited this long, or at batch.size events.")
            .define(BATCH_COALESCE_MS, Type.LONG, 5L, new Bounds(0, 60_000), Importance.LOW,
                    "With several stream threads (num.stream.threads), how long the shared engine waits for other threads' events to fill a batch.")
            .define(THREADS, Type.INT, 0, new Bounds(0, 1024), Importance.MEDIUM, "Engine threads; 0 = one per core.")
            .define(BACKEND, Type.STRING, "auto", new OneOf(BackendChoice.labels()), Importance.MEDIUM,
                    "auto, cpu or tornado: auto takes a TornadoVM accelerator that beats the CPU when there is one, and the CPU otherwise.")
            .define(TOP_K, Type.INT, 5, new Bounds(1, 1000), Importance.LOW, "Classes in each Classification's top-k.")
            .define(IMAGE_MAX_BYTES, Type.INT, 16 << 20, new Bounds(1, Integer.MAX_VALUE - 64), Importance.MEDIUM,
                    "Larger payloads are dead-lettered as PAYLOAD_TOO_LARGE.")
            .define(DECODE_FAST, Type.BOOLEAN, false, Importance.LOW,
                    "JPEG draft decoding: DCT-domain downscaling, faster and no longer PIL's exact pixels (see classify --fast-decode).")
            .define(TOPIC_INPUT, Type.STRING, "image-events", new NotEmpty(), Importance.HIGH, "The ImageEvent topic.")
            .define(TOPIC_OUTPUT, Type.STRING, "classifications", new NotEmpty(), Importance.HIGH, "The Classification topic, keyed like the input.")
            .define(TOPIC_DLQ, Type.STRING, "image-events-dlq", new NotEmpty(), Importance.HIGH,
                    "The DeadLetter topic; the reason is also in a tomestream.reason header.")
            .define(VALUE_SERDE, Type.STRING, SINGLE_OBJECT_SERDE, new NotEmpty(), Importance.HIGH,
                    "The serde class for the Avro records; the default is single-object encoding, without a registry.")
            .define(WRITER_SCHEMAS, Type.STRING, "", Importance.LOW,
                    "Files or folders of .avsc (comma-separated): newer writer schemas the registry-less serde also reads, such as a"
                            + " producer's ImageEvent with an added optional field. Every released version is read without it.")
            .define(REGISTRY_RETRY_MAX_MS, Type.LONG, 240_000L, new Bounds(0, 3_600_000), Importance.LOW,
                    "How long a record waits through a schema-registry outage (retried with backoff, the app not ready) before the app"
                            + " exits; an outage never dead-letters.")
            .define(METRICS_PORT, Type.INT, 9464, new Bounds(0, 65535), Importance.MEDIUM,
                    "/metrics (Prometheus), /health/live and /health/ready; 0 turns them off.")
            .define(WARMUP_SECONDS, Type.DOUBLE, 2.0, new Bounds(0, 600), Importance.LOW, "Warm-up before the app joins its group.")
            .define(SHUTDOWN_TIMEOUT_MS, Type.LONG, 30_000L, new Bounds(0, 3_600_000), Importance.LOW,
                    "How long a SIGTERM waits for the batch in flight to finish and its transaction to commit.");

    /** "must be ..." for a value that does not parse as the key's type. */
    static String expected(ConfigDef.ConfigKey key) {
        String what = switch (key.type) {
            case INT, LONG, SHORT -> "a whole number";
            case DOUBLE -> "a number";
            case BOOLEAN -> "true or false";
            default -> "a " + key.type.name().toLowerCase(Locale.ROOT);
        };
        return key.validator == null || key.type == Type.BOOLEAN ? what : what + " " + key.validator;
    }

    /** Whole or decimal bounds, both included. */
    record Bounds(double min, double max) implements ConfigDef.Validator {
        @Override
        public void ensureValid(String name, Object value) {
            double v = ((Number) value).doubleValue();
            if (v < min || v > max) throw new ConfigException(name + " must be " + describe(value) + " " + this + ", got '" + value + "'");
        }

        private static String describe(Object value) {
            return value instanceof Double ? "a number" : "a whole number";
        }

        @Override
        public String toString() {
            return "from " + number(min) + " to " + number(max);
        }

        private static String number(double d) {
            return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
        }
    }

    record OneOf(List<String> names) implements ConfigDef.Validator {
        @Override
        public void ensureValid(String name, Object value) {
            if (!names.contains(String.valueOf(value).strip())) {
                throw new ConfigException(name + " must be " + this + ", got '" + value + "'");
            }
        }

        @Override
        public String toString() {
            return "one of " + String.join(", ", names);
        }
    }

    record NotEmpty() implements ConfigDef.Validator {
        @Override
        public void ensureValid(String name, Object value) {
            if (value == null || value.toString().isBlank()) throw new ConfigException(name + " must not be empty");
        }

        @Override
        public String toString() {
            return "not empty";
        }
    }

    /** A schedule spec, or auto; empty for budget, which then falls back to tome. */
    record Budget(String key) implements ConfigDef.Validator {
        @Override
        public void ensureValid(String name, Object value) {
            String spec = String.valueOf(value).strip();
            if (spec.isEmpty() && name.equals(BUDGET) || spec.equalsIgnoreCase(AUTO)) return;
            try {
                Schedule.parse(spec);
            } catch (IllegalArgumentException e) {
                throw new ConfigException(name + ": " + e.getMessage() + " (or 'auto', the load-adaptive budget)");
            }
        }

        @Override
        public String toString() {
            return "a budget spec, or auto";
        }
    }

    record Ladder() implements ConfigDef.Validator {
        @Override
        public void ensureValid(String name, Object value) {
            String ladder = String.valueOf(value);
            if (ladder.isBlank()) throw new ConfigException(name + " must name at least one schedule");
            for (String spec : ladder.split(";")) {
                if (spec.isBlank()) continue;
                try {
                    Schedule.parse(spec.strip());
                } catch (IllegalArgumentException e) {
                    throw new ConfigException(name + ": '" + spec.strip() + "': " + e.getMessage());
                }
            }
        }

        @Override
        public String toString() {
            return "budget specs separated by ';'";
        }
    }
}
