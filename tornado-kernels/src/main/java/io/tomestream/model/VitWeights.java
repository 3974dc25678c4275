package io.tomestream.model;

import java.util.SplittableRandom;

/**
 * The tensors of a timm VisionTransformer, as float32 in timm's layouts: a Linear weight is
 * [out, in], the patch-embedding convolution is [embed, in_chans, patch, patch].
 */
public final class VitWeights {
    public float[] patchWeight, patchBias;
    public float[] clsToken, distToken; // distToken is null for models without distillation
    public float[] posEmbed;
    public Block[] blocks;
    public float[] normWeight, normBias; // final norm before pooling; null when the model uses fc_norm
    public float[] fcNormWeight, fcNormBias; // norm after avg pooling; null otherwise
    public float[] headWeight, headBias;
    public float[] headDistWeight, headDistBias;
    public Learned learned; // null for a plain ViT
    public Gate gate;       // MSViT's gate; null for a plain ViT

    /** MSViT's gate, {@code msvit.gate.*}: LayerNorm, fc1, GELU, fc2 on a region's coarse token. */
    public static final class Gate {
        public float[] normWeight, normBias; // [C]
        public float[] fc1Weight, fc1Bias;   // [H, C], [H]
        public float[] fc2Weight, fc2Bias;   // [1, H], [1]
    }

    /** A learned token reducer's tensors, under its section's name: {@code token_learner.*} or {@code patch_merger.*}. */
    public static final class Learned {
        public float[] normWeight, normBias;       // [C]
        public float[] fc1Weight, fc1Bias;         // TokenLearner: [hidden, C], [hidden]
        public float[] fc2Weight, fc2Bias;         // TokenLearner: [S, hidden], [S]
        public float[] queries;                    // PatchMerger: [M, C]
    }

    public static final class Block {
        public float[] norm1Weight, norm1Bias;
        public float[] qkvWeight, qkvBias; // qkvBias is zeros when the model has none
        public float[] projWeight, projBias;
        public float[] ls1, ls2; // layer-scale gammas, null when absent
        public float[] norm2Weight, norm2Bias;
        public float[] fc1Weight, fc1Bias;
        public float[] fc2Weight, fc2Bias;
    }

    public boolean distilled() {
        return distToken != null;
    }

    /** Number of tokens that carry no patch: the class token and the distillation token. */
    public int prefixTokens(ModelConfig c) {
        return (c.classToken() ? 1 : 0) + (distilled() ? 1 : 0);
    }

    /** Loads and shape-checks every tensor the config needs, using timm's key names. */
    public static VitWeights load(ModelConfig c, SafeTensors st) throws ModelException {
        int d = c.embedDim(), p = c.patchSize(), h = c.mlpHidden();
        VitWeights w = new VitWeights();
        w.patchWeight = st.floats("patch_embed.proj.weight", d, c.inChans(), p, p);
        w.patchBias = st.floats("patch_embed.proj.bias", d);
        if (c.classToken()) w.clsToken = st.floats("cls_token", 1, 1, d);
        if (st.has("dist_token")) {
            if (!c.classToken()) throw new ModelException("the weights have a dist_token but the model has no class token");
            w.distToken = st.floats("dist_token", 1, 1, d);
        }
        int tokens = c.numPatches() + w.prefixTokens(c);
        w.posEmbed = st.floats("pos_embed", 1, tokens, d);
        w.blocks = new Block[c.depth()];
        for (int i = 0; i < c.depth(); i++) {
            String k = "blocks." + i + ".";
            Block b = new Block();
            b.norm1Weight = st.floats(k + "norm1.weight", d);
            b.norm1Bias = st.floats(k + "norm1.bias", d);
            b.qkvWeight = st.floats(k + "attn.qkv.weight", 3L * d, d);
            b.qkvBias = c.qkvBias() ? st.floats(k + "attn.qkv.bias", 3L * d) : new float[3 * d];
            b.projWeight = st.floats(k + "attn.proj.weight", d, d);
            b.projBias = st.floats(k + "attn.proj.bias", d);
            if (st.has(k + "ls1.gamma")) b.ls1 = st.floats(k + "ls1.gamma", d);
            if (st.has(k + "ls2.gamma")) b.ls2 = st.floats(k + "ls2.gamma", d);
            b.norm2Weight = st.floats(k + "norm2.weight", d);
            b.norm2Bias = st.floats(k + "norm2.bias", d);
            b.fc1Weight = st.floats(k + "mlp.fc1.weight", h, d);
            b.fc1Bias = st.floats(k + "mlp.fc1.bias", h);
            b.fc2Weight = st.floats(k + "mlp.fc2.weight", d, h);
            b.fc2Bias = st.floats(k + "mlp.fc2.bias", d);
            w.blocks[i] = b;
        }
        // timm puts the final norm after pooling (fc_norm) for avg-pooled models
        if (st.has("fc_norm.weight")) {
            w.fcNormWeight = st.floats("fc_norm.weight", d);
            w.fcNormBias = st.floats("fc_norm.bias", d);
        } else {
            w.normWeight = st.floats("norm.weight", d);
            w.normBias = st.floats("norm.bias", d);
        }
        w.headWeight = st.floats("head.weight", c.numClasses(), d);
        w.headBias = st.floats("head.bias", c.numClasses());
        if (w.distilled()) {
            w.headDistWeight = st.floats("head_dist.weight", c.numClasses(), d);
            w.headDistBias = st.floats("head_dist.bias", c.numClasses());
        }
        if (c.learned() != null) w.learned = learned(c.learned(), d, st);
        if (c.msvit() != null) w.gate = gate(c.msvit(), d, st);
        return w;
    }

    private static Learned learned(LearnedReducer r, int d, SafeTensors st) throws ModelException {
        String k = r.kind().label() + ".";
        Learned l = new Learned();
        l.normWeight = st.floats(k + "norm.weight", d);
        l.normBias = st.floats(k + "norm.bias", d);
        if (r.kind() == LearnedReducer.Kind.TOKEN_LEARNER) {
            l.fc1Weight = st.floats(k + "mlp.fc1.weight", r.hidden(), d);
            l.fc1Bias = st.floats(k + "mlp.fc1.bias", r.hidden());
            l.fc2Weight = st.floats(k + "mlp.fc2.weight", r.tokens(), r.hidden());
            l.fc2Bias = st.floats(k + "mlp.fc2.bias", r.tokens());
        } else {
            l.queries = st.floats(k + "queries", r.tokens(), d);
        }
        return l;
    }

    private static Gate gate(MsVit m, int d, SafeTensors st) throws ModelException {
        Gate g = new Gate();
        g.normWeight = st.floats("msvit.gate.norm.weight", d);
        g.normBias = st.floats("msvit.gate.norm.bias", d);
        g.fc1Weight = st.floats("msvit.gate.fc1.weight", m.gateHidden(), d);
        g.fc1Bias = st.floats("msvit.gate.fc1.bias", m.gateHidden());
        g.fc2Weight = st.floats("msvit.gate.fc2.weight", 1, m.gateHidden());
        g.fc2Bias = st.floats("msvit.gate.fc2.bias", 1);
        return g;
    }

    /**
     * Seeded random weights for speed measurements of a shape no weights exist for. Scales follow
     * timm's init closely enough that activations stay in a realistic range.
     */
    public static VitWeights random(ModelConfig c, boolean distilled, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int d = c.embedDim(), p = c.patchSize(), h = c.mlpHidden();
        VitWeights w = new VitWeights();
        w.patchWeight = gaussian(rnd, d * c.inChans() * p * p, (float) Math.sqrt(1.0 / (c.inChans() * p * p)));
        w.patchBias = gaussian(rnd, d, 0.02f);
        if (c.classToken()) w.clsToken = gaussian(rnd, d, 0.02f);
        if (distilled) w.distToken = gaussian(rnd, d, 0.02f);
        w.posEmbed = gaussian(rnd, (c.numPatches() + w.prefixTokens(c)) * d, 0.02f);
        w.blocks = new Block[c.depth()];
        float lin = (float) Math.sqrt(1.0 / d);
        for (int i = 0; i < c.depth(); i++) {
            Block b = new Block();
            b.norm1Weight = constant(d, 1f);
            b.norm1Bias = new float[d];
            b.qkvWeight = gaussian(rnd, 3 * d * d, lin);
            b.qkvBias = new float[3 * d];
            b.projWeight = gaussian(rnd, d * d, lin);
            b.projBias = new float[d];
            b.norm2Weight = constant(d, 1f);
            b.norm2Bias = new float[d];
            b.fc1Weight = gaussian(rnd, h * d, lin);
            b.fc1Bias = new float[h];
            b.fc2Weight = gaussian(rnd, d * h, (float) Math.sqrt(1.0 / h));
            b.fc2Bias = new float[d];
            w.blocks[i] = b;
        }
        if (c.globalPool() == GlobalPool.AVG) {
            w.fcNormWeight = constant(d, 1f);
            w.fcNormBias = new float[d];
        } else {
            w.normWeight = constant(d, 1f);
            w.normBias = new float[d];
        }
        w.headWeight = gaussian(rnd, c.numClasses() * d, lin);
        w.headBias = new float[c.numClasses()];
        if (distilled) {
            w.headDistWeight = gaussian(rnd, c.numClasses() * d, lin);
            w.headDistBias = new float[c.numClasses()];
        }
        return w;
    }

    private static float[] gaussian(SplittableRandom rnd, int n, float std) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            // Box-Muller; SplittableRandom has no nextGaussian in every JDK we target
            double u = 1.0 - rnd.nextDouble(), v = rnd.nextDouble();
            a[i] = (float) (std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
        }
        return a;
    }

    private static float[] constant(int n, float v) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return a;
    }
}
