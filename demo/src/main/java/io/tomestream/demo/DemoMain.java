package io.tomestream.demo;

import io.tomestream.cli.CliCommand;
import io.tomestream.cli.Main;
import io.tomestream.cli.Version;
import io.tomestream.model.ModelException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * {@code bin/tomestream demo}: see {@link Demo}. A module and a main of its own, so that the app's
 * install and image carry no Kafka broker; the launcher sends {@code demo} here.
 */
@Command(name = "tomestream demo", mixinStandardHelpOptions = true, versionProvider = Version.class, showDefaultValues = true,
        sortOptions = false, description = {
        "The whole pipeline on this machine: an in-process KRaft broker, the topology, N image events",
        "(Fashion-MNIST for a Fashion-MNIST model) plus N bad ones; prints a summary, the last line JSON."})
public final class DemoMain extends CliCommand {

    @Option(names = "--events", defaultValue = "500", paramLabel = "N", description = "Good image events.")
    int events;
    @Option(names = "--bad", defaultValue = "5", paramLabel = "N", description = "Bad events of each kind, for the dead-letter topic.")
    int bad;
    @Option(names = "--model", paramLabel = "DIR", description = "A model folder (default: models/fmnist-vit-49 when it is there, else the fixture model).")
    String model;
    @Option(names = "--data", defaultValue = "auto", completionCandidates = DataNames.class,
            description = "${COMPLETION-CANDIDATES}: auto takes Fashion-MNIST for a Fashion-MNIST model, the fixture images otherwise.")
    DemoEvents.Data data;
    @Option(names = "--dataset", paramLabel = "DIR", description = "Fashion-MNIST's folder (default: Debian's).")
    Path dataset;
    @Option(names = {"--budget", "--tome"}, defaultValue = "0", paramLabel = "SPEC|auto", description = "The budget, or auto.")
    String budget;
    @Option(names = "--partitions", defaultValue = "3", paramLabel = "N", description = "Input partitions.")
    int partitions;
    @Option(names = "--threads", defaultValue = "0", paramLabel = "T", description = "Engine threads; 0 = one per core.")
    int threads;
    @Option(names = "--rate", defaultValue = "0", paramLabel = "R", description = "Events per second; 0 = as fast as possible.")
    double rate;

    private DemoMain(PrintStream out, PrintStream err) {
        super(out, err);
    }

    public static void main(String[] argv) {
        System.exit(run(argv, System.out, System.err));
    }

    /** {@code argv} as the launcher passes it, starting with {@code demo}; returns the exit code. */
    public static int run(String[] argv, PrintStream out, PrintStream err) {
        String[] args = argv.length > 0 && argv[0].equals("demo") ? Arrays.copyOfRange(argv, 1, argv.length) : argv;
        CommandLine cli = Main.configure(new CommandLine(new DemoMain(out, err)), out, err);
        cli.registerConverter(DemoEvents.Data.class, name -> {
            try {
                return DemoEvents.Data.of(name);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        });
        return cli.execute(args);
    }

    static final class DataNames implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return DemoEvents.Data.labels().iterator();
        }
    }

    @Override
    public Integer call() throws ModelException {
        if (!(rate >= 0)) throw usage("--rate must be 0 or more");
        Demo.Options defaults = Demo.Options.defaults();
        Demo.Options options = defaults
                .withEvents(atLeast("--events", events, 0))
                .withBad(atLeast("--bad", bad, 0))
                .withModel(model)
                .withData(data)
                .withDatasetDir(dataset == null ? defaults.datasetDir() : dataset)
                .withBudget(budget)
                .withPartitions(atLeast("--partitions", partitions, 1))
                .withThreads(atLeast("--threads", threads, 0))
                .withRate(rate);
        try {
            return Demo.run(options, out, err);
        } catch (Demo.DemoException e) {
            throw usage(e.getMessage());
        }
    }
}
