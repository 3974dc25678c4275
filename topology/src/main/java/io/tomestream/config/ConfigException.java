package io.tomestream.config;

/**
 * A setting that is missing or doesn't parse. The message is one line that names the setting, so
 * the launcher can print it as it is (an IllegalArgumentException: exit code 2, no stack trace).
 */
public final class ConfigException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public ConfigException(String message) {
        super(message);
    }
}
