package io.tomestream.cli;

import io.tomestream.backend.select.BackendChoice;
import io.tomestream.merge.Reducer;
import io.tomestream.streambench.EventKind;
import io.tomestream.model.ModelException;
import io.tomestream.topology.KafkaRefusal;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

import java.io.PrintStream;
import java.io.PrintWriter;

/**
 * {@code bin/tomestream}: results go to stdout, progress and errors to stderr, never a stack trace.
 * Exit codes: 0 ok, 1 some inputs failed (or the cluster refused the app), 2 unusable arguments or
 * model, 3 an internal error.
 */
@Command(name = "tomestream", mixinStandardHelpOptions = true, versionProvider = Version.class,
        scope = CommandLine.ScopeType.INHERIT, showDefaultValues = true, sortOptions = false, usageHelpAutoWidth = true,
        description = "Classify streaming images with token-reducing Vision Transformers.",
        footerHeading = "%n", footer = {
                "Reducers: tome merges similar tokens (the default), prune keeps the tokens the class token attends to and"
                        + " fuses the rest into one, pool clusters tokens by K-medoids.",
                "A budget SPEC is the tokens removed per block: R (constant), R:INFLECT (ToMe's schedule, e.g. 16:-1) or"
                        + " R1,R2,... per block; 0 = off.",
                "Backends: auto (the default) takes a TornadoVM accelerator when there is one and the CPU otherwise, and says"
                        + " which and why; tornado needs the TornadoVM SDK (TORNADOVM_HOME).",
                "Completion for bash: source <(bin/tomestream generate-completion)"})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private Main() {
    }

    public static void main(String[] argv) {
        System.exit(run(argv, System.out, System.err));
    }

    /** Runs a command and returns its exit code. */
    public static int run(String[] argv, PrintStream out, PrintStream err) {
        CommandLine cli = commandLine(out, err);
        if (argv.length == 0) {
            cli.usage(cli.getErr());
            return 2;
        }
        try {
            return cli.execute(argv);
        } catch (OutOfMemoryError e) {
            err.println("tomestream: out of memory; use a smaller --batch or raise the heap with TOMESTREAM_JAVA_OPTS=-Xmx...");
            return 2;
        }
    }

    /** Every subcommand, each handed where its output goes. */
    static CommandLine commandLine(PrintStream out, PrintStream err) {
        CommandLine cli = new CommandLine(new Main())
                .addSubcommand(new ClassifyCommand(out, err))
                .addSubcommand(new BenchCommand(out, err))
                .addSubcommand(new BenchStreamCommand(out, err))
                .addSubcommand(new BenchDecodeCommand(out, err))
                .addSubcommand(new EvalCommand(out, err))
                .addSubcommand(new VisualizeCommand(out, err))
                .addSubcommand(new RunCommand(out, err))
                .addSubcommand(new SettingsCommand(out, err))
                .addSubcommand(new DemoCommand(out, err))
                .addSubcommand(new DevicesCommand(out, err))
                .addSubcommand(new AutoComplete.GenerateCompletion())
                .addSubcommand(new CommandLine.HelpCommand());
        return configure(cli, out, err);
    }

    /**
     * The conventions every tomestream command line follows: its output streams, a bad argument as one
     * line (with suggestions) and exit code 2, and failures as one line with their exit code.
     */
    public static CommandLine configure(CommandLine cli, PrintStream out, PrintStream err) {
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        cli.setParameterExceptionHandler(Main::usageError);
        // Users type the names in lower case; a wrong one is a usage error that lists the right ones.
        cli.registerConverter(Reducer.class, name -> convert(() -> Reducer.of(name)));
        cli.registerConverter(BackendChoice.class, name -> convert(() -> BackendChoice.of(name)));
        cli.registerConverter(EventKind.class, name -> convert(() -> EventKind.of(name)));
        cli.setExecutionExceptionHandler((e, command, parsed) -> failed(e, command.getErr()));
        return cli;
    }

    private static <T> T convert(java.util.function.Supplier<T> parse) {
        try {
            return parse.get();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.TypeConversionException(e.getMessage());
        }
    }

    /** {@code tomestream} alone: the usage, as a usage error. */
    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "a command is needed");
    }

    private static int usageError(ParameterException e, String[] argv) {
        CommandLine command = e.getCommandLine();
        PrintWriter err = command.getErr();
        err.println("tomestream: " + e.getMessage());
        UnmatchedArgumentException.printSuggestions(e, err);
        err.println("run '" + command.getCommandSpec().qualifiedName() + " --help' for usage");
        return 2;
    }

    private static int failed(Exception e, PrintWriter err) {
        if (e instanceof ParameterException p) return usageError(p, new String[0]);
        err.println("tomestream: " + (e instanceof ModelException || e instanceof IllegalArgumentException || e instanceof KafkaRefusal
                ? e.getMessage() : "internal error: " + e));
        if (e instanceof KafkaRefusal) return 1;
        if (e instanceof ModelException || e instanceof IllegalArgumentException) return 2;
        return 3;
    }
}
