package io.tomestream.model;

import io.tomestream.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelLoadingTest {

    @Test
    void loadsTimmFoldersWithTheirShapes() throws Exception {
        VitModel vit = VitModel.load(Fixtures.model("vit-tiny-rand"));
        assertEquals(64, vit.config().embedDim());
        assertEquals(65, vit.inputTokens());
        assertFalse(vit.weights().distilled());
        assertEquals("airplane", vit.config().label(0));

        VitModel deit = VitModel.load(Fixtures.model("deit-tiny-distilled-rand"));
        assertTrue(deit.weights().distilled());
        assertEquals(66, deit.inputTokens());

        VitModel avg = VitModel.load(Fixtures.model("vit-avg-rand"));
        assertEquals(GlobalPool.AVG, avg.config().globalPool());
        assertEquals(64, avg.inputTokens());
    }

    @Test
    void architectureNamesGiveTimmShapes() throws Exception {
        ModelConfig s = ModelConfig.forArchitecture("vit_small_patch16_224", 1000);
        assertEquals(384, s.embedDim());
        assertEquals(12, s.depth());
        assertEquals(6, s.numHeads());
        assertEquals(196, s.numPatches());
        assertEquals(0.9, s.input().cropPct(), 1e-9);
        ModelConfig b = ModelConfig.forArchitecture("deit_base_distilled_patch16_224", 1000);
        assertEquals(768, b.embedDim());
        assertEquals(0.875, b.input().cropPct(), 1e-9);
        assertEquals(0.485f, b.input().mean()[0]);
        ModelConfig l = ModelConfig.forArchitecture("vit_large_patch16_384", 1000);
        assertEquals(24, l.depth());
        assertEquals(576, l.numPatches());
        assertEquals(1.0, l.input().cropPct(), 1e-9);
    }

    @Test
    void unknownArchitectureIsAClearError() {
        var e = assertThrows(ModelException.class, () -> ModelConfig.forArchitecture("resnet50", 1000));
        assertTrue(e.getMessage().startsWith("unknown architecture 'resnet50'"), e.getMessage());
        var e2 = assertThrows(ModelException.class, () -> ModelConfig.forArchitecture("vit_huge_patch14_clip_224", 1000));
        assertTrue(e2.getMessage().startsWith("unknown architecture 'vit_huge_patch14_clip_224'"), e2.getMessage());
    }

    @Test
    void missingPiecesOfAFolderAreNamed(@TempDir Path dir) throws Exception {
        var e = assertThrows(ModelException.class, () -> VitModel.load(dir.resolve("nope").toString()));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
        e = assertThrows(ModelException.class, () -> VitModel.load(dir.toString()));
        assertTrue(e.getMessage().contains("has no config.json"), e.getMessage());
        Files.copy(Path.of(Fixtures.model("vit-tiny-rand")).resolve("config.json"), dir.resolve("config.json"));
        e = assertThrows(ModelException.class, () -> VitModel.load(dir.toString()));
        assertTrue(e.getMessage().contains("has no model.safetensors"), e.getMessage());
    }

    @Test
    void weightsThatDontFitTheConfigNameTheTensor(@TempDir Path dir) throws Exception {
        Path src = Path.of(Fixtures.model("vit-tiny-rand"));
        Files.copy(src.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        // same weights, but the config claims a wider model
        String config = Files.readString(src.resolve("config.json")).replace("\"embed_dim\": 64", "\"embed_dim\": 96");
        Files.writeString(dir.resolve("config.json"), config);
        var e = assertThrows(ModelException.class, () -> VitModel.load(dir.toString()));
        assertEquals("tensor 'patch_embed.proj.weight' has shape [64, 3, 4, 4] but the model config needs [96, 3, 4, 4]",
                e.getMessage());
    }

    @Test
    void brokenConfigJsonIsNamed(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("config.json"), "{\"architecture\": ");
        Files.write(dir.resolve("model.safetensors"), SafeTensorsTest.file("{}", 0));
        var e = assertThrows(ModelException.class, () -> VitModel.load(dir.toString()));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("invalid JSON"), e.getMessage());
    }

    @Test
    void anMsvitSectionWithoutItsGateIsRefusedNotRunAsAPlainVit(@TempDir Path dir) throws Exception {
        Path vit = Path.of(Fixtures.model("vit-tiny-rand"));
        String config = Files.readString(vit.resolve("config.json")).trim();
        config = config.substring(0, config.lastIndexOf('}')) + ", \"msvit\": {\"coarse_patch\": 8, \"gate_hidden\": 16, \"threshold\": 0.5}}";
        Files.writeString(dir.resolve("config.json"), config);
        Files.copy(vit.resolve("model.safetensors"), dir.resolve("model.safetensors"));
        var e = assertThrows(ModelException.class, () -> VitModel.load(dir.toString()));
        assertEquals("model.safetensors has no tensor 'msvit.gate.norm.weight' (expected shape [64])", e.getMessage());
    }
}
