package io.tomestream.cli;

import io.tomestream.backend.Backends;

import java.io.PrintStream;
import java.util.Set;

/** {@code devices}: the backends and devices this machine offers, and why one is missing. */
final class DevicesCommand {
    private DevicesCommand() {
    }

    static int run(String[] argv, PrintStream out, PrintStream err) {
        Args args = new Args(argv, 0, Set.of(), Set.of());
        if (!args.positionals().isEmpty()) throw new Args.UsageException("unexpected argument '" + args.positionals().getFirst() + "'");
        for (String line : Backends.devices()) out.println(line);
        return 0;
    }
}
