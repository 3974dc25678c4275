package io.tomestream.cli;

import io.tomestream.backend.select.Backends;
import picocli.CommandLine.Command;

import java.io.PrintStream;

/** {@code devices}: the backends and devices this machine offers, and why one is missing. */
@Command(name = "devices", description = "List the backends and devices: cpu always, TornadoVM's drivers and devices when its SDK is there.")
final class DevicesCommand extends CliCommand {
    DevicesCommand(PrintStream out, PrintStream err) {
        super(out, err);
    }

    @Override
    public Integer call() {
        for (String line : Backends.devices()) out.println(line);
        return 0;
    }
}
