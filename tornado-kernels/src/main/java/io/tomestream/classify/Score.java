package io.tomestream.classify;

/** One of the top classes: its index, its label and its softmax probability. */
public record Score(int index, String label, float score) {
}
