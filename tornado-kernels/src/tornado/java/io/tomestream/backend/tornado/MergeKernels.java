package io.tomestream.backend.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.math.TornadoMath;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

import static io.tomestream.backend.tornado.KernelMath.*;

/**
 * ToMe on the device: the key metric, bipartite matching, the ranking of edges, the merge plan and the size-weighted merge, in the CPU backend's order of additions, so that the merge decisions are its.
 * See {@link KernelMath} for what the kernels share and {@link TornadoBackend} for the graphs that run them.
 */
final class MergeKernels {
    private MergeKernels() {
    }

    /** unit[b, t] = the keys of token t averaged over heads, divided by their norm. */
    static void keyMetric(KernelContext ctx, FloatArray qkv, FloatArray unit, IntArray step, int heads, int headDim) {
        int i = ctx.globalIdx;
        if (step.get(Step.R) == 0) return;
        if (i >= step.get(Step.BATCH) * step.get(Step.TOKENS)) return;
        int dim = heads * headDim;
        int k = i * 3 * dim + dim;
        int m = i * headDim;
        float sq = 0f;
        for (int d = 0; d < headDim; d++) {
            float sum = 0f;
            for (int h = 0; h < heads; h++) sum += qkv.get(k + h * headDim + d);
            float v = sum / heads;
            unit.set(m + d, v);
            sq += v * v;
        }
        float norm = TornadoMath.sqrt(sq);
        for (int d = 0; d < headDim; d++) unit.set(m + d, unit.get(m + d) / norm);
    }

    /**
     * For each A token (even positions) its most similar B token (odd positions) by cosine: ties keep
     * the lowest B index; the class token is never a source, the distillation token never a destination.
     */
    static void match(KernelContext ctx, FloatArray unit, FloatArray nodeMax, IntArray nodeIdx, IntArray step,
                      int headDim, int classToken, int distToken, int maxTokens) {
        int i = ctx.globalIdx;
        int tokens = step.get(Step.TOKENS);
        int nA = (tokens + 1) / 2, nB = tokens / 2;
        if (step.get(Step.R) == 0) return;
        if (i >= step.get(Step.BATCH) * nA) return;
        int b = i / nA, a = i % nA;
        float best = Float.NEGATIVE_INFINITY;
        int bestIdx = 0;
        int classTokenHere = a == 0 ? classToken : 0; // never a source; a flag, not !(a && b), as rank explains
        if (classTokenHere == 0) {
            int rowA = (b * tokens + 2 * a) * headDim;
            for (int c = distToken; c < nB; c++) {
                float s = dot(unit, rowA, unit, (b * tokens + 2 * c + 1) * headDim, headDim);
                if (s > best) {
                    best = s;
                    bestIdx = c;
                }
            }
        }
        nodeMax.set(b * maxTokens + a, best);
        nodeIdx.set(b * maxTokens + a, bestIdx);
    }

    /**
     * The place of each A token in the order of edge strength, strongest first, equal scores by index
     * and NaN last: the stable sort of the CPU backend, as a count of the edges that come before.
     */
    static void rank(KernelContext ctx, FloatArray nodeMax, IntArray order, IntArray step, int maxTokens) {
        int i = ctx.globalIdx;
        int nA = (step.get(Step.TOKENS) + 1) / 2;
        if (step.get(Step.R) == 0) return;
        if (i >= step.get(Step.BATCH) * nA) return;
        int b = i / nA, a = i % nA;
        float mine = nodeMax.get(b * maxTokens + a);
        int mineNaN = mine != mine ? 1 : 0;
        int before = 0;
        // Arithmetic on 0/1 flags rather than && and ||: TornadoVM 5.2's OpenCL code generator negates
        // compound conditions wrongly (it turned "x == y && o < a" into "x != y && o >= a").
        for (int o = 0; o < nA; o++) {
            float other = nodeMax.get(b * maxTokens + o);
            int otherNaN = other != other ? 1 : 0;
            int greater = other > mine ? 1 : 0;
            int equal = other == mine ? 1 : 0;
            int lower = o < a ? 1 : 0;
            before += (1 - otherNaN) * (mineNaN + (1 - mineNaN) * (greater + equal * lower)) + otherNaN * mineNaN * lower;
        }
        order.set(b * maxTokens + before, a);
    }

    /**
     * One image's plan, as BipartiteMatching: the output slot of every token (unmerged A tokens in
     * order, then B; the distillation token second), each input token's new holder, and for each output
     * slot the list of tokens that average into it, in ascending position as the CPU adds them.
     */
    static void plan(KernelContext ctx, IntArray order, IntArray nodeIdx, IntArray target, IntArray members,
                     IntArray memberStart, IntArray tokenOf, IntArray step, int distToken, int inputTokens, int maxTokens) {
        int b = ctx.globalIdx;
        int r = step.get(Step.R);
        if (r == 0) return;
        if (b >= step.get(Step.BATCH)) return;
        int tokens = step.get(Step.TOKENS);
        int nA = (tokens + 1) / 2, nB = tokens / 2;
        int t0 = b * maxTokens;
        // mark merged A tokens with -1 first
        for (int p = 0; p < tokens; p++) target.set(t0 + p, 0);
        for (int i = 0; i < r; i++) target.set(t0 + 2 * order.get(t0 + i), -1);
        int next = 0;
        if (distToken == 1) {
            target.set(t0, next++);
            target.set(t0 + 1, next++);
        }
        for (int a = distToken; a < nA; a++) {
            if (target.get(t0 + 2 * a) != -1) target.set(t0 + 2 * a, next++);
        }
        for (int c = distToken; c < nB; c++) target.set(t0 + 2 * c + 1, next++);
        for (int i = 0; i < r; i++) {
            int a = order.get(t0 + i);
            target.set(t0 + 2 * a, target.get(t0 + 2 * nodeIdx.get(t0 + a) + 1));
        }
        int outTokens = next;
        for (int t = 0; t < inputTokens; t++) {
            int at = b * inputTokens + t;
            tokenOf.set(at, target.get(t0 + tokenOf.get(at)));
        }
        // members of each output slot, by counting sort: stable, so ascending input position
        int s0 = b * (maxTokens + 1);
        for (int q = 0; q <= outTokens; q++) memberStart.set(s0 + q, 0);
        for (int p = 0; p < tokens; p++) {
            int q = target.get(t0 + p);
            memberStart.set(s0 + q + 1, memberStart.get(s0 + q + 1) + 1);
        }
        for (int q = 0; q < outTokens; q++) memberStart.set(s0 + q + 1, memberStart.get(s0 + q + 1) + memberStart.get(s0 + q));
        // the members array doubles as the fill cursor: fill from each slot's start, then restore the starts
        for (int p = 0; p < tokens; p++) {
            int q = target.get(t0 + p);
            int at = memberStart.get(s0 + q);
            members.set(t0 + at, p);
            memberStart.set(s0 + q, at + 1);
        }
        for (int q = outTokens; q > 0; q--) memberStart.set(s0 + q, memberStart.get(s0 + q - 1));
        memberStart.set(s0, 0);
    }

    /** Each output token: the size-weighted average of its members, and their summed size. */
    static void mergeTokens(KernelContext ctx, FloatArray x, FloatArray size, FloatArray xOut, FloatArray sizeOut,
                            IntArray members, IntArray memberStart, IntArray step, int dim, int maxTokens) {
        int i = ctx.globalIdx;
        int outTokens = step.get(Step.OUT_TOKENS);
        if (step.get(Step.R) == 0) return;
        if (i >= step.get(Step.BATCH) * outTokens * dim) return;
        int d = i % dim;
        int q = (i / dim) % outTokens;
        int b = i / (dim * outTokens);
        int tokens = step.get(Step.TOKENS);
        int s0 = b * (maxTokens + 1);
        float acc = 0f, total = 0f;
        for (int m = memberStart.get(s0 + q); m < memberStart.get(s0 + q + 1); m++) {
            int p = members.get(b * maxTokens + m);
            float s = size.get(b * tokens + p);
            acc += s * x.get((b * tokens + p) * dim + d);
            total += s;
        }
        xOut.set(i, acc / total);
        if (d == 0) sizeOut.set(b * outTokens + q, total);
    }

    /** The merged tokens back into the block's buffers, which the other graphs share. */
    static void copyMerged(KernelContext ctx, FloatArray xOut, FloatArray sizeOut, FloatArray x, FloatArray size,
                           IntArray step, int dim) {
        int i = ctx.globalIdx;
        int rows = step.get(Step.BATCH) * step.get(Step.OUT_TOKENS);
        if (step.get(Step.R) == 0) return;
        if (i >= rows * dim) return;
        x.set(i, xOut.get(i));
        if (i % dim == 0) size.set(i / dim, sizeOut.get(i / dim));
    }
}
