package io.tomestream.cli;

import io.tomestream.demo.Demo;
import io.tomestream.model.ModelException;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Set;

/** {@code demo}: see {@link Demo}. */
final class DemoCommand {
    private DemoCommand() {
    }

    static int run(String[] argv, PrintStream out, PrintStream err) throws ModelException {
        Args args = new Args(argv, 0, Set.of("events", "bad", "model", "data", "dataset", "tome", "budget", "partitions", "threads", "rate"), Set.of());
        if (!args.positionals().isEmpty()) throw new Args.UsageException("demo takes no positional arguments, got '" + args.positionals().getFirst() + "'");
        Demo.Options defaults = Demo.Options.defaults();
        double rate = args.number("rate", 0);
        if (!(rate >= 0)) throw new Args.UsageException("--rate must be 0 or more");
        Demo.Options options = defaults
                .withEvents(args.integer("events", defaults.events(), 0))
                .withBad(args.integer("bad", defaults.bad(), 0))
                .withModel(args.get("model", null))
                .withData(args.get("data", defaults.data()))
                .withDatasetDir(Path.of(args.get("dataset", defaults.datasetDir().toString())))
                .withTome(args.get("budget", args.get("tome", defaults.tome())))
                .withPartitions(args.integer("partitions", defaults.partitions(), 1))
                .withThreads(args.integer("threads", defaults.threads(), 0))
                .withRate(rate);
        try {
            return Demo.run(options, out, err);
        } catch (Demo.DemoException e) {
            throw new Args.UsageException(e.getMessage());
        }
    }
}
