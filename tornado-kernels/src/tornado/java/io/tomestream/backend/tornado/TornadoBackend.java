package io.tomestream.backend.tornado;

import io.tomestream.backend.Backend;
import io.tomestream.backend.ForwardResult;
import io.tomestream.backend.MergeTrace;
import io.tomestream.backend.Phase;
import io.tomestream.merge.MergePlan;
import io.tomestream.merge.TokenReducer;
import io.tomestream.model.ModelConfig;
import io.tomestream.model.VitModel;
import uk.ac.manchester.tornado.api.GridScheduler;
import uk.ac.manchester.tornado.api.ImmutableTaskGraph;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.TornadoExecutionResult;
import uk.ac.manchester.tornado.api.WorkerGrid1D;
import uk.ac.manchester.tornado.api.WorkerGrid2D;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;
import uk.ac.manchester.tornado.api.exceptions.TornadoExecutionPlanException;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.collections.VectorFloat8;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The ViT forward pass with ToMe on a TornadoVM device. The weights go to the device once, with the
 * first execution, and stay there; a batch sends its pixels and a few step counters, and brings back
 * its logits and where each input token ended. Three task graphs share their activation buffers on the
 * device: the embedding, one block (run once per layer, the layer's weights picked by the step
 * counters) and the head. Buffers are sized for a maximum batch; a larger batch rebuilds them.
 */
public final class TornadoBackend implements Backend {
    private static final int LOCAL = 64;
    /** Work-group shape of the matmul tiles: 16 feature groups × 4 row blocks, 64 work items. */
    private static final int TILE_X = 16, TILE_Y = 4;

    private final VitModel model;
    private final ModelConfig cfg;
    private final TornadoDevice device;
    private final DeviceWeights w;
    private final int dim, heads, headDim, hidden, classes, inputTokens, prefix, imageLen;
    private final boolean classToken, distToken;
    private MergeTrace trace;

    private int capacity;
    private Buffers buf;
    private TornadoExecutionPlan plan;
    /** The block's grids that {@link #sizeBlockGrids} resizes at every launch. */
    private WorkerGrid1D geluGrid, expGrid, mergeGrid, copyGrid;

    /** Device memory of one capacity: activations, merge scratch, step counters, inputs and outputs. */
    private static final class Buffers {
        final FloatArray pixels, x, size, xn, qkv, attn, hidden, scores, probs, logSize, rowMax, rowInv, unit, nodeMax, xMerged,
                sizeMerged, pooled, pooledDist, logits;
        final VectorFloat8 keys, values;
        final IntArray tokenOf, sources, nodeIdx, order, target, members, memberStart;
        final Step embedStep = new Step(), blockStep = new Step(), headStep = new Step();

        Buffers(int batch, int inputTokens, int dim, int hidden, int heads, int headDim, int classes, int imageLen) {
            int rows = batch * inputTokens;
            pixels = new FloatArray(batch * imageLen);
            x = new FloatArray(rows * dim);
            size = new FloatArray(rows);
            xn = new FloatArray(rows * dim);
            qkv = new FloatArray(rows * 3 * dim);
            attn = new FloatArray(rows * dim);
            // GELU and exp have no early exit, so their last work group writes up to a whole group past the live entries
            this.hidden = new FloatArray(roundUp(rows * hidden, LOCAL));
            int keyStride = keyStride(inputTokens);
            scores = new FloatArray(rows * heads * keyStride);
            probs = new FloatArray(roundUp(rows * heads * keyStride, LOCAL));
            logSize = new FloatArray(batch * keyStride);
            rowMax = new FloatArray(rows * heads);
            rowInv = new FloatArray(rows * heads);
            keys = new VectorFloat8(batch * heads * headDim * keyStride / KernelMath.LANES);
            values = new VectorFloat8(rows * heads * headDim / KernelMath.LANES);
            unit = new FloatArray(rows * headDim);
            nodeMax = new FloatArray(rows);
            xMerged = new FloatArray(rows * dim);
            sizeMerged = new FloatArray(rows);
            pooled = new FloatArray(batch * dim);
            pooledDist = new FloatArray(batch * dim);
            logits = new FloatArray(batch * classes);
            tokenOf = new IntArray(rows);
            sources = new IntArray(rows);
            nodeIdx = new IntArray(rows);
            order = new IntArray(rows);
            target = new IntArray(rows);
            members = new IntArray(rows);
            memberStart = new IntArray(batch * (inputTokens + 1));
        }
    }

    TornadoBackend(VitModel model, TornadoDevice device, int maxBatch) {
        this.model = model;
        this.cfg = model.config();
        this.device = device;
        dim = cfg.embedDim();
        heads = cfg.numHeads();
        headDim = cfg.headDim();
        if (headDim % KernelMath.LANES != 0) {
            throw new IllegalArgumentException("the TornadoVM backend needs a head width that is a multiple of " + KernelMath.LANES
                    + ", got " + headDim);
        }
        hidden = cfg.mlpHidden();
        classes = cfg.numClasses();
        inputTokens = model.inputTokens();
        prefix = model.prefixTokens();
        classToken = cfg.classToken();
        distToken = model.weights().distilled();
        imageLen = cfg.inChans() * cfg.imgSize() * cfg.imgSize();
        w = new DeviceWeights(model);
        build(Math.max(1, maxBatch));
    }

    @Override
    public String name() {
        return "tornado";
    }

    @Override
    public String device() {
        return "tornado " + TornadoProvider.describe(device);
    }

    @Override
    public void trace(MergeTrace trace) {
        this.trace = trace;
    }

    @Override
    public void reserve(int maxBatch) {
        if (maxBatch > capacity) build(maxBatch);
    }

    /** Allocates for {@code batch} images, builds the graphs and compiles them with one dummy batch. */
    private void build(int batch) {
        closePlan();
        capacity = batch;
        buf = new Buffers(batch, inputTokens, dim, hidden, heads, headDim, classes, imageLen);
        plan = new TornadoExecutionPlan(embedGraph(), blockGraph(), headGraph());
        plan.withGridScheduler(grids(batch)).withDevice(device);
        warmUp();
    }

    private ImmutableTaskGraph embedGraph() {
        Buffers b = buf;
        KernelContext ctx = new KernelContext();
        int dist = distToken ? 1 : 0, cls = classToken ? 1 : 0;
        return new TaskGraph("embed")
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, w.patchWeight, w.patchBias, w.posEmbed, w.clsToken, w.distToken,
                        b.x, b.size, b.tokenOf)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, b.pixels, b.embedStep.values)
                .task("patch", EmbedKernels::patchEmbed, ctx, b.pixels, w.patchWeight, w.patchBias, w.posEmbed, b.x, b.embedStep.values,
                        cfg.imgSize(), cfg.inChans(), cfg.patchSize(), dim, prefix, inputTokens)
                .task("prefix", EmbedKernels::prefixTokens, ctx, w.clsToken, w.distToken, w.posEmbed, b.x, b.size, b.tokenOf,
                        b.embedStep.values, dim, cls, dist, inputTokens)
                .persistOnDevice(b.x, b.size, b.tokenOf)
                .snapshot();
    }

    private ImmutableTaskGraph blockGraph() {
        Buffers b = buf;
        KernelContext ctx = new KernelContext();
        IntArray s = b.blockStep.values;
        int dist = distToken ? 1 : 0, cls = classToken ? 1 : 0;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        int keyStride = keyStride(inputTokens);
        return new TaskGraph("block")
                .consumeFromDevice("embed", b.x, b.size, b.tokenOf)
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, w.norm1, w.norm1Bias, w.qkvWeight, w.qkvBias, w.projWeight,
                        w.projBias, w.ls1, w.norm2, w.norm2Bias, w.fc1Weight, w.fc1Bias, w.fc2Weight, w.fc2Bias, w.ls2,
                        b.xn, b.qkv, b.attn, b.hidden, b.scores, b.probs, b.logSize, b.rowMax, b.rowInv, b.keys, b.values,
                        b.unit, b.nodeMax, b.nodeIdx, b.order, b.target, b.members, b.memberStart, b.xMerged, b.sizeMerged)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, s)
                .task("norm1", BlockKernels::layerNorm, ctx, b.x, b.xn, w.norm1, w.norm1Bias, s, Step.TOKENS, dim)
                .task("qkv", BlockKernels::matmul, ctx, b.xn, w.qkvWeight, w.qkvBias, w.ls1, b.qkv, s, Step.TOKENS, dim, 3 * dim,
                        KernelMath.PLAIN)
                .task("values", AttentionKernels::tokenLayout, ctx, b.qkv, b.size, b.values, b.logSize, s, heads, headDim, inputTokens,
                        keyStride)
                .task("keys", AttentionKernels::keysTransposed, ctx, b.qkv, b.keys, s, heads, headDim, keyStride)
                .task("scores", AttentionKernels::attentionScores, ctx, b.qkv, b.keys, b.logSize, b.scores, s, heads, headDim, keyStride,
                        scale)
                .task("max", AttentionKernels::rowMax, ctx, b.scores, b.rowMax, s, heads, keyStride)
                .task("exp", AttentionKernels::softmaxExp, ctx, b.scores, b.rowMax, b.probs, s, heads, keyStride)
                .task("sum", AttentionKernels::rowInverseSum, ctx, b.probs, b.rowInv, s, heads, keyStride)
                .task("attention", AttentionKernels::attentionValues, ctx, b.probs, b.rowInv, b.values, b.attn, s, heads, headDim, inputTokens,
                        keyStride)
                .task("proj", BlockKernels::matmul, ctx, b.attn, w.projWeight, w.projBias, w.ls1, b.x, s, Step.TOKENS, dim, dim,
                        KernelMath.RESIDUAL)
                .task("metric", MergeKernels::keyMetric, ctx, b.qkv, b.unit, s, heads, headDim)
                .task("match", MergeKernels::match, ctx, b.unit, b.nodeMax, b.nodeIdx, s, headDim, cls, dist, inputTokens)
                .task("rank", MergeKernels::rank, ctx, b.nodeMax, b.order, s, inputTokens)
                .task("plan", MergeKernels::plan, ctx, b.order, b.nodeIdx, b.target, b.members, b.memberStart, b.tokenOf, s, dist,
                        inputTokens, inputTokens)
                .task("merge", MergeKernels::mergeTokens, ctx, b.x, b.size, b.xMerged, b.sizeMerged, b.members, b.memberStart, s, dim,
                        inputTokens)
                .task("copy", MergeKernels::copyMerged, ctx, b.xMerged, b.sizeMerged, b.x, b.size, s, dim)
                .task("norm2", BlockKernels::layerNorm, ctx, b.x, b.xn, w.norm2, w.norm2Bias, s, Step.OUT_TOKENS, dim)
                .task("fc1", BlockKernels::matmul, ctx, b.xn, w.fc1Weight, w.fc1Bias, w.ls2, b.hidden, s, Step.OUT_TOKENS, dim, hidden,
                        KernelMath.PLAIN)
                .task("gelu", BlockKernels::geluInPlace, ctx, b.hidden, s, Step.OUT_TOKENS, hidden)
                .task("fc2", BlockKernels::matmul, ctx, b.hidden, w.fc2Weight, w.fc2Bias, w.ls2, b.x, s, Step.OUT_TOKENS, hidden, dim,
                        KernelMath.RESIDUAL)
                .persistOnDevice(b.x, b.size, b.tokenOf)
                .transferToHost(DataTransferMode.UNDER_DEMAND, b.order, b.nodeIdx, b.sizeMerged)
                .snapshot();
    }

    private ImmutableTaskGraph headGraph() {
        Buffers b = buf;
        KernelContext ctx = new KernelContext();
        IntArray s = b.headStep.values;
        int dist = distToken ? 1 : 0;
        int avg = cfg.globalPool() == io.tomestream.model.GlobalPool.AVG ? 1 : 0;
        int hasNorm = model.weights().normWeight != null ? 1 : 0, hasFcNorm = model.weights().fcNormWeight != null ? 1 : 0;
        return new TaskGraph("head")
                .consumeFromDevice("block", b.x, b.size, b.tokenOf)
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, w.norm, w.fcNorm, w.headWeight, w.headBias, w.headDistWeight,
                        w.headDistBias, b.pooled, b.pooledDist, b.sources)
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, s)
                .task("pool", HeadKernels::pool, ctx, b.x, b.pooled, b.pooledDist, w.norm, w.fcNorm, s, dim, prefix, avg, hasNorm,
                        hasFcNorm, dist)
                .task("head", HeadKernels::head, ctx, b.pooled, b.pooledDist, w.headWeight, w.headBias, w.headDistWeight,
                        w.headDistBias, b.logits, s, dim, classes, dist)
                // a graph can't send back a buffer it only consumes, so the sources go out through a copy
                .task("sources", HeadKernels::sources, ctx, b.tokenOf, b.sources, s, inputTokens)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, b.logits, b.sources)
                .snapshot();
    }

    /** One grid per task, for the largest batch and the input token count; kernels skip the rest. */
    private GridScheduler grids(int batch) {
        int rows = batch * inputTokens;
        GridScheduler g = new GridScheduler();
        tiles2d(g, "embed.patch", dim / KernelMath.LANES, (batch * cfg.numPatches() + KernelMath.ROWS - 1) / KernelMath.ROWS, TILE_X,
                TILE_Y);
        grid(g, "embed.prefix", rows);
        grid(g, "block.norm1", rows);
        tiles(g, "block.qkv", rows, 3 * dim);
        int keyStride = keyStride(inputTokens), queryBlocks = batch * heads * ((inputTokens + KernelMath.ROWS - 1) / KernelMath.ROWS);
        grid(g, "block.values", rows);
        grid(g, "block.keys", batch * heads * headDim * keyStride / KernelMath.LANES);
        tiles2d(g, "block.scores", keyStride / KernelMath.LANES, queryBlocks, 8, 8);
        grid(g, "block.max", rows * heads);
        expGrid = grid(g, "block.exp", rows * heads * keyStride);
        grid(g, "block.sum", rows * heads);
        int hd8 = headDim / KernelMath.LANES;
        tiles2d(g, "block.attention", hd8, queryBlocks, hd8, Math.max(1, LOCAL / hd8));
        tiles(g, "block.proj", rows, dim);
        grid(g, "block.metric", rows);
        grid(g, "block.match", batch * ((inputTokens + 1) / 2));
        grid(g, "block.rank", batch * ((inputTokens + 1) / 2));
        grid(g, "block.plan", batch);
        mergeGrid = grid(g, "block.merge", rows * dim);
        copyGrid = grid(g, "block.copy", rows * dim);
        grid(g, "block.norm2", rows);
        tiles(g, "block.fc1", rows, hidden);
        geluGrid = grid(g, "block.gelu", rows * hidden);
        tiles(g, "block.fc2", rows, dim);
        grid(g, "head.pool", batch);
        grid(g, "head.head", batch * classes);
        grid(g, "head.sources", rows);
        return g;
    }

    /** A 2-D grid of register tiles for a matmul of {@code rows} × {@code features} outputs. */
    private static void tiles(GridScheduler g, String task, int rows, int features) {
        int vectors = features / KernelMath.LANES;
        tiles2d(g, task, (vectors + KernelMath.VECTORS - 1) / KernelMath.VECTORS, (rows + KernelMath.ROWS - 1) / KernelMath.ROWS,
                TILE_X, TILE_Y);
    }

    /** x × y work items (each rounded up to its work-group side) in work groups of localX × localY. */
    private static void tiles2d(GridScheduler g, String task, int x, int y, int localX, int localY) {
        WorkerGrid2D worker = new WorkerGrid2D(roundUp(x, localX), roundUp(y, localY));
        worker.setLocalWork(localX, localY, 1);
        g.addWorkerGrid(task, worker);
    }

    /** Scores and probabilities rows: the input token count rounded up to whole vectors of keys. */
    private static int keyStride(int inputTokens) {
        return roundUp(inputTokens, KernelMath.LANES);
    }

    private static int roundUp(int n, int multiple) {
        return (n + multiple - 1) / multiple * multiple;
    }

    private static WorkerGrid1D grid(GridScheduler g, String task, int items) {
        WorkerGrid1D worker = new WorkerGrid1D(roundUp(items, LOCAL));
        worker.setLocalWork(LOCAL, 1, 1);
        g.addWorkerGrid(task, worker);
        return worker;
    }

    /**
     * Sizes the elementwise grids of one block launch to its live counts. TornadoVM reads a task's grid at
     * every launch, so these shrink with the tokens without a recompile: an item past the live counts
     * still costs a few ns on PoCL (the merge and copy grids were 1.3 ms a block each at r = 0 on
     * ViT-S/16, batch 8), and the GELU and exp kernels, which have no early exit so that PoCL vectorizes
     * them, would otherwise compute the whole input-token-sized grid in every block.
     */
    private void sizeBlockGrids(int batch, int tokens, int r) {
        int outTokens = tokens - r;
        setItems(geluGrid, batch * outTokens * hidden);
        setItems(expGrid, batch * heads * tokens * keyStride(inputTokens));
        int merged = r > 0 ? batch * outTokens * dim : 1; // without a merge these kernels return at once
        setItems(mergeGrid, merged);
        setItems(copyGrid, merged);
    }

    private static void setItems(WorkerGrid1D grid, int items) {
        grid.setGlobalWork(roundUp(Math.max(1, items), LOCAL), 1, 1);
    }

    /** Compiles every kernel now rather than on the first event: a dummy batch that merges in every block. */
    private void warmUp() {
        float[] pixels = new float[capacity * imageLen];
        SplittableRandom rnd = new SplittableRandom(1);
        for (int i = 0; i < pixels.length; i++) pixels[i] = (float) rnd.nextGaussian();
        int[] r = new int[cfg.depth()];
        Arrays.fill(r, 1);
        MergeTrace saved = trace;
        trace = null;
        forward(pixels, capacity, r, new ForwardResult());
        trace = saved;
    }

    @Override
    public void forward(float[] pixels, int batch, int[] rPerLayer, ForwardResult out) {
        if (rPerLayer.length != cfg.depth()) {
            throw new IllegalArgumentException("need one r per block (" + cfg.depth() + "), got " + rPerLayer.length);
        }
        if (batch < 1) throw new IllegalArgumentException("batch must be at least 1");
        if (pixels.length < batch * imageLen) throw new IllegalArgumentException("pixels hold fewer than " + batch + " images");
        if (batch > capacity) build(batch);
        out.prepare(batch, classes, cfg.depth(), inputTokens);
        long t0 = System.nanoTime();

        Buffers b = buf;
        MemorySegment.copy(pixels, 0, b.pixels.getSegment(), ValueLayout.JAVA_FLOAT, 0, batch * imageLen);
        b.embedStep.set(batch, 0, inputTokens, 0, inputTokens, false);
        plan.withGraph(0).execute();
        long t1 = System.nanoTime();
        out.phaseNanos[Phase.PATCH_EMBED.ordinal()] += t1 - t0;

        int tokens = inputTokens;
        boolean proportional = false;
        out.tokens[0] = tokens;
        for (int layer = 0; layer < cfg.depth(); layer++) {
            int r = TokenReducer.cap(rPerLayer[layer], tokens, classToken, distToken);
            b.blockStep.set(batch, layer, tokens, r, tokens - r, proportional);
            sizeBlockGrids(batch, tokens, r);
            TornadoExecutionResult result = plan.withGraph(1).execute();
            if (r > 0 && trace != null) traceMerges(result, layer, batch, tokens, r);
            tokens -= r;
            proportional |= r > 0;
            out.tokens[layer + 1] = tokens;
        }
        long t2 = System.nanoTime();
        out.phaseNanos[Phase.MLP.ordinal()] += t2 - t1; // the block's phases run as one graph

        b.headStep.set(batch, cfg.depth(), tokens, 0, tokens, proportional);
        plan.withGraph(2).execute();
        MemorySegment.copy(b.logits.getSegment(), ValueLayout.JAVA_FLOAT, 0, out.logits, 0, batch * classes);
        MemorySegment.copy(b.sources.getSegment(), ValueLayout.JAVA_INT, 0, out.sources, 0, batch * inputTokens);
        out.phaseNanos[Phase.HEAD.ordinal()] += System.nanoTime() - t2;
    }

    /** Brings the merge of one block back from the device, for tests and tracing only. */
    private void traceMerges(TornadoExecutionResult result, int layer, int batch, int tokens, int r) {
        Buffers b = buf;
        result.transferToHost(b.order, b.nodeIdx, b.sizeMerged);
        int outTokens = tokens - r;
        float[] sizes = new float[batch * outTokens];
        for (int i = 0; i < sizes.length; i++) sizes[i] = b.sizeMerged.get(i);
        for (int image = 0; image < batch; image++) {
            MergePlan p = new MergePlan(inputTokens);
            p.merged = r;
            p.outTokens = outTokens;
            int t0 = image * inputTokens;
            for (int i = 0; i < r; i++) {
                int a = b.order.get(t0 + i);
                p.src[i] = 2 * a;
                p.dst[i] = 2 * b.nodeIdx.get(t0 + a) + 1;
            }
            trace.merged(layer, image, p, sizes, image * outTokens, outTokens);
        }
    }

    private void closePlan() {
        if (plan == null) return;
        try {
            plan.freeDeviceMemory();
            plan.close();
        } catch (TornadoExecutionPlanException e) {
            // the plan's memory is gone either way
        }
        plan = null;
    }

    @Override
    public void close() {
        closePlan();
    }
}
