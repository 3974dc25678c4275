package io.tomestream.merge;

import io.tomestream.model.ModelConfig;
import io.tomestream.model.VitModel;
import io.tomestream.Fixtures;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FlopsTest {

    @Test
    void eachReducerAddsItsOwnPlanningCostOnlyWhereTokensGo() throws Exception {
        VitModel m = VitModel.load(Fixtures.model("vit-tiny-rand"));
        ModelConfig c = m.config(); // 65 tokens, dim 64, 4 heads of 16
        int[] none = {65, 65, 65, 65, 65}, merged = {65, 57, 57, 57, 57};
        double base = Flops.perImage(c, false, none);
        for (Reducer r : Reducer.values()) assertEquals(base, Flops.perImage(c, false, none, r), r.label());
        assertEquals(Flops.perImage(c, false, merged), Flops.perImage(c, false, merged, Reducer.TOME));
        double tome = 2.0 * 33 * 32 * 16; // A·Bᵀ cosine similarities in block 1
        double prune = 2.0 * 65 * 64;     // the class token's attention row
        double pool = 64.0 * 63 * 64;     // pairwise distances of the 64 patch tokens
        double withTome = Flops.perImage(c, false, merged, Reducer.TOME);
        assertEquals(prune - tome, Flops.perImage(c, false, merged, Reducer.PRUNE) - withTome, 1e-9 * base);
        assertEquals(pool - tome, Flops.perImage(c, false, merged, Reducer.POOL) - withTome, 1e-9 * base);
        int[] once = {65, 57, 57, 57, 57};
        double noPlanning = Flops.perImage(c, false, once, Reducer.TOME) - tome;
        assertTrue(noPlanning < base);
        assertTrue(pool > tome && tome > prune);
    }
}
