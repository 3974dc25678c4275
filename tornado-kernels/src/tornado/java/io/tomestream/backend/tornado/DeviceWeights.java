package io.tomestream.backend.tornado;

import io.tomestream.model.ModelConfig;
import io.tomestream.model.VitModel;
import io.tomestream.model.VitWeights;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.collections.VectorFloat8;

/**
 * The model's tensors as off-heap arrays for the device, each kind of block tensor concatenated over
 * all blocks so that one compiled block graph serves every layer (the layer picks its slice). Missing
 * layer scales become ones and missing norms a placeholder, so that every kernel sees the same shapes.
 *
 * <p>The matmul weights (patch embedding, QKV, projection, fc1, fc2) are stored transposed, [in × out]
 * per layer, as groups of eight output features ({@link VectorFloat8}): a work item of
 * {@link BlockKernels#matmul} reads eight adjacent outputs' weights with one vector load per input feature,
 * and neighbouring work items read neighbouring vectors, which coalesces on a GPU and lets a CPU OpenCL
 * device use its SIMD registers.
 */
final class DeviceWeights {
    final VectorFloat8 patchWeight, qkvWeight, projWeight, fc1Weight, fc2Weight;
    final FloatArray patchBias, posEmbed, clsToken, distToken;
    final FloatArray norm1, norm1Bias, qkvBias, projBias, ls1;
    final FloatArray norm2, norm2Bias, fc1Bias, fc2Bias, ls2;
    /** [weight | bias] of the final norm and of fc_norm; one zero when the model lacks them. */
    final FloatArray norm, fcNorm;
    final FloatArray headWeight, headBias, headDistWeight, headDistBias;

    DeviceWeights(VitModel model) {
        ModelConfig c = model.config();
        VitWeights w = model.weights();
        int d = c.embedDim(), depth = c.depth(), hidden = c.mlpHidden();
        patchWeight = transposed(1, d, c.inChans() * c.patchSize() * c.patchSize(), i -> w.patchWeight);
        patchBias = FloatArray.fromArray(w.patchBias);
        posEmbed = FloatArray.fromArray(w.posEmbed);
        clsToken = orPlaceholder(w.clsToken);
        distToken = orPlaceholder(w.distToken);
        VitWeights.Block[] b = w.blocks;
        norm1 = concat(depth, i -> b[i].norm1Weight);
        norm1Bias = concat(depth, i -> b[i].norm1Bias);
        qkvWeight = transposed(depth, 3 * d, d, i -> b[i].qkvWeight);
        qkvBias = concat(depth, i -> b[i].qkvBias);
        projWeight = transposed(depth, d, d, i -> b[i].projWeight);
        projBias = concat(depth, i -> b[i].projBias);
        ls1 = concat(depth, i -> b[i].ls1 != null ? b[i].ls1 : ones(d));
        norm2 = concat(depth, i -> b[i].norm2Weight);
        norm2Bias = concat(depth, i -> b[i].norm2Bias);
        fc1Weight = transposed(depth, hidden, d, i -> b[i].fc1Weight);
        fc1Bias = concat(depth, i -> b[i].fc1Bias);
        fc2Weight = transposed(depth, d, hidden, i -> b[i].fc2Weight);
        fc2Bias = concat(depth, i -> b[i].fc2Bias);
        ls2 = concat(depth, i -> b[i].ls2 != null ? b[i].ls2 : ones(d));
        norm = w.normWeight != null ? FloatArray.fromArray(join(w.normWeight, w.normBias)) : orPlaceholder(null);
        fcNorm = w.fcNormWeight != null ? FloatArray.fromArray(join(w.fcNormWeight, w.fcNormBias)) : orPlaceholder(null);
        headWeight = FloatArray.fromArray(w.headWeight);
        headBias = FloatArray.fromArray(w.headBias);
        headDistWeight = orPlaceholder(w.headDistWeight);
        headDistBias = orPlaceholder(w.headDistBias);
    }

    /** Bytes the weights take on the device. */
    long bytes() {
        long n = 0;
        for (FloatArray a : new FloatArray[] {patchBias, posEmbed, clsToken, distToken, norm1, norm1Bias, qkvBias, projBias, ls1,
                norm2, norm2Bias, fc1Bias, fc2Bias, ls2, norm, fcNorm, headWeight, headBias, headDistWeight, headDistBias}) {
            n += a.getNumBytesOfSegment();
        }
        for (VectorFloat8 v : new VectorFloat8[] {patchWeight, qkvWeight, projWeight, fc1Weight, fc2Weight}) n += v.getNumBytes();
        return n;
    }

    private static FloatArray concat(int depth, java.util.function.IntFunction<float[]> part) {
        int n = 0;
        for (int i = 0; i < depth; i++) n += part.apply(i).length;
        FloatArray out = new FloatArray(n);
        int at = 0;
        for (int i = 0; i < depth; i++) {
            float[] p = part.apply(i);
            for (float v : p) out.set(at++, v);
        }
        return out;
    }

    /** Each layer's [out × in] weight as [in × out], the layers one after another; out must be a multiple of 8. */
    private static VectorFloat8 transposed(int depth, int out, int in, java.util.function.IntFunction<float[]> part) {
        if (out % KernelMath.LANES != 0) {
            throw new IllegalArgumentException("the TornadoVM backend needs layer widths that are multiples of "
                    + KernelMath.LANES + ", got " + out);
        }
        FloatArray t = new FloatArray(depth * out * in);
        for (int l = 0; l < depth; l++) {
            float[] p = part.apply(l);
            int base = l * out * in;
            for (int o = 0; o < out; o++) {
                for (int i = 0; i < in; i++) t.set(base + i * out + o, p[o * in + i]);
            }
        }
        return new VectorFloat8(t);
    }

    private static float[] join(float[] a, float[] b) {
        float[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static float[] ones(int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, 1f);
        return a;
    }

    private static FloatArray orPlaceholder(float[] a) {
        return a != null ? FloatArray.fromArray(a) : new FloatArray(1);
    }
}
