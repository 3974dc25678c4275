package io.tomestream.cli;

import io.tomestream.config.Settings;
import io.tomestream.model.ModelException;
import io.tomestream.topology.StreamingApp;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** {@code run}: the streaming application, until SIGTERM. */
@Command(name = "run", description = {
        "Classify the image-events topic into classifications with Kafka Streams, until SIGTERM.",
        "Settings, each overriding the one before: the defaults, FILE, TOMESTREAM_* environment variables, --set."})
final class RunCommand extends CliCommand {
    @Option(names = "--config", paramLabel = "FILE", description = "A properties file of settings (see the README's table).")
    Path config;
    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "One setting; repeatable.")
    Map<String, String> sets = new LinkedHashMap<>();

    RunCommand(PrintStream out, PrintStream err) {
        super(out, err);
    }

    @Override
    public Integer call() throws ModelException {
        return StreamingApp.run(Settings.load(config, System.getenv(), sets));
    }
}
