package io.tomestream.backend.cpu;

import io.tomestream.backend.Backend;
import io.tomestream.backend.ForwardResult;
import io.tomestream.backend.MergeTrace;
import io.tomestream.backend.Phase;
import io.tomestream.merge.MergePlan;
import io.tomestream.merge.Reducer;
import io.tomestream.merge.TokenReducer;
import io.tomestream.model.GlobalPool;
import io.tomestream.model.LearnedReducer;
import io.tomestream.model.ModelConfig;
import io.tomestream.model.VitModel;
import io.tomestream.model.VitWeights;
import io.tomestream.simd.Vectors;
import jdk.incubator.vector.FloatVector;

import java.util.Arrays;
import java.util.function.Supplier;

/**
 * The ViT forward pass with token reduction on the CPU: multi-threaded, SIMD through the Vector API.
 *
 * <p>Tokens of a batch live in one [batch × tokens × dim] array. Every image of a batch removes the
 * same number of tokens per block, so the batch stays rectangular as it shrinks: with b images of T
 * tokens, each buffer below is used in its first b·T rows. The {@link TokenReducer} (ToMe by default)
 * is chosen at construction. The backend computes the signal it asks for, lets it plan each image,
 * and applies the plan. Buffers are sized for the largest batch seen and reused, so a forward pass
 * allocates nothing per layer but the small task objects of its parallel loops.
 */
public final class CpuBackend implements Backend {
    private static final float LN_EPS = 1e-6f;

    private final ModelConfig cfg;
    private final VitWeights w;
    private final WorkerPool pool;
    private final int dim, heads, headDim, hidden, prefix, patches, patchLen, inputTokens, classes;
    private final boolean classToken, distToken;
    private final float scale;
    private final PackedMatrix patchEmbed, head, headDist;
    private final PackedMatrix[] qkv, proj, fc1, fc2;
    private final ThreadLocal<Attention> attention;
    private final Supplier<TokenReducer> newReducer;
    private final String reducerName;
    private final TokenReducer.Signal signal;
    /** The model's learned token reducer, or null for a plain ViT. */
    private final LearnedReducer learned;
    private final LearnedTokens learnedTokens;
    private volatile MergeTrace trace;

    // Buffers, for B images (the largest batch seen) of N = prefix + patches tokens.
    private int capacity;           // B
    private float[] im2col;         // [B × patches × patchLen] patches as rows, (channel, y, x) order
    private float[] embedded;       // [B × patches × dim] patch embeddings
    private float[] x;              // [B × N × dim] the residual stream
    private float[] xMerged;        // [B × N × dim] where a merge writes the stream; swapped with x
    private float[] xn;             // [B × N × dim] layer-norm output
    private float[] qkvOut;         // [B × N × 3·dim] q | k | v of each token
    private float[] attnOut;        // [B × N × dim] the heads' outputs, side by side
    private float[] hiddenOut;      // [B × N × hidden] the MLP's hidden layer
    private float[] sublayer;       // [B × N × dim] a sublayer's output before its layer scale
    private float[] metric;         // [B × N × headDim] what the reducer looks at
    private float[] classAttention; // [B × heads × N] the class token's attention row, for reducers that rank by it
    private float[] size;           // [B × N] the input patches each token stands for
    private float[] sizeMerged;     // [B × N] sizes after a merge; swapped with size
    private float[] logSize;        // [B × N] log(size): proportional attention
    private int[] tokenOf;          // [B × N] the token each input token is part of now
    private float[] pooled;         // [B × dim] what the head sees
    private float[] pooledDist;     // [B × dim] what the distillation head sees
    private float[] logitsDist;     // [B × classes] the distillation head's logits
    private float[] normed;         // [dim] one normed token while pooling
    private MergePlan[] plans;      // [B] this block's plan for each image
    private TokenReducer[] reducers; // [B] one reducer (and its scratch) per image

    /** With ToMe. */
    public CpuBackend(VitModel model, int threads) {
        this(model, threads, Reducer.TOME);
    }

    public CpuBackend(VitModel model, int threads, Reducer reducer) {
        this(model, threads, reducer::create);
    }

    /** With reducers from {@code reducers}, one per image of a batch; tests pass their own. */
    CpuBackend(VitModel model, int threads, Supplier<TokenReducer> newReducers) {
        TokenReducer probe = newReducers.get();
        String why = probe.unsupported(model.config().classToken(), model.weights().distilled());
        if (why != null) throw new IllegalArgumentException(why);
        this.newReducer = newReducers;
        this.learned = model.config().learned();
        // A learned module names the reduction; a budget before it (by another reducer than ToMe) is named too.
        this.reducerName = learned == null ? probe.name()
                : probe.name().equals(Reducer.TOME.label()) ? learned.kind().label() : probe.name() + "+" + learned.kind().label();
        this.signal = probe.signal();
        this.cfg = model.config();
        this.w = model.weights();
        this.pool = new WorkerPool(threads);
        dim = cfg.embedDim();
        heads = cfg.numHeads();
        headDim = cfg.headDim();
        hidden = cfg.mlpHidden();
        classToken = cfg.classToken();
        distToken = w.distilled();
        prefix = model.prefixTokens();
        patches = cfg.numPatches();
        patchLen = cfg.inChans() * cfg.patchSize() * cfg.patchSize();
        inputTokens = model.inputTokens();
        classes = cfg.numClasses();
        scale = (float) (1.0 / Math.sqrt(headDim));
        patchEmbed = new PackedMatrix(w.patchWeight, w.patchBias, dim, patchLen);
        head = new PackedMatrix(w.headWeight, w.headBias, classes, dim);
        headDist = distToken ? new PackedMatrix(w.headDistWeight, w.headDistBias, classes, dim) : null;
        int depth = cfg.depth();
        qkv = new PackedMatrix[depth];
        proj = new PackedMatrix[depth];
        fc1 = new PackedMatrix[depth];
        fc2 = new PackedMatrix[depth];
        for (int i = 0; i < depth; i++) {
            VitWeights.Block b = w.blocks[i];
            qkv[i] = new PackedMatrix(b.qkvWeight, b.qkvBias, 3 * dim, dim);
            proj[i] = new PackedMatrix(b.projWeight, b.projBias, dim, dim);
            fc1[i] = new PackedMatrix(b.fc1Weight, b.fc1Bias, hidden, dim);
            fc2[i] = new PackedMatrix(b.fc2Weight, b.fc2Bias, dim, hidden);
        }
        attention = ThreadLocal.withInitial(() -> new Attention(inputTokens, headDim));
        learnedTokens = learned == null ? null : new LearnedTokens(learned, w.learned, dim, prefix);
        plans = new MergePlan[0];
        reducers = new TokenReducer[0];
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String device() {
        return "cpu (" + pool.threads() + " threads, " + FloatVector.SPECIES_PREFERRED.vectorBitSize() + "-bit SIMD)";
    }

    @Override
    public String reducer() {
        return reducerName;
    }

    @Override
    public void trace(MergeTrace trace) {
        this.trace = trace;
    }

    @Override
    public void forward(float[] pixels, int batch, int[] rPerLayer, ForwardResult out) {
        if (rPerLayer.length != cfg.depth()) {
            throw new IllegalArgumentException("need one r per block (" + cfg.depth() + "), got " + rPerLayer.length);
        }
        if (learned != null) learned.checkBudget(rPerLayer);
        int imageLen = cfg.inChans() * cfg.imgSize() * cfg.imgSize();
        if (pixels.length < batch * imageLen) throw new IllegalArgumentException("pixels hold fewer than " + batch + " images");
        ensureCapacity(batch);
        out.prepare(batch, classes, cfg.depth(), inputTokens);
        Stopwatch clock = new Stopwatch(out.phaseNanos);

        embed(pixels, batch);
        clock.lap(Phase.PATCH_EMBED);
        Arrays.fill(size, 0, batch * inputTokens, 1f);
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < inputTokens; t++) tokenOf[b * inputTokens + t] = t;
        }
        int tokens = inputTokens;
        out.moduleTokens = 0;
        if (learned != null && learned.afterBlock() == -1) tokens = learn(batch, tokens, out, clock);
        out.tokens[0] = tokens;
        for (int layer = 0; layer < cfg.depth(); layer++) {
            // Sizes are all 1 until the first merge, and log 1 = 0: attention is plain until then.
            boolean proportional = tokens < inputTokens;
            tokens = block(layer, batch, tokens, rPerLayer[layer], proportional, clock);
            if (learned != null && layer == learned.afterBlock()) tokens = learn(batch, tokens, out, clock);
            out.tokens[layer + 1] = tokens;
        }
        classify(batch, tokens, out);
        clock.lap(Phase.HEAD);
        System.arraycopy(tokenOf, 0, out.sources, 0, batch * inputTokens);
    }

    // ------------------------------------------------------------------ steps

    private void embed(float[] pixels, int batch) {
        pool.run(batch, b -> im2col(pixels, b));
        MatMul.run(pool, im2col, 0, batch * patches, patchEmbed, embedded, 0, false, MatMul.Epilogue.NONE);
        pool.run(batch, this::assemble);
    }

    /** Patches as rows in (channel, y, x) order, matching the convolution weight's layout. */
    private void im2col(float[] pixels, int b) {
        int p = cfg.patchSize(), img = cfg.imgSize(), grid = cfg.gridSize(), chans = cfg.inChans();
        int imageBase = b * chans * img * img;
        for (int py = 0; py < grid; py++) {
            for (int px = 0; px < grid; px++) {
                int row = (b * patches + py * grid + px) * patchLen;
                for (int c = 0; c < chans; c++) {
                    for (int ky = 0; ky < p; ky++) {
                        System.arraycopy(pixels, imageBase + c * img * img + (py * p + ky) * img + px * p,
                                im2col, row + (c * p + ky) * p, p);
                    }
                }
            }
        }
    }

    /** The class and distillation tokens, then the patch embeddings, each plus its position. */
    private void assemble(int b) {
        int base = b * inputTokens * dim;
        if (classToken) add(w.clsToken, 0, w.posEmbed, 0, x, base, dim);
        if (distToken) add(w.distToken, 0, w.posEmbed, dim, x, base + dim, dim);
        for (int n = 0; n < patches; n++) {
            add(embedded, (b * patches + n) * dim, w.posEmbed, (prefix + n) * dim, x, base + (prefix + n) * dim, dim);
        }
    }

    /** One block on {@code tokens} tokens per image; returns the tokens left after its reduction. */
    private int block(int layer, int batch, int tokens, int r, boolean proportional, Stopwatch clock) {
        VitWeights.Block b = w.blocks[layer];
        int rows = batch * tokens;
        int remove = TokenReducer.cap(r, tokens, classToken, distToken);

        layerNorm(x, xn, rows, b.norm1Weight, b.norm1Bias);
        clock.lap(Phase.LAYER_NORM);
        MatMul.run(pool, xn, 0, rows, qkv[layer], qkvOut, 0, false, MatMul.Epilogue.NONE);
        clock.lap(Phase.QKV);
        attention(batch, tokens, proportional, remove > 0 && signal == TokenReducer.Signal.CLASS_ATTENTION);
        clock.lap(Phase.ATTENTION);
        residual(attnOut, proj[layer], b.ls1, rows);
        clock.lap(Phase.PROJ);

        if (remove > 0) {
            tokens = reduce(layer, batch, tokens, remove);
            rows = batch * tokens;
            clock.lap(Phase.MATCH_AND_MERGE);
        }

        layerNorm(x, xn, rows, b.norm2Weight, b.norm2Bias);
        clock.lap(Phase.LAYER_NORM);
        MatMul.run(pool, xn, 0, rows, fc1[layer], hiddenOut, 0, false, MatMul.Epilogue.GELU);
        residual(hiddenOut, fc2[layer], b.ls2, rows);
        clock.lap(Phase.MLP);
        return tokens;
    }

    private void layerNorm(float[] in, float[] out, int rows, float[] weight, float[] bias) {
        Activations.layerNormRows(pool, in, out, rows, dim, weight, bias, LN_EPS);
    }

    /** Every (image, head), with proportional attention once tokens have merged. */
    private void attention(int batch, int tokens, boolean proportional, boolean keepClassAttention) {
        int stride = 3 * dim;
        float[] logSizes = proportional ? logSize : null;
        pool.run(batch * heads, task -> {
            int b = task / heads, h = task % heads;
            attention.get().run(qkvOut, b * tokens * stride, stride, dim, h * headDim, tokens, scale,
                    logSizes, b * tokens, attnOut, b * tokens * dim + h * headDim, dim);
            if (keepClassAttention) classAttentionRow(b, h, tokens, logSizes);
        });
    }

    /**
     * The class token's row of this head's attention probabilities, softmax(q₀·kᵀ·scale + log size),
     * into {@code classAttention}: one more row of what {@link Attention} computed, for reducers that
     * rank tokens by it.
     */
    private void classAttentionRow(int b, int h, int tokens, float[] logSizes) {
        int stride = 3 * dim;
        int base = b * tokens * stride, q = base + h * headDim, out = (b * heads + h) * tokens;
        for (int j = 0; j < tokens; j++) {
            int k = base + j * stride + dim + h * headDim;
            float s = 0;
            for (int d = 0; d < headDim; d++) s += (qkvOut[q + d] * scale) * qkvOut[k + d];
            classAttention[out + j] = logSizes != null ? s + logSizes[b * tokens + j] : s;
        }
        Activations.softmax(classAttention, out, tokens);
    }

    /** x += a·Wᵀ + bias, or x += γ·(a·Wᵀ + bias) with layer scale. */
    private void residual(float[] a, PackedMatrix weight, float[] gamma, int rows) {
        if (gamma == null) {
            MatMul.run(pool, a, 0, rows, weight, x, 0, true, MatMul.Epilogue.NONE);
            return;
        }
        MatMul.run(pool, a, 0, rows, weight, sublayer, 0, false, MatMul.Epilogue.NONE);
        for (int i = 0; i < rows; i++) {
            for (int d = 0; d < dim; d++) x[i * dim + d] += gamma[d] * sublayer[i * dim + d];
        }
    }

    /** Removes {@code remove} tokens from every image; returns the tokens left. */
    private int reduce(int layer, int batch, int tokens, int remove) {
        pool.run(batch, b -> planAndMerge(layer, b, tokens, remove));
        swapInMerged();
        int left = plans[0].outTokens;
        float[] sizes = size, logSizes = logSize;
        pool.run(batch, b -> {
            for (int i = b * left; i < (b + 1) * left; i++) logSizes[i] = (float) Math.log(sizes[i]);
        });
        return left;
    }

    /**
     * One image: the signal the reducer asks for (for ToMe, the keys averaged over heads), its plan,
     * and the plan applied: tokens that share a target average (weighted by size) into the other buffer.
     */
    private void planAndMerge(int layer, int b, int tokens, int remove) {
        int inBase = b * tokens;
        MergePlan plan = plans[b];
        TokenReducer reducer = reducers[b];
        switch (signal) {
            case KEYS -> {
                int stride = 3 * dim, mBase = b * tokens * headDim;
                for (int t = 0; t < tokens; t++) {
                    int k = (b * tokens + t) * stride + dim;
                    int m = mBase + t * headDim;
                    for (int d = 0; d < headDim; d++) {
                        float sum = 0;
                        for (int h = 0; h < heads; h++) sum += qkvOut[k + h * headDim + d];
                        metric[m + d] = sum / heads;
                    }
                }
                reducer.plan(new TokenReducer.TokenRows(metric, mBase, headDim, size, inBase, tokens, classToken, distToken), remove, plan);
            }
            case CLASS_ATTENTION -> {
                int rows = b * heads * tokens;
                for (int t = 0; t < tokens; t++) {
                    float sum = 0;
                    for (int h = 0; h < heads; h++) sum += classAttention[rows + h * tokens + t];
                    metric[inBase + t] = sum / heads;
                }
                reducer.plan(new TokenReducer.TokenRows(metric, inBase, 1, size, inBase, tokens, classToken, distToken), remove, plan);
            }
            case FEATURES -> reducer.plan(new TokenReducer.TokenRows(x, inBase * dim, dim, size, inBase, tokens, classToken, distToken), remove, plan);
        }
        int left = plan.outTokens, outBase = b * left;
        plan.apply(x, inBase * dim, size, inBase, tokens, dim, xMerged, outBase * dim, sizeMerged, outBase);
        for (int t = 0; t < inputTokens; t++) {
            int at = b * inputTokens + t;
            tokenOf[at] = plan.target[tokenOf[at]];
        }
        MergeTrace tr = trace;
        if (tr != null) {
            synchronized (this) {
                tr.merged(layer, b, plan, sizeMerged, outBase, left);
            }
        }
    }

    /** The learned module on {@code tokens} tokens per image; returns the tokens it leaves, each of size 1. */
    private int learn(int batch, int tokens, ForwardResult out, Stopwatch clock) {
        out.moduleTokens = tokens;
        learnedTokens.run(pool, x, xn, batch, tokens, xMerged, sizeMerged, tokenOf, inputTokens);
        swapInMerged();
        int left = learnedTokens.tokensOut();
        Arrays.fill(logSize, 0, batch * left, 0f);
        clock.lap(Phase.MATCH_AND_MERGE);
        return left;
    }

    /** What a reduction wrote into xMerged and sizeMerged becomes the stream. */
    private void swapInMerged() {
        float[] t = x;
        x = xMerged;
        xMerged = t;
        t = size;
        size = sizeMerged;
        sizeMerged = t;
    }

    /** Final norm, pooling (class token or mean of patch tokens) and the classifier head(s). */
    private void classify(int batch, int tokens, ForwardResult out) {
        for (int b = 0; b < batch; b++) {
            int base = b * tokens * dim;
            if (cfg.globalPool() == GlobalPool.AVG) {
                Arrays.fill(pooled, b * dim, (b + 1) * dim, 0f);
                for (int t = prefix; t < tokens; t++) {
                    int at = base + t * dim;
                    if (w.normWeight != null) {
                        Activations.layerNorm(x, at, normed, 0, dim, w.normWeight, w.normBias, LN_EPS);
                        Vectors.axpy(1f, normed, 0, pooled, b * dim, dim);
                    } else {
                        Vectors.axpy(1f, x, at, pooled, b * dim, dim);
                    }
                }
                Vectors.divide(pooled, b * dim, dim, tokens - prefix);
                if (w.fcNormWeight != null) {
                    System.arraycopy(pooled, b * dim, normed, 0, dim);
                    Activations.layerNorm(normed, 0, pooled, b * dim, dim, w.fcNormWeight, w.fcNormBias, LN_EPS);
                }
            } else {
                normOrCopy(x, base, pooled, b * dim);
                if (distToken) normOrCopy(x, base + dim, pooledDist, b * dim);
            }
        }
        MatMul.run(pool, pooled, 0, batch, head, out.logits, 0, false, MatMul.Epilogue.NONE);
        if (distToken) {
            // DeiT's eval output: the mean of the class and distillation heads
            MatMul.run(pool, pooledDist, 0, batch, headDist, logitsDist, 0, false, MatMul.Epilogue.NONE);
            for (int i = 0; i < batch * classes; i++) out.logits[i] = (out.logits[i] + logitsDist[i]) / 2;
        }
    }

    private void normOrCopy(float[] src, int at, float[] dst, int to) {
        if (w.normWeight != null) Activations.layerNorm(src, at, dst, to, dim, w.normWeight, w.normBias, LN_EPS);
        else System.arraycopy(src, at, dst, to, dim);
    }

    // ---------------------------------------------------------------- helpers

    private void ensureCapacity(int batch) {
        if (batch <= capacity) return;
        int rows = batch * inputTokens;
        im2col = new float[batch * patches * patchLen];
        embedded = new float[batch * patches * dim];
        x = new float[rows * dim];
        xMerged = new float[rows * dim];
        xn = new float[rows * dim];
        qkvOut = new float[rows * 3 * dim];
        attnOut = new float[rows * dim];
        hiddenOut = new float[rows * hidden];
        sublayer = new float[rows * dim];
        metric = new float[rows * headDim];
        classAttention = signal == TokenReducer.Signal.CLASS_ATTENTION ? new float[rows * heads] : null;
        size = new float[rows];
        sizeMerged = new float[rows];
        logSize = new float[rows];
        tokenOf = new int[rows];
        pooled = new float[batch * dim];
        pooledDist = new float[batch * dim];
        logitsDist = new float[batch * classes];
        normed = new float[dim];
        plans = Arrays.copyOf(plans, batch);
        reducers = Arrays.copyOf(reducers, batch);
        for (int i = capacity; i < batch; i++) {
            plans[i] = new MergePlan(inputTokens);
            reducers[i] = newReducer.get();
        }
        capacity = batch;
    }

    private static void add(float[] a, int ai, float[] b, int bi, float[] out, int oi, int n) {
        for (int i = 0; i < n; i++) out[oi + i] = a[ai + i] + b[bi + i];
    }

    /** Charges the time since the last lap to a phase. */
    private static final class Stopwatch {
        private final long[] nanos;
        private long start = System.nanoTime();

        Stopwatch(long[] nanos) {
            this.nanos = nanos;
        }

        void lap(Phase phase) {
            long now = System.nanoTime();
            nanos[phase.ordinal()] += now - start;
            start = now;
        }
    }

    @Override
    public void close() {
        pool.close();
    }
}
