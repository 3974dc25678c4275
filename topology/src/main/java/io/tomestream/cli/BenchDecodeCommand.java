package io.tomestream.cli;

import io.tomestream.dataset.FashionMnist;
import io.tomestream.model.ModelException;
import io.tomestream.streambench.FastDecodeCheck;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/** {@code bench-decode}: see {@link FastDecodeCheck}. */
final class BenchDecodeCommand {
    private BenchDecodeCommand() {
    }

    static int run(String[] argv, PrintStream out, PrintStream err) throws ModelException {
        Args args = new Args(argv, 0, Set.of("model", "fmnist-model", "photos", "dataset", "images", "threads"), Set.of());
        if (!args.positionals().isEmpty()) throw new Args.UsageException("unexpected argument '" + args.positionals().getFirst() + "'");
        String home = System.getProperty("tomestream.home", ".");
        Path defaultFmnist = Path.of(home, "models/fmnist-vit-49");
        String fmnist = args.get("fmnist-model", Files.isRegularFile(defaultFmnist.resolve("config.json")) ? defaultFmnist.toString() : null);
        FastDecodeCheck.Options o = new FastDecodeCheck.Options(args.get("model", BenchStreamCommand.DEFAULT_MODEL), fmnist,
                Path.of(args.get("photos", "/usr/share/backgrounds/mate/nature")), Path.of(args.get("dataset", FashionMnist.DEBIAN_DIR.toString())),
                args.integer("images", 2000, 1), args.integer("threads", Runtime.getRuntime().availableProcessors(), 1));
        try {
            return FastDecodeCheck.run(o, out, err);
        } catch (IOException e) {
            err.println("tomestream bench-decode: " + e.getMessage());
            return 1;
        }
    }
}
