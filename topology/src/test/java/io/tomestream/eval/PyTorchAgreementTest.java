package io.tomestream.eval;

import io.tomestream.classify.Classifier;
import io.tomestream.classify.Outcome;
import io.tomestream.dataset.FashionMnist;
import io.tomestream.json.Json;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Each trained model's predictions against PyTorch's (tools/reference/predict_fashion_mnist.py) on
 * the Fashion-MNIST test set, through the full path a streaming event takes: PNG bytes, decoding,
 * timm's preprocessing, the forward pass with ToMe. CI checks the first 1,000 images;
 * {@code -Dagreement.limit=10000} checks them all.
 */
class PyTorchAgreementTest {
    private static final Path MODELS = Path.of("..", "models");
    private static final int LIMIT = Integer.getInteger("agreement.limit", 1000);
    /** {@code -Dagreement.models=a,b}: only these model folders (CI checks them all). */
    private static final List<String> ONLY = List.of(System.getProperty("agreement.models", "").split(",")).stream()
            .filter(m -> !m.isBlank()).toList();

    @TestFactory
    Stream<DynamicTest> agreesWithPyTorch() throws Exception {
        List<Path> models;
        try (Stream<Path> dirs = Files.list(MODELS)) {
            models = dirs.filter(d -> Files.isRegularFile(d.resolve("reference-predictions.json"))).sorted().toList();
        }
        List<Path> checked = ONLY.isEmpty() ? models : models.stream().filter(d -> ONLY.contains(d.getFileName().toString())).toList();
        if (!ONLY.isEmpty()) assertEquals(ONLY.size(), checked.size(), "-Dagreement.models names " + ONLY + "; found " + models);
        // The models are committed; an empty list means the test lost them, not that there's nothing to check.
        assertTrue(models.size() >= 2, "expected fmnist-vit-49 and fmnist-vit-196 with reference predictions, found " + models);
        assumeTrue(FashionMnist.present(FashionMnist.DEBIAN_DIR), "Fashion-MNIST is not installed (bin/setup)");
        FashionMnist data = FashionMnist.readTestSet(FashionMnist.DEBIAN_DIR, LIMIT);
        List<DynamicTest> tests = new ArrayList<>();
        for (Path model : checked) {
            Map<?, ?> reference = (Map<?, ?>) Json.parse(Files.readString(model.resolve("reference-predictions.json")));
            for (Object o : (List<?>) reference.get("cases")) {
                Map<?, ?> c = (Map<?, ?>) o;
                String tome = (String) c.get("tome");
                List<?> top1 = (List<?>) c.get("top1");
                tests.add(DynamicTest.dynamicTest(model.getFileName() + ", tome " + tome + " on " + data.size() + " images",
                        () -> check(model, data, tome, top1)));
            }
        }
        return tests.stream();
    }

    private static void check(Path model, FashionMnist data, String tome, List<?> torchTop1) throws Exception {
        int n = Math.min(data.size(), torchTop1.size()), agree = 0, correct = 0;
        try (Classifier c = Classifier.open(model.toString(), Classifier.Options.defaults().withBudget(tome).withTopK(1))) {
            for (int from = 0; from < n; from += 100) {
                List<byte[]> batch = new ArrayList<>();
                for (int i = from; i < Math.min(n, from + 100); i++) batch.add(data.png(i));
                List<Outcome> outcomes = c.classify(batch);
                for (int k = 0; k < outcomes.size(); k++) {
                    int ours = assertInstanceOf(Outcome.Classified.class, outcomes.get(k)).prediction().best().index();
                    if (ours == ((Number) torchTop1.get(from + k)).intValue()) agree++;
                    if (ours == data.label(from + k)) correct++;
                }
            }
        }
        double rate = (double) agree / n;
        System.out.printf("%s, tome %s: Java agrees with PyTorch on %d of %d images (%.2f%%); Java top-1 %.2f%%%n",
                model.getFileName(), tome, agree, n, 100 * rate, 100.0 * correct / n);
        assertTrue(rate >= 0.999, "agreement " + agree + "/" + n);
    }
}
