package io.tomestream.classify;

import java.util.List;

/**
 * The result for one image.
 *
 * @param logits  every class's logit
 * @param top     the best classes, most probable first
 * @param tokens  tokens entering block 1, then after each block (depth + 1 numbers)
 * @param sources for each input token, the index of the final token that holds it
 * @param millis  decode and preprocessing of this image plus the forward pass of its batch
 */
public record Prediction(float[] logits, List<Score> top, int[] tokens, int[] sources, double millis) {

    public Score best() {
        return top.getFirst();
    }

    public int finalTokens() {
        return tokens[tokens.length - 1];
    }
}
