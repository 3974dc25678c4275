package io.tomestream.cli;

import io.tomestream.backend.select.BackendChoice;
import io.tomestream.merge.Reducer;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.util.Iterator;
import java.util.concurrent.Callable;

/**
 * What every subcommand shares: results go to {@code out}, progress and problems to {@code err}, and
 * a bad argument is a {@link ParameterException}, which {@link Main} prints as one line with exit code 2.
 */
public abstract class CliCommand implements Callable<Integer> {
    @Spec
    protected CommandSpec spec;
    protected final PrintStream out;
    protected final PrintStream err;

    protected CliCommand(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    protected ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    protected int atLeast(String option, int value, int min) {
        if (value < min) throw usage(option + " must be at least " + min + ", got " + value);
        return value;
    }

    /** The reducers, for completion and help. */
    static final class Reducers implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return Reducer.labels().iterator();
        }
    }

    /** The backends, for completion and help. */
    static final class BackendNames implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return BackendChoice.labels().iterator();
        }
    }
}
