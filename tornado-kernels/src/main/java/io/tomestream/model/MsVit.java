package io.tomestream.model;

import java.util.Map;

/**
 * MSViT's mixed-scale tokenization (Havtorn et al., 2023), config.json's {@code msvit} section
 * ({@code {"coarse_patch": 8, "gate_hidden": H, "threshold": 0.5}}). The image is cut into coarse
 * regions of {@code coarsePatch} pixels, each holding f × f of the model's own (fine) patches. A gate
 * on each region's coarse token decides whether the region enters the blocks as that one token or as
 * its f × f fine tokens.
 *
 * @param threshold      a region splits when sigmoid(gate logit) ≥ threshold, unless a split budget is given
 * @param factor         fine patches per side of a region
 * @param regionsPerSide regions per side of the image
 */
public record MsVit(int coarsePatch, int gateHidden, float threshold, int factor, int regionsPerSide) {

    public int regions() {
        return regionsPerSide * regionsPerSide;
    }

    /** Fine tokens a split region adds beyond its one coarse token. */
    public int extraTokensPerSplit() {
        return factor * factor - 1;
    }

    /** The tokens entering the first block with {@code splits} regions split. */
    public int tokens(int prefix, int splits) {
        return prefix + regions() + splits * extraTokensPerSplit();
    }

    /** The fine patch (raster index over the model's grid) at position {@code i} (raster) of region {@code r}. */
    public int finePatch(int region, int i) {
        int ry = region / regionsPerSide, rx = region % regionsPerSide, grid = regionsPerSide * factor;
        return (ry * factor + i / factor) * grid + rx * factor + i % factor;
    }

    /** The section of a config.json, or null when there is none. */
    static MsVit parse(Map<?, ?> root, int patchSize, int gridSize) throws ModelException {
        Object raw = root.get("msvit");
        if (raw == null) return null;
        if (!(raw instanceof Map<?, ?> section)) throw new ModelException("config.json msvit must be an object");
        int coarse = whole(section, "coarse_patch", 2L * patchSize);
        if (!(section.get("gate_hidden") instanceof Number)) throw new ModelException("config.json msvit has no gate_hidden");
        int hidden = whole(section, "gate_hidden", 0);
        if (hidden < 1) throw new ModelException("config.json msvit.gate_hidden must be at least 1, got " + hidden);
        Object t = section.containsKey("threshold") ? section.get("threshold") : 0.5;
        if (!(t instanceof Number n) || !(n.doubleValue() > 0 && n.doubleValue() <= 1)) {
            throw new ModelException("config.json msvit.threshold must be a number in (0, 1], got " + t);
        }
        if (coarse % patchSize != 0 || coarse / patchSize < 2) {
            throw new ModelException("config.json msvit.coarse_patch " + coarse + " must be a multiple (2 or more times) of the patch size "
                    + patchSize);
        }
        int factor = coarse / patchSize;
        if (gridSize % factor != 0) {
            throw new ModelException("config.json msvit.coarse_patch " + coarse + ": the " + gridSize + "x" + gridSize
                    + " patch grid does not divide into regions of " + factor + "x" + factor + " patches");
        }
        return new MsVit(coarse, hidden, n.floatValue(), factor, gridSize / factor);
    }

    private static int whole(Map<?, ?> section, String key, long dflt) throws ModelException {
        Object v = section.containsKey(key) ? section.get(key) : dflt;
        if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue()) || n.intValue() < 0) {
            throw new ModelException("config.json msvit." + key + " must be a whole number of 0 or more, got " + v);
        }
        return n.intValue();
    }
}
