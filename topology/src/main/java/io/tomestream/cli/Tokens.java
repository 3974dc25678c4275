package io.tomestream.cli;

import java.util.Locale;

/** Token counts as the tables print them. */
final class Tokens {
    private Tokens() {
    }

    /** A whole count as it is; a mean over images of different counts (MSViT's threshold) with one decimal. */
    static String count(double tokens) {
        return tokens == Math.rint(tokens) ? Long.toString((long) tokens) : String.format(Locale.ROOT, "%.1f", tokens);
    }
}
