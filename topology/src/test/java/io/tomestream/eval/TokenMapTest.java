package io.tomestream.eval;

import io.tomestream.image.InputSpec;
import io.tomestream.image.Interpolation;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

class TokenMapTest {

    /**
     * A 4×4 image of two 2×2 patches per side, mid grey. Patches 0 and 3 ended in token 1 (after the
     * class token), patches 1 and 2 alone: the right panel tints patches 0 and 3 alike, leaves 1 and 2 grey.
     */
    @Test
    void patchesOfOneTokenShareAColourAndLonePatchesStayAsTheyWere() {
        InputSpec spec = new InputSpec(1, 4, 4, Interpolation.BILINEAR, 1.0, new float[] {0.5f}, new float[] {0.5f});
        float[] tensor = new float[16]; // 0 after normalization = 0.5 grey
        int[] sources = {0, 1, 2, 3, 1};
        BufferedImage im = TokenMap.render(tensor, 0, spec, sources, 1, 2, List.of("caption"));
        int scale = 448 / 4, right = 16 + 4 * scale + 16, top = 16;
        int p0 = im.getRGB(right + scale / 2, top + scale / 2);                      // patch 0, inside
        int p3 = im.getRGB(right + 3 * scale - scale / 2, top + 3 * scale - scale / 2); // patch 3, inside
        int p1 = im.getRGB(right + 3 * scale - scale / 2, top + scale / 2);           // patch 1
        int left = im.getRGB(16 + scale / 2, top + scale / 2);                        // the input panel
        assertEquals(p0, p3);
        assertEquals(left, p1);
        assertEquals(0x808080, left & 0xFFFFFF);
        assertNotEquals(p0, p1);
    }

    @Test
    void axisTicksAreRoundNumbersThatCoverTheData() {
        AccuracyPlot.Axis a = AccuracyPlot.Axis.of(213.7, 605.7, 0.06);
        assertEquals(100, a.step(), 1e-9);
        assertEquals(100, a.min(), 1e-9);
        assertEquals(700, a.max(), 1e-9);
        assertEquals("300", a.format(300));
        AccuracyPlot.Axis b = AccuracyPlot.Axis.of(79.2, 79.2, 0.1);
        assertEquals(true, b.min() < 79.2 && b.max() > 79.2);
    }
}
