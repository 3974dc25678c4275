package io.tomestream.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

import java.io.PrintStream;
import java.util.List;

/**
 * {@code demo} as this install sees it: the demo and its in-process broker are a module of their own
 * ({@code demo/}), which the launcher of a source checkout runs; the app's install and image carry no broker.
 */
@Command(name = "demo", description = {
        "The whole pipeline on this machine: an in-process KRaft broker, the topology, N image events plus N bad ones.",
        "It runs from a source checkout (bin/tomestream demo --help lists its options); installs and images leave it out."})
final class DemoCommand extends CliCommand {
    @Unmatched
    List<String> ignored;

    DemoCommand(PrintStream out, PrintStream err) {
        super(out, err);
    }

    @Override
    public Integer call() {
        throw usage("the demo is not in this install, which carries no Kafka broker; run bin/tomestream demo from a source checkout");
    }
}
