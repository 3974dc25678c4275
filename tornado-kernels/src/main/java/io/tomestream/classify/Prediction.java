package io.tomestream.classify;

import java.util.List;

/**
 * The result for one image.
 *
 * @param logits  every class's logit
 * @param top     the best classes, most probable first
 * @param tokens  tokens entering block 1, then after each block (depth + 1 numbers)
 * @param sources for each input token, the index of the final token that holds it (MSViT: the prefix
 *                tokens, then the fine patches)
 * @param split   MSViT: for each region (raster order), whether it entered as its fine tokens; null otherwise
 * @param millis  decode and preprocessing of this image plus the forward pass of its batch
 */
public record Prediction(float[] logits, List<Score> top, int[] tokens, int[] sources, boolean[] split, double millis) {

    public Score best() {
        return top.getFirst();
    }

    /** MSViT: the regions it split; -1 for other models. */
    public int splitRegions() {
        if (split == null) return -1;
        int n = 0;
        for (boolean s : split) if (s) n++;
        return n;
    }

    public int finalTokens() {
        return tokens[tokens.length - 1];
    }
}
