package io.tomestream.model;

import java.nio.file.Files;
import java.nio.file.Path;

/** A loaded model: its config and its weights. Immutable once loaded; backends share it. */
public record VitModel(String id, ModelConfig config, VitWeights weights) {

    public static final String RANDOM_PREFIX = "random:";

    /**
     * Loads a timm model folder ({@code config.json} + {@code model.safetensors}), or, for
     * {@code random:ARCH}, makes a seeded random-init model of that shape for benchmarks.
     */
    public static VitModel load(String location) throws ModelException {
        if (location.startsWith(RANDOM_PREFIX)) {
            String arch = location.substring(RANDOM_PREFIX.length());
            ModelConfig c = ModelConfig.forArchitecture(arch, 1000);
            return new VitModel(location, c, VitWeights.random(c, arch.contains("distilled"), 42));
        }
        Path dir = Path.of(location);
        if (!Files.isDirectory(dir)) throw new ModelException("model folder " + dir + " does not exist");
        Path config = dir.resolve("config.json");
        Path tensors = dir.resolve("model.safetensors");
        if (!Files.isRegularFile(config)) throw new ModelException(dir + " has no config.json");
        if (!Files.isRegularFile(tensors)) throw new ModelException(dir + " has no model.safetensors");
        ModelConfig c = ModelConfig.read(config);
        VitWeights w = VitWeights.load(c, SafeTensors.open(tensors));
        Path name = dir.toAbsolutePath().normalize().getFileName();
        return new VitModel(name == null ? dir.toString() : name.toString(), c, w);
    }

    public int prefixTokens() {
        return weights.prefixTokens(config);
    }

    public int inputTokens() {
        return config.numPatches() + prefixTokens();
    }
}
