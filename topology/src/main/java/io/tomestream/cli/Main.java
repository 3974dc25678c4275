package io.tomestream.cli;

import io.tomestream.model.ModelException;
import io.tomestream.topology.KafkaRefusal;
import io.tomestream.topology.StreamingApp;

import java.io.PrintStream;
import java.util.Arrays;

/** {@code bin/tomestream}: results go to stdout, progress and errors to stderr, never a stack trace. */
public final class Main {
    static final String USAGE = """
            usage: tomestream <command> [options]

            commands:
              classify --model DIR [--reducer R] [--budget SPEC] [--top K] [--backend auto|cpu|tornado] [--threads T] [--batch B] [--json] [--fast-decode] IMAGE...
                       classify images (PNG, JPEG, BMP, GIF) with a timm ViT/DeiT model folder
              bench    --model DIR|random:ARCH [--reducer R] [--budget SPEC[;SPEC...]] [--batch B] [--threads T] [--seconds S]
                       [--backend auto|cpu|tornado]
                       measure img/s with and without token reduction
              bench-stream [--model DIR|random:ARCH] [--events camera|fashion-mnist] [--batch B] [--budget SPEC|auto]
                       [--rates F,F,...] [--seconds S] [--drain N] [--latency-target MS] [--plot FILE.png]
                       the whole path under load: engine and classify img/s, then a broker and `run` in their own
                       processes, the drain rate of a pre-filled topic and p50/p99 at fixed offered rates; last line JSON
              bench-decode [--model DIR|random:ARCH] [--fmnist-model DIR] [--images N]
                       the optional fast JPEG decode against the exact path: ms per image and changed predictions
              eval     --model DIR [--dataset fashion-mnist] [--split test|train] [--limit N] [--reducer R[,R...]]
                       [--budget SPEC[;SPEC...]] [--batch B] [--threads T] [--csv FILE] [--plot FILE.png]
                       top-1 accuracy, img/s and GFLOPs of each reducer and budget against no reduction
              visualize --model DIR [--reducer R] [--budget SPEC] --out FILE.png IMAGE
                       draw which patches ended in the same token
              run      --config FILE [--set key=value ...]
                       classify the image-events topic into classifications with Kafka Streams, until SIGTERM;
                       settings: FILE < TOMESTREAM_* environment < --set (see io.tomestream.config.Settings)
              devices  list the backends and devices: cpu always, TornadoVM's drivers and devices when its SDK is there
              demo     [--events N] [--bad N] [--model DIR] [--data auto|fashion-mnist|fixtures] [--tome SPEC] [--rate R]
                       the whole pipeline on this machine: an in-process KRaft broker, the topology, N image events
                       (Fashion-MNIST for a Fashion-MNIST model) plus N bad ones; prints a summary, last line JSON

            backend: auto (the default) takes a TornadoVM accelerator when there is one and the CPU otherwise, and says
                       which and why; tornado needs the TornadoVM SDK (TORNADOVM_HOME) and supports the tome reducer
            reducer R: tome (merge similar tokens, the default), prune (keep the tokens the class token attends to,
                       fuse the rest into one), pool (cluster tokens by K-medoids)
            budget SPEC (also --tome SPEC): tokens removed per block: R (constant), R:INFLECT (ToMe's schedule, e.g. 16:-1),
                       or R1,R2,... per block; 0 = off
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
                case "bench-stream" -> BenchStreamCommand.run(rest, out, err);
                case "bench-decode" -> BenchDecodeCommand.run(rest, out, err);
                case "eval" -> EvalCommand.run(rest, out, err);
                case "visualize" -> VisualizeCommand.run(rest, out, err);
                case "run" -> StreamingApp.run(rest);
                case "demo" -> DemoCommand.run(rest, out, err);
                case "devices" -> DevicesCommand.run(rest, out, err);
                default -> throw new Args.UsageException("unknown command '" + argv[0] + "'");
            };
        } catch (Args.UsageException e) {
            err.println("tomestream: " + e.getMessage());
            err.println("run 'tomestream help' for usage");
            return 2;
        } catch (KafkaRefusal e) {
            err.println("tomestream: " + e.getMessage());
            return 1;
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
