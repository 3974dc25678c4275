package io.tomestream.cli;

import io.tomestream.merge.TokenReducer;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.util.Iterator;
import java.util.List;
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

    protected String reducer(String name) {
        String r = name.strip();
        if (!TokenReducer.NAMES.contains(r)) {
            throw usage("--reducer takes names from " + String.join(", ", TokenReducer.NAMES) + ", got '" + r + "'");
        }
        return r;
    }

    /** The reducers, for completion and help. */
    static final class Reducers implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return TokenReducer.NAMES.iterator();
        }
    }

    /** The backends {@code io.tomestream.backend.Backends.create} takes. */
    static final class BackendNames implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return List.of("auto", "cpu", "tornado").iterator();
        }
    }
}
