package io.tomestream.cli;

import io.tomestream.dataset.FashionMnist;
import io.tomestream.model.ModelException;
import io.tomestream.streambench.FastDecodeCheck;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** {@code bench-decode}: see {@link FastDecodeCheck}. */
@Command(name = "bench-decode", description = "The optional fast JPEG decode against the exact path: ms per image and changed predictions.")
final class BenchDecodeCommand extends CliCommand {
    @Option(names = "--model", defaultValue = BenchStreamCommand.DEFAULT_MODEL, paramLabel = "DIR|random:ARCH", description = "The camera-frame model.")
    String model;
    @Option(names = "--fmnist-model", paramLabel = "DIR", description = "A Fashion-MNIST model (default: models/fmnist-vit-49 when it is there).")
    String fmnistModel;
    @Option(names = "--photos", defaultValue = "/usr/share/backgrounds/mate/nature", paramLabel = "DIR", description = "Photographs for camera frames.")
    Path photos;
    @Option(names = "--dataset", paramLabel = "DIR", description = "Fashion-MNIST's folder (default: Debian's).")
    Path dataset;
    @Option(names = "--images", defaultValue = "2000", paramLabel = "N", description = "Fashion-MNIST images to compare.")
    int images;
    @Option(names = "--threads", paramLabel = "T", description = "Threads (default: one per core).")
    Integer threads;

    BenchDecodeCommand(PrintStream out, PrintStream err) {
        super(out, err);
    }

    @Override
    public Integer call() throws ModelException {
        Path defaultFmnist = Path.of(System.getProperty("tomestream.home", "."), "models/fmnist-vit-49");
        String fmnist = fmnistModel != null ? fmnistModel : Files.isRegularFile(defaultFmnist.resolve("config.json")) ? defaultFmnist.toString() : null;
        FastDecodeCheck.Options o = new FastDecodeCheck.Options(model, fmnist, photos, dataset == null ? FashionMnist.DEBIAN_DIR : dataset,
                atLeast("--images", images, 1), atLeast("--threads", threads == null ? Runtime.getRuntime().availableProcessors() : threads, 1));
        try {
            return FastDecodeCheck.run(o, out, err);
        } catch (IOException e) {
            err.println("tomestream bench-decode: " + e.getMessage());
            return 1;
        }
    }
}
