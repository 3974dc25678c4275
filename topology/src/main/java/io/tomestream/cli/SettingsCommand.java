package io.tomestream.cli;

import io.tomestream.config.SettingsTable;
import picocli.CommandLine.Command;

import java.io.PrintStream;

/** {@code settings}: the app's own settings, as the README's table has them. */
@Command(name = "settings", description = {"Print the app's own settings (for run): type, default, valid values and meaning, as a markdown table.",
        "Every other key goes unchanged to Kafka Streams, its clients and the serde."})
final class SettingsCommand extends CliCommand {
    SettingsCommand(PrintStream out, PrintStream err) {
        super(out, err);
    }

    @Override
    public Integer call() {
        out.print(SettingsTable.markdown());
        return 0;
    }
}
