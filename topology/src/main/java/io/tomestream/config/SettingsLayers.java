package io.tomestream.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

import static io.tomestream.config.Settings.APP_KEYS;
import static io.tomestream.config.Settings.BATCH_SIZE;

/**
 * Where settings come from, each layer overriding the one before: the defaults, a properties file,
 * environment variables, and {@code --set key=value}. The environment-name mapping is in
 * {@link Settings}' class comment.
 */
final class SettingsLayers {
    static final String ENV_PREFIX = "TOMESTREAM_";
    static final String KAFKA_ENV_PREFIX = "TOMESTREAM_KAFKA_";

    private SettingsLayers() {
    }

    /** {@code defaults}, then {@code file} (may be null), then {@code env}, then {@code sets}. */
    static Map<String, String> merge(Map<String, String> defaults, Path file, Map<String, String> env, Map<String, String> sets) {
        Map<String, String> merged = new LinkedHashMap<>(defaults);
        if (file != null) merged.putAll(readFile(file));
        merged.putAll(fromEnvironment(env));
        merged.putAll(sets);
        return merged;
    }

    /** {@code --config FILE} and {@code --set key=value} (also as {@code --name=value}), then {@link #merge}. */
    static Map<String, String> fromCommandLine(String[] argv, Map<String, String> env, Map<String, String> defaults) {
        Path file = null;
        Map<String, String> sets = new LinkedHashMap<>();
        for (int i = 0; i < argv.length; i++) {
            String arg = argv[i], value = null;
            int eq = arg.indexOf('=');
            String flag = arg.startsWith("--") && eq > 0 ? arg.substring(0, eq) : arg;
            if (!flag.equals("--config") && !flag.equals("--set")) {
                throw new ConfigException(arg.startsWith("--") ? "unknown option " + flag + " (run takes --config FILE and --set key=value)"
                        : "run takes no positional arguments, got '" + arg + "'");
            }
            if (eq > 0 && arg.startsWith("--")) {
                value = arg.substring(eq + 1);
            } else if (i + 1 < argv.length) {
                value = argv[++i];
            } else {
                throw new ConfigException(flag + " needs a value");
            }
            if (flag.equals("--config")) {
                if (file != null) throw new ConfigException("--config may be given once");
                file = Path.of(value);
            } else {
                int kv = value.indexOf('=');
                if (kv <= 0) throw new ConfigException("--set needs key=value, got '" + value + "'");
                sets.put(value.substring(0, kv).strip(), value.substring(kv + 1));
            }
        }
        return merge(defaults, file, env, sets);
    }

    static Map<String, String> fromEnvironment(Map<String, String> env) {
        Map<String, String> out = new HashMap<>();
        for (Map.Entry<String, String> e : env.entrySet()) {
            String name = e.getKey();
            if (name.startsWith(KAFKA_ENV_PREFIX) && name.length() > KAFKA_ENV_PREFIX.length()) {
                String key = name.substring(KAFKA_ENV_PREFIX.length()).toLowerCase(Locale.ROOT)
                        .replace("__", "\u0000").replace('_', '.').replace('\u0000', '-');
                if (APP_KEYS.contains(key)) {
                    throw new ConfigException(name + " names the app setting " + key + ", not a Kafka one: use "
                            + ENV_PREFIX + name.substring(KAFKA_ENV_PREFIX.length())
                            + (key.equals(BATCH_SIZE) ? ", or TOMESTREAM_KAFKA_PRODUCER_BATCH_SIZE for the producer's" : ""));
                }
                out.put(key, e.getValue());
            } else if (name.startsWith(ENV_PREFIX)) {
                String key = name.substring(ENV_PREFIX.length()).toLowerCase(Locale.ROOT).replace('_', '.');
                if (APP_KEYS.contains(key)) out.put(key, e.getValue());
            }
        }
        return out;
    }

    static Map<String, String> readFile(Path file) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (NoSuchFileException e) {
            throw new ConfigException("config file " + file + " does not exist");
        } catch (IOException | IllegalArgumentException e) {
            throw new ConfigException("config file " + file + " can't be read: " + e.getMessage());
        }
        Map<String, String> out = new HashMap<>();
        for (String name : p.stringPropertyNames()) out.put(name.strip(), p.getProperty(name));
        return out;
    }

}
