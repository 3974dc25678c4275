package io.tomestream.config;

import org.apache.kafka.common.config.ConfigDef;

/**
 * The app's settings as the README's markdown table, from their {@link AppSettings} declarations:
 * what {@code tomestream settings} prints, and what a test holds the README to.
 */
public final class SettingsTable {
    private SettingsTable() {
    }

    public static String markdown() {
        StringBuilder sb = new StringBuilder("| setting | type | default | valid values | meaning |\n|---|---|---|---|---|\n");
        for (ConfigDef.ConfigKey key : AppSettings.DEF.configKeys().values()) {
            String dflt = ConfigDef.convertToString(key.defaultValue, key.type);
            sb.append("| `").append(key.name).append("` | ").append(key.type.name().toLowerCase(java.util.Locale.ROOT)).append(" | ")
                    .append(dflt == null || dflt.isEmpty() ? "" : "`" + dflt + "`").append(" | ")
                    .append(key.validator == null ? "" : key.validator.toString()).append(" | ")
                    .append(key.documentation.replace("|", "\\|")).append(" |\n");
        }
        return sb.toString();
    }
}
