package io.tomestream.backend.cpu;

import io.tomestream.model.LearnedReducer;
import io.tomestream.model.VitWeights;
import io.tomestream.simd.Vectors;

import java.util.Arrays;

/**
 * A learned token reducer on the CPU ({@link LearnedReducer}: TokenLearner or PatchMerger). The patch
 * tokens of each image become S learned tokens, each a softmax-weighted sum of them; the class and
 * distillation tokens pass through. The scores are one matmul (PatchMerger's queries) or two
 * (TokenLearner's MLP) over all rows of the batch with the SIMD kernel; the softmax over an image's
 * patches and the weighted sums run one image per task.
 *
 * <p>Each input token then belongs to the learned token that weighs its current token most (the
 * first such on a tie, as {@code torch.argmax}), and every learned token has size 1 again.
 */
final class LearnedTokens {
    private static final float LN_EPS = 1e-6f;

    private final LearnedReducer spec;
    private final VitWeights.Learned w;
    private final int dim, prefix, learned;
    private final PackedMatrix fc1, fc2;   // TokenLearner's MLP: [hidden × dim], [S × hidden]
    private final PackedMatrix queries;    // PatchMerger's queries / √dim: [M × dim]

    // Buffers, for B images of N tokens (the most the module can be given).
    private int capacityRows;  // B × N
    private float[] hidden;    // [B × N × hidden] TokenLearner's MLP
    private float[] scores;    // [B × N × S] each learned token's score of each token
    private float[] weights;   // [B × S × N] the scores, softmaxed over the image's patch tokens

    LearnedTokens(LearnedReducer spec, VitWeights.Learned w, int dim, int prefix) {
        this.spec = spec;
        this.w = w;
        this.dim = dim;
        this.prefix = prefix;
        this.learned = spec.tokens();
        if (spec.kind() == LearnedReducer.Kind.TOKEN_LEARNER) {
            fc1 = new PackedMatrix(w.fc1Weight, w.fc1Bias, spec.hidden(), dim);
            fc2 = new PackedMatrix(w.fc2Weight, w.fc2Bias, learned, spec.hidden());
            queries = null;
        } else {
            float scale = (float) (1.0 / Math.sqrt(dim));
            float[] q = w.queries.clone();
            for (int i = 0; i < q.length; i++) q[i] *= scale;
            queries = new PackedMatrix(q, new float[learned], learned, dim);
            fc1 = fc2 = null;
        }
    }

    /** The tokens it leaves per image: the class and distillation tokens, then the learned ones. */
    int tokensOut() {
        return prefix + learned;
    }

    /**
     * {@code x} [batch × tokens × dim] into {@code out} [batch × tokensOut × dim], with sizes 1 into
     * {@code outSize}; {@code xn} is scratch of x's size. {@code tokenOf} [batch × inputTokens] is
     * updated to the new tokens.
     */
    void run(WorkerPool pool, float[] x, float[] xn, int batch, int tokens, float[] out, float[] outSize, int[] tokenOf,
             int inputTokens) {
        int rows = batch * tokens, patches = tokens - prefix;
        ensureCapacity(rows);
        Activations.layerNormRows(pool, x, xn, rows, dim, w.normWeight, w.normBias, LN_EPS);
        if (spec.kind() == LearnedReducer.Kind.TOKEN_LEARNER) {
            MatMul.run(pool, xn, 0, rows, fc1, hidden, 0, false, MatMul.Epilogue.GELU);
            MatMul.run(pool, hidden, 0, rows, fc2, scores, 0, false, MatMul.Epilogue.NONE);
        } else {
            MatMul.run(pool, xn, 0, rows, queries, scores, 0, false, MatMul.Epilogue.NONE);
        }
        // TokenLearner weighs the tokens themselves, PatchMerger their LayerNorm.
        float[] source = spec.kind() == LearnedReducer.Kind.TOKEN_LEARNER ? x : xn;
        int outTokens = tokensOut();
        pool.run(batch, b -> {
            int in = b * tokens, at = b * outTokens, a = b * learned * patches;
            for (int s = 0; s < learned; s++) {
                int row = a + s * patches;
                for (int n = 0; n < patches; n++) weights[row + n] = scores[(in + prefix + n) * learned + s];
                Activations.softmax(weights, row, patches);
            }
            System.arraycopy(x, in * dim, out, at * dim, prefix * dim);
            Arrays.fill(out, (at + prefix) * dim, (at + outTokens) * dim, 0f);
            for (int s = 0; s < learned; s++) {
                int row = a + s * patches, to = (at + prefix + s) * dim;
                for (int n = 0; n < patches; n++) Vectors.axpy(weights[row + n], source, (in + prefix + n) * dim, out, to, dim);
            }
            Arrays.fill(outSize, at, at + outTokens, 1f);
            for (int t = 0; t < inputTokens; t++) {
                int i = b * inputTokens + t, now = tokenOf[i];
                if (now < prefix) continue;
                int best = 0;
                for (int s = 1; s < learned; s++) if (weights[a + s * patches + now - prefix] > weights[a + best * patches + now - prefix]) best = s;
                tokenOf[i] = prefix + best;
            }
        });
    }

    private void ensureCapacity(int rows) {
        if (rows <= capacityRows) return;
        hidden = spec.kind() == LearnedReducer.Kind.TOKEN_LEARNER ? new float[rows * spec.hidden()] : null;
        scores = new float[rows * learned];
        weights = new float[rows * learned];
        capacityRows = rows;
    }
}
