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
import io.tomestream.model.MsVit;
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
 *
 * <p>An MSViT model gives each image its own token count when it splits regions by its gate's
 * threshold. The backend then runs the images of each count as one rectangular batch, in turn: every
 * row of a product, a LayerNorm or an attention is computed alike whatever else is in the batch, so
 * an image's result never depends on its batch.
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
    /** The model's mixed-scale tokenization, or null for a plain ViT. */
    private final MsVit msvit;
    private final int regions;
    private final PackedMatrix gateFc1, gateFc2;
    private final float[] coarsePos; // [regions × dim] the mean of each region's fine position embeddings
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
    private int[] imageOf;          // [B] the image of the batch each row of the stream holds
    // MSViT only
    private float[] coarseIm2col;   // [B × regions × patchLen] each region average-pooled to one patch
    private float[] coarseEmbedded; // [B × regions × dim] coarse tokens, without positions
    private float[] gateNormed;     // [B × regions × dim] the gate's layer norm
    private float[] gateHidden;     // [B × regions × gateHidden] the gate's hidden layer
    private float[] gateLogits;     // [B × regions] sigmoid of it is the probability of a split
    private boolean[] split;        // [B × regions] the regions that enter as their fine tokens
    private int[] imageTokens;      // [B] tokens entering block 1
    private int[] order;            // [B] the images by token count
    private int[] groupTokens;      // [depth + 1] one group's tokens entering block 1, then after each block
    private float[] groupLogits;    // [B × classes] one group's logits, before they go to their images

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
        this.msvit = model.config().msvit();
        // A learned module (or MSViT) names the reduction; a budget with another reducer than ToMe is named too.
        String module = model.config().module();
        this.reducerName = module == null ? probe.name()
                : probe.name().equals(Reducer.TOME.label()) ? module : probe.name() + "+" + module;
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
        regions = msvit == null ? 0 : msvit.regions();
        gateFc1 = msvit == null ? null : new PackedMatrix(w.gate.fc1Weight, w.gate.fc1Bias, msvit.gateHidden(), dim);
        gateFc2 = msvit == null ? null : new PackedMatrix(w.gate.fc2Weight, w.gate.fc2Bias, 1, msvit.gateHidden());
        coarsePos = msvit == null ? null : coarsePositions();
        groupTokens = new int[depth + 1];
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
        forward(pixels, batch, rPerLayer, -1, out);
    }

    @Override
    public void forward(float[] pixels, int batch, int[] rPerLayer, int splits, ForwardResult out) {
        if (rPerLayer.length != cfg.depth()) {
            throw new IllegalArgumentException("need one r per block (" + cfg.depth() + "), got " + rPerLayer.length);
        }
        if (learned != null) learned.checkBudget(rPerLayer);
        if (splits >= 0 && msvit == null) throw new IllegalArgumentException("the model has no msvit, so no split budget (split=" + splits + ")");
        if (msvit != null && splits > regions) {
            throw new IllegalArgumentException("split=" + splits + ": the model has " + regions + " regions to split");
        }
        int imageLen = cfg.inChans() * cfg.imgSize() * cfg.imgSize();
        if (pixels.length < batch * imageLen) throw new IllegalArgumentException("pixels hold fewer than " + batch + " images");
        ensureCapacity(batch);
        out.prepare(batch, classes, cfg.depth(), inputTokens);
        Stopwatch clock = new Stopwatch(out.phaseNanos);

        embed(pixels, batch);
        if (msvit != null) {
            mixedScale(pixels, batch, rPerLayer, splits, out, clock);
            return;
        }
        pool.run(batch, this::assemble);
        Arrays.fill(size, 0, batch * inputTokens, 1f);
        for (int b = 0; b < batch; b++) {
            imageOf[b] = b;
            for (int t = 0; t < inputTokens; t++) tokenOf[b * inputTokens + t] = t;
        }
        clock.lap(Phase.PATCH_EMBED);
        int tokens = blocks(batch, inputTokens, rPerLayer, out.tokens, out, clock);
        classify(batch, tokens, out.logits);
        clock.lap(Phase.HEAD);
        System.arraycopy(tokenOf, 0, out.sources, 0, batch * inputTokens);
    }

    /**
     * The blocks, and the learned token reducer between them, on {@code tokens} tokens per image in
     * the stream's first {@code batch} rows. {@code counts} gets the tokens entering block 1, then
     * after each block. Returns the tokens at the last block.
     */
    private int blocks(int batch, int tokens, int[] rPerLayer, int[] counts, ForwardResult out, Stopwatch clock) {
        out.moduleTokens = 0;
        if (learned != null && learned.afterBlock() == -1) tokens = learn(batch, tokens, out, clock);
        int entering = tokens;
        counts[0] = tokens;
        for (int layer = 0; layer < cfg.depth(); layer++) {
            // Sizes are all 1 until the first merge, and log 1 = 0: attention is plain until then.
            boolean proportional = tokens < entering;
            tokens = block(layer, batch, tokens, rPerLayer[layer], proportional, clock);
            if (learned != null && layer == learned.afterBlock()) tokens = learn(batch, tokens, out, clock);
            counts[layer + 1] = tokens;
        }
        return tokens;
    }

    // ------------------------------------------------------------------ steps

    /** Every patch of every image through the patch embedding, into {@code embedded}. */
    private void embed(float[] pixels, int batch) {
        pool.run(batch, b -> im2col(pixels, b));
        MatMul.run(pool, im2col, 0, batch * patches, patchEmbed, embedded, 0, false, MatMul.Epilogue.NONE);
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

    /**
     * MSViT: each region's coarse token and its gate, the regions each image splits (its {@code splits}
     * most likely, or by the threshold when -1), then the blocks and the head on each group of images
     * with the same token count.
     */
    private void mixedScale(float[] pixels, int batch, int[] rPerLayer, int splits, ForwardResult out, Stopwatch clock) {
        int rows = batch * regions;
        pool.run(batch, b -> coarseIm2col(pixels, b));
        MatMul.run(pool, coarseIm2col, 0, rows, patchEmbed, coarseEmbedded, 0, false, MatMul.Epilogue.NONE);
        Activations.layerNormRows(pool, coarseEmbedded, gateNormed, rows, dim, w.gate.normWeight, w.gate.normBias, LN_EPS);
        MatMul.run(pool, gateNormed, 0, rows, gateFc1, gateHidden, 0, false, MatMul.Epilogue.GELU);
        MatMul.run(pool, gateHidden, 0, rows, gateFc2, gateLogits, 0, false, MatMul.Epilogue.NONE);
        for (int b = 0; b < batch; b++) {
            imageTokens[b] = msvit.tokens(prefix, chooseSplits(b, splits));
            order[b] = b;
        }
        // by token count, stably: an insertion sort, as batches are small
        for (int i = 1; i < batch; i++) {
            int b = order[i], j = i - 1;
            for (; j >= 0 && imageTokens[order[j]] > imageTokens[b]; j--) order[j + 1] = order[j];
            order[j + 1] = b;
        }
        clock.lap(Phase.PATCH_EMBED);
        out.prepareMixed();
        out.prepareSplits(regions);
        System.arraycopy(split, 0, out.split, 0, rows);
        int depth = cfg.depth();
        for (int from = 0, to; from < batch; from = to) {
            int tokens = imageTokens[order[from]];
            for (to = from; to < batch && imageTokens[order[to]] == tokens; to++) imageOf[to - from] = order[to];
            int group = to - from;
            pool.run(group, i -> assembleMixed(i, tokens));
            clock.lap(Phase.PATCH_EMBED);
            int last = blocks(group, tokens, rPerLayer, groupTokens, out, clock);
            classify(group, last, groupLogits);
            for (int i = 0; i < group; i++) {
                int b = imageOf[i];
                System.arraycopy(groupLogits, i * classes, out.logits, b * classes, classes);
                System.arraycopy(groupTokens, 0, out.imageTokens, b * (depth + 1), depth + 1);
                System.arraycopy(tokenOf, i * inputTokens, out.sources, b * inputTokens, inputTokens);
                if (b == 0) System.arraycopy(groupTokens, 0, out.tokens, 0, depth + 1);
            }
            clock.lap(Phase.HEAD);
        }
    }

    /** Each region of image b, f × f average-pooled to one patch, as a row in the patch embedding's (channel, y, x) order. */
    private void coarseIm2col(float[] pixels, int b) {
        int p = cfg.patchSize(), img = cfg.imgSize(), chans = cfg.inChans(), f = msvit.factor(), side = msvit.regionsPerSide();
        int coarse = msvit.coarsePatch(), imageBase = b * chans * img * img;
        float cells = f * f;
        for (int ry = 0; ry < side; ry++) {
            for (int rx = 0; rx < side; rx++) {
                int row = (b * regions + ry * side + rx) * patchLen;
                for (int c = 0; c < chans; c++) {
                    for (int ky = 0; ky < p; ky++) {
                        for (int kx = 0; kx < p; kx++) {
                            int at = imageBase + c * img * img + (ry * coarse + ky * f) * img + rx * coarse + kx * f;
                            float sum = 0;
                            for (int dy = 0; dy < f; dy++) {
                                for (int dx = 0; dx < f; dx++) sum += pixels[at + dy * img + dx];
                            }
                            coarseIm2col[row + (c * p + ky) * p + kx] = sum / cells;
                        }
                    }
                }
            }
        }
    }

    /**
     * Marks image b's split regions: its {@code splits} largest gate logits (ties: the lower region
     * first), or with -1 those whose sigmoid reaches the threshold. Returns how many.
     */
    private int chooseSplits(int b, int splits) {
        int base = b * regions;
        if (splits < 0) {
            int count = 0;
            for (int r = 0; r < regions; r++) {
                float probability = (float) (1.0 / (1.0 + Math.exp(-gateLogits[base + r])));
                split[base + r] = probability >= msvit.threshold();
                if (split[base + r]) count++;
            }
            return count;
        }
        Arrays.fill(split, base, base + regions, false);
        for (int k = 0; k < splits; k++) {
            int best = -1;
            for (int r = 0; r < regions; r++) {
                if (!split[base + r] && (best < 0 || gateLogits[base + r] > gateLogits[base + best])) best = r;
            }
            split[base + best] = true;
        }
        return splits;
    }

    /**
     * Row i of the stream: image imageOf[i]'s prefix tokens, then its regions in raster order, a coarse
     * region as its one token and a split region as its fine tokens in raster order, each plus its
     * position. Every fine patch is held by the token it entered in.
     */
    private void assembleMixed(int i, int tokens) {
        int b = imageOf[i], base = i * tokens * dim, src = i * inputTokens, fine = msvit.factor() * msvit.factor();
        if (classToken) add(w.clsToken, 0, w.posEmbed, 0, x, base, dim);
        if (distToken) add(w.distToken, 0, w.posEmbed, dim, x, base + dim, dim);
        for (int t = 0; t < prefix; t++) tokenOf[src + t] = t;
        int t = prefix;
        for (int r = 0; r < regions; r++) {
            if (split[b * regions + r]) {
                for (int j = 0; j < fine; j++, t++) {
                    int patch = msvit.finePatch(r, j);
                    add(embedded, (b * patches + patch) * dim, w.posEmbed, (prefix + patch) * dim, x, base + t * dim, dim);
                    tokenOf[src + prefix + patch] = t;
                }
            } else {
                add(coarseEmbedded, (b * regions + r) * dim, coarsePos, r * dim, x, base + t * dim, dim);
                for (int j = 0; j < fine; j++) tokenOf[src + prefix + msvit.finePatch(r, j)] = t;
                t++;
            }
        }
        Arrays.fill(size, i * tokens, (i + 1) * tokens, 1f);
    }

    private float[] coarsePositions() {
        int fine = msvit.factor() * msvit.factor();
        float[] pos = new float[regions * dim];
        for (int r = 0; r < regions; r++) {
            for (int d = 0; d < dim; d++) {
                float sum = 0;
                for (int j = 0; j < fine; j++) sum += w.posEmbed[(prefix + msvit.finePatch(r, j)) * dim + d];
                pos[r * dim + d] = sum / fine;
            }
        }
        return pos;
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
                tr.merged(layer, imageOf[b], plan, sizeMerged, outBase, left);
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

    /** Final norm, pooling (class token or mean of patch tokens) and the classifier head(s), into {@code logits}. */
    private void classify(int batch, int tokens, float[] logits) {
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
        MatMul.run(pool, pooled, 0, batch, head, logits, 0, false, MatMul.Epilogue.NONE);
        if (distToken) {
            // DeiT's eval output: the mean of the class and distillation heads
            MatMul.run(pool, pooledDist, 0, batch, headDist, logitsDist, 0, false, MatMul.Epilogue.NONE);
            for (int i = 0; i < batch * classes; i++) logits[i] = (logits[i] + logitsDist[i]) / 2;
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
        imageOf = new int[batch];
        if (msvit != null) {
            int r = batch * regions;
            coarseIm2col = new float[r * patchLen];
            coarseEmbedded = new float[r * dim];
            gateNormed = new float[r * dim];
            gateHidden = new float[r * msvit.gateHidden()];
            gateLogits = new float[r];
            split = new boolean[r];
            imageTokens = new int[batch];
            order = new int[batch];
            groupLogits = new float[batch * classes];
        }
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
