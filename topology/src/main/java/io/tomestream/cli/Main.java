package io.tomestream.cli;

import io.tomestream.model.ModelException;
import io.tomestream.topology.StreamingApp;

import java.io.PrintStream;
import java.util.Arrays;

/** {@code bin/tomestream}: results go to stdout, progress and errors to stderr, never a stack trace. */
public final class Main {
    static final String USAGE = """
            usage: tomestream <command> [options]

            commands:
              classify --model DIR [--tome SPEC] [--top K] [--backend auto|cpu] [--threads T] [--batch B] [--json] IMAGE...
                       classify images (PNG, JPEG, BMP, GIF) with a timm ViT/DeiT model folder
              bench    --model DIR|random:ARCH [--batch B] [--threads T] [--tome SPEC[;SPEC...]] [--seconds S]
                       measure img/s with and without token merging
              run      --config FILE [--set key=value ...]
                       classify the image-events topic into classifications with Kafka Streams, until SIGTERM;
                       settings: FILE < TOMESTREAM_* environment < --set (see io.tomestream.config.Settings)

            ToMe SPEC: R (constant), R:INFLECT (ToMe's schedule, e.g. 16:-1), or R1,R2,... per block; 0 = off
            """;

    private Main() {
    }

    public static void main(String[] argv) {
        System.exit(run(argv, System.out, System.err));
    }

    /** Runs a command and returns the exit code: 0 ok, 1 some inputs failed, 2 unusable arguments or model. */
    public static int run(String[] argv, PrintStream out, PrintStream err) {
        if (argv.length == 0 || argv[0].equals("help") || argv[0].equals("--help") || argv[0].equals("-h")) {
            (argv.length == 0 ? err : out).print(USAGE);
            return argv.length == 0 ? 2 : 0;
        }
        String[] rest = Arrays.copyOfRange(argv, 1, argv.length);
        try {
            return switch (argv[0]) {
                case "classify" -> ClassifyCommand.run(rest, out, err);
                case "bench" -> BenchCommand.run(rest, out, err);
                case "run" -> StreamingApp.run(rest);
                default -> throw new Args.UsageException("unknown command '" + argv[0] + "'");
            };
        } catch (Args.UsageException e) {
            err.println("tomestream: " + e.getMessage());
            err.println("run 'tomestream help' for usage");
            return 2;
        } catch (ModelException | IllegalArgumentException e) {
            err.println("tomestream: " + e.getMessage());
            return 2;
        } catch (OutOfMemoryError e) {
            err.println("tomestream: out of memory; use a smaller --batch or raise the heap with TOMESTREAM_JAVA_OPTS=-Xmx...");
            return 2;
        } catch (RuntimeException e) {
            err.println("tomestream: internal error: " + e);
            return 3;
        }
    }
}
