package io.tomestream.backend;

import io.tomestream.simd.Vectors;
import io.tomestream.merge.MergePlan;
import io.tomestream.merge.TokenReducer;
import io.tomestream.model.ModelConfig;
import io.tomestream.model.VitModel;
import io.tomestream.model.VitWeights;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;
import java.util.function.Supplier;

/**
 * The ViT forward pass with token reduction on the CPU: multi-threaded, SIMD through the Vector API.
 * Tokens of a batch live in one [batch × tokens × dim] array; every image of a batch removes the same
 * number of tokens per block, so the batch stays rectangular as it shrinks. The {@link TokenReducer}
 * (ToMe by default) is chosen at construction: the backend computes the signal it asks for, lets it
 * plan each image, and applies the plan. Buffers are sized for the largest batch seen and reused, so
 * a forward pass allocates nothing per layer.
 */
public final class CpuBackend implements Backend {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final float LN_EPS = 1e-6f;
    private static final int ROWS_PER_TASK = 16;

    private final ModelConfig cfg;
    private final VitWeights w;
    private final WorkerPool pool;
    private final int dim, heads, headDim, hidden, prefix, patches, patchLen, inputTokens, classes;
    private final boolean classToken, distToken;
    private final float scale;
    private final PackedMatrix patchEmbed, head, headDist;
    private final PackedMatrix[] qkv, proj, fc1, fc2;
    private final MatMul matmul = new MatMul();
    private final ThreadLocal<Attention> attention;
    private final Supplier<TokenReducer> newReducer;
    private final String reducerName;
    private final TokenReducer.Signal signal;
    private MergeTrace trace;

    // workspace, grown to the largest batch
    private int capacity;
    private float[] x, x2, xn, qkvOut, attnOut, hiddenOut, metric, size, size2, logSize, im2col, embedded, pooled, pooledDist, logitsDist, scratch;
    /** [batch × heads × tokens]: the class token's attention row per head, when the reducer asks for it. */
    private float[] classAttention;
    private int[] tokenOf;
    private MergePlan[] plans = new MergePlan[0];
    private TokenReducer[] reducers = new TokenReducer[0];

    private long[] phaseNanos;
    private long phaseStart;

    /** Ends the running phase, charging its time to {@code phase}, and starts the next. */
    private void lap(Phase phase) {
        long now = System.nanoTime();
        phaseNanos[phase.ordinal()] += now - phaseStart;
        phaseStart = now;
    }

    // the step in flight, read by the task lambdas below
    private int batch, tokens, layer, mergeR, outTokens;
    private float[] curPixels;
    private boolean proportional, captureClassAttention;

    /** With ToMe. */
    public CpuBackend(VitModel model, int threads) {
        this(model, threads, "tome");
    }

    /** @param reducer one of {@link TokenReducer#NAMES} */
    public CpuBackend(VitModel model, int threads, String reducer) {
        this(model, threads, reducerFactory(reducer));
    }

    private static Supplier<TokenReducer> reducerFactory(String name) {
        TokenReducer.create(name); // fails fast on an unknown name
        return () -> TokenReducer.create(name);
    }

    /** With reducers from {@code reducers}, one per image of a batch; tests pass their own. */
    CpuBackend(VitModel model, int threads, Supplier<TokenReducer> reducers) {
        TokenReducer probe = reducers.get();
        String why = probe.unsupported(model.config().classToken(), model.weights().distilled());
        if (why != null) throw new IllegalArgumentException(why);
        this.newReducer = reducers;
        this.reducerName = probe.name();
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
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String device() {
        return "cpu (" + pool.threads() + " threads, " + S.vectorBitSize() + "-bit SIMD)";
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
        int imageLen = cfg.inChans() * cfg.imgSize() * cfg.imgSize();
        if (pixels.length < batch * imageLen) throw new IllegalArgumentException("pixels hold fewer than " + batch + " images");
        ensureCapacity(batch);
        out.prepare(batch, classes, cfg.depth(), inputTokens);
        this.batch = batch;
        this.curPixels = pixels;
        tokens = inputTokens;
        proportional = false;
        phaseNanos = out.phaseNanos;
        phaseStart = System.nanoTime();

        embed();
        lap(Phase.PATCH_EMBED);
        Arrays.fill(size, 0, batch * tokens, 1f);
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < inputTokens; t++) tokenOf[b * inputTokens + t] = t;
        }
        out.tokens[0] = tokens;
        for (layer = 0; layer < cfg.depth(); layer++) {
            block(rPerLayer[layer]);
            out.tokens[layer + 1] = tokens;
        }
        classify(out);
        lap(Phase.HEAD);
        System.arraycopy(tokenOf, 0, out.sources, 0, batch * inputTokens);
        curPixels = null;
    }

    // ------------------------------------------------------------------ steps

    private void embed() {
        pool.run(batch, im2colTask);
        matmul.run(pool, im2col, 0, batch * patches, patchEmbed, embedded, 0, false, MatMul.Epilogue.NONE);
        pool.run(batch, assembleTask);
    }

    /** Patches as rows in (channel, y, x) order, matching the convolution weight's layout. */
    private final WorkerPool.Task im2colTask = this::im2colStep;

    private void im2colStep(int b) {
        int p = cfg.patchSize(), img = cfg.imgSize(), grid = cfg.gridSize(), chans = cfg.inChans();
        int imageBase = b * chans * img * img;
        for (int py = 0; py < grid; py++) {
            for (int px = 0; px < grid; px++) {
                int row = (b * patches + py * grid + px) * patchLen;
                for (int c = 0; c < chans; c++) {
                    for (int ky = 0; ky < p; ky++) {
                        System.arraycopy(curPixels, imageBase + c * img * img + (py * p + ky) * img + px * p,
                                im2col, row + (c * p + ky) * p, p);
                    }
                }
            }
        }
    }

    private final WorkerPool.Task assembleTask = this::assembleStep;

    private void assembleStep(int b) {
        int base = b * inputTokens * dim;
        if (classToken) add(w.clsToken, 0, w.posEmbed, 0, x, base, dim);
        if (distToken) add(w.distToken, 0, w.posEmbed, dim, x, base + dim, dim);
        for (int n = 0; n < patches; n++) {
            add(embedded, (b * patches + n) * dim, w.posEmbed, (prefix + n) * dim, x, base + (prefix + n) * dim, dim);
        }
    }

    private void block(int r) {
        VitWeights.Block b = w.blocks[layer];
        int rows = batch * tokens;
        mergeR = TokenReducer.cap(r, tokens, classToken, distToken);
        captureClassAttention = mergeR > 0 && signal == TokenReducer.Signal.CLASS_ATTENTION;
        layerNorm(x, xn, rows, b.norm1Weight, b.norm1Bias);
        lap(Phase.LAYER_NORM);
        matmul.run(pool, xn, 0, rows, qkv[layer], qkvOut, 0, false, MatMul.Epilogue.NONE);
        lap(Phase.QKV);
        pool.run(batch * heads, attentionTask);
        lap(Phase.ATTENTION);
        residual(attnOut, proj[layer], dim, b.ls1, rows);
        lap(Phase.PROJ);

        if (mergeR > 0) {
            pool.run(batch, mergeTask);
            float[] t = x; x = x2; x2 = t;
            t = size; size = size2; size2 = t;
            tokens = outTokens;
            rows = batch * tokens;
            proportional = true;
            pool.run(batch, logSizeTask);
            lap(Phase.MATCH_AND_MERGE);
        }

        layerNorm(x, xn, rows, b.norm2Weight, b.norm2Bias);
        lap(Phase.LAYER_NORM);
        matmul.run(pool, xn, 0, rows, fc1[layer], hiddenOut, 0, false, MatMul.Epilogue.GELU);
        residual(hiddenOut, fc2[layer], hidden, b.ls2, rows);
        lap(Phase.MLP);
    }

    /** x += a·Wᵀ + bias, or x += γ·(a·Wᵀ + bias) with layer scale. */
    private void residual(float[] a, PackedMatrix weight, int k, float[] gamma, int rows) {
        if (gamma == null) {
            matmul.run(pool, a, 0, rows, weight, x, 0, true, MatMul.Epilogue.NONE);
            return;
        }
        matmul.run(pool, a, 0, rows, weight, scratch, 0, false, MatMul.Epilogue.NONE);
        for (int i = 0; i < rows; i++) {
            for (int d = 0; d < dim; d++) x[i * dim + d] += gamma[d] * scratch[i * dim + d];
        }
    }

    private float[] lnIn, lnOut, lnWeight, lnBias;
    private int lnRows;

    private void layerNorm(float[] in, float[] out, int rows, float[] weight, float[] bias) {
        lnIn = in;
        lnOut = out;
        lnWeight = weight;
        lnBias = bias;
        lnRows = rows;
        pool.run((rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK, layerNormTask);
    }

    private final WorkerPool.Task layerNormTask = this::layerNormStep;

    private void layerNormStep(int task) {
        int end = Math.min(lnRows, (task + 1) * ROWS_PER_TASK);
        for (int i = task * ROWS_PER_TASK; i < end; i++) {
            Activations.layerNorm(lnIn, i * dim, lnOut, i * dim, dim, lnWeight, lnBias, LN_EPS);
        }
    }

    private final WorkerPool.Task attentionTask = this::attentionStep;

    /** One (image, head), with proportional attention once tokens have merged. */
    private void attentionStep(int task) {
        int b = task / heads, h = task % heads;
        int stride = 3 * dim;
        attention.get().run(qkvOut, b * tokens * stride, stride, dim, h * headDim, tokens, scale,
                proportional ? logSize : null, b * tokens, attnOut, b * tokens * dim + h * headDim, dim);
        if (captureClassAttention) classAttentionRow(b, h);
    }

    /**
     * The class token's row of this head's attention probabilities, softmax(q₀·kᵀ·scale + log size),
     * into {@code classAttention}: one more row of what {@link Attention} computed, for reducers that
     * rank tokens by it.
     */
    private void classAttentionRow(int b, int h) {
        int T = tokens, stride = 3 * dim;
        int base = b * T * stride, q = base + h * headDim, out = (b * heads + h) * T;
        for (int j = 0; j < T; j++) {
            int k = base + j * stride + dim + h * headDim;
            float s = 0;
            for (int d = 0; d < headDim; d++) s += (qkvOut[q + d] * scale) * qkvOut[k + d];
            classAttention[out + j] = proportional ? s + logSize[b * T + j] : s;
        }
        Activations.softmax(classAttention, out, T);
    }

    /**
     * One image: the signal the reducer asks for (for ToMe, the keys averaged over heads), its plan,
     * and the plan applied: tokens that share a target average (weighted by size) into the other buffer.
     */
    private final WorkerPool.Task mergeTask = this::mergeStep;

    private void mergeStep(int b) {
        int T = tokens;
        int inBase = b * T;
        MergePlan plan = plans[b];
        TokenReducer reducer = reducers[b];
        switch (signal) {
            case KEYS -> {
                int stride = 3 * dim, mBase = b * T * headDim;
                for (int t = 0; t < T; t++) {
                    int k = (b * T + t) * stride + dim;
                    int m = mBase + t * headDim;
                    for (int d = 0; d < headDim; d++) {
                        float sum = 0;
                        for (int h = 0; h < heads; h++) sum += qkvOut[k + h * headDim + d];
                        metric[m + d] = sum / heads;
                    }
                }
                reducer.plan(new TokenReducer.TokenRows(metric, mBase, headDim, size, inBase, T, classToken, distToken), mergeR, plan);
            }
            case CLASS_ATTENTION -> {
                int rows = b * heads * T;
                for (int t = 0; t < T; t++) {
                    float sum = 0;
                    for (int h = 0; h < heads; h++) sum += classAttention[rows + h * T + t];
                    metric[inBase + t] = sum / heads;
                }
                reducer.plan(new TokenReducer.TokenRows(metric, inBase, 1, size, inBase, T, classToken, distToken), mergeR, plan);
            }
            case FEATURES -> reducer.plan(new TokenReducer.TokenRows(x, inBase * dim, dim, size, inBase, T, classToken, distToken), mergeR, plan);
        }
        int outT = plan.outTokens;
        int outBase = b * outT;
        plan.apply(x, inBase * dim, size, inBase, T, dim, x2, outBase * dim, size2, outBase);
        for (int t = 0; t < inputTokens; t++) {
            int at = b * inputTokens + t;
            tokenOf[at] = plan.target[tokenOf[at]];
        }
        outTokens = outT;
        MergeTrace tr = trace;
        if (tr != null) {
            synchronized (this) {
                tr.merged(layer, b, plan, size2, outBase, outT);
            }
        }
    }

    private final WorkerPool.Task logSizeTask = this::logSizeStep;

    private void logSizeStep(int b) {
        int base = b * tokens;
        for (int t = 0; t < tokens; t++) logSize[base + t] = (float) Math.log(size[base + t]);
    }

    /** Final norm, pooling (class token or mean of patch tokens) and the classifier head(s). */
    private void classify(ForwardResult out) {
        int T = tokens;
        for (int b = 0; b < batch; b++) {
            int base = b * T * dim;
            if (cfg.globalPool().equals("avg")) {
                Arrays.fill(pooled, b * dim, (b + 1) * dim, 0f);
                for (int t = prefix; t < T; t++) {
                    int at = base + t * dim;
                    if (w.normWeight != null) {
                        Activations.layerNorm(x, at, scratch, 0, dim, w.normWeight, w.normBias, LN_EPS);
                        Vectors.axpy(1f, scratch, 0, pooled, b * dim, dim);
                    } else {
                        Vectors.axpy(1f, x, at, pooled, b * dim, dim);
                    }
                }
                Vectors.divide(pooled, b * dim, dim, T - prefix);
                if (w.fcNormWeight != null) {
                    System.arraycopy(pooled, b * dim, scratch, 0, dim);
                    Activations.layerNorm(scratch, 0, pooled, b * dim, dim, w.fcNormWeight, w.fcNormBias, LN_EPS);
                }
            } else {
                normOrCopy(x, base, pooled, b * dim);
                if (distToken) normOrCopy(x, base + dim, pooledDist, b * dim);
            }
        }
        matmul.run(pool, pooled, 0, batch, head, out.logits, 0, false, MatMul.Epilogue.NONE);
        if (distToken) {
            // DeiT's eval output: the mean of the class and distillation heads
            matmul.run(pool, pooledDist, 0, batch, headDist, logitsDist, 0, false, MatMul.Epilogue.NONE);
            for (int i = 0; i < batch * classes; i++) out.logits[i] = (out.logits[i] + logitsDist[i]) / 2;
        }
    }

    private void normOrCopy(float[] src, int at, float[] dst, int to) {
        if (w.normWeight != null) Activations.layerNorm(src, at, dst, to, dim, w.normWeight, w.normBias, LN_EPS);
        else System.arraycopy(src, at, dst, to, dim);
    }

    // ---------------------------------------------------------------- helpers

    private void ensureCapacity(int b) {
        if (b <= capacity) return;
        int rows = b * inputTokens;
        x = new float[rows * dim];
        x2 = new float[rows * dim];
        xn = new float[rows * dim];
        qkvOut = new float[rows * 3 * dim];
        attnOut = new float[rows * dim];
        hiddenOut = new float[rows * hidden];
        metric = new float[rows * headDim];
        size = new float[rows];
        size2 = new float[rows];
        logSize = new float[rows];
        im2col = new float[b * patches * patchLen];
        embedded = new float[b * patches * dim];
        pooled = new float[b * dim];
        pooledDist = new float[b * dim];
        logitsDist = new float[b * classes];
        scratch = new float[Math.max(rows * dim, dim)];
        classAttention = signal == TokenReducer.Signal.CLASS_ATTENTION ? new float[rows * heads] : null;
        tokenOf = new int[rows];
        plans = Arrays.copyOf(plans, b);
        reducers = Arrays.copyOf(reducers, b);
        for (int i = capacity; i < b; i++) {
            plans[i] = new MergePlan(inputTokens);
            reducers[i] = newReducer.get();
        }
        capacity = b;
    }

    private static void add(float[] a, int ai, float[] b, int bi, float[] out, int oi, int n) {
        for (int i = 0; i < n; i++) out[oi + i] = a[ai + i] + b[bi + i];
    }

    @Override
    public void close() {
        pool.close();
    }
}
