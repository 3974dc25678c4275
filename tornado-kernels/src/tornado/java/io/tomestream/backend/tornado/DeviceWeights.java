package io.tomestream.backend.tornado;

import io.tomestream.model.ModelConfig;
import io.tomestream.model.VitModel;
import io.tomestream.model.VitWeights;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;

/**
 * The model's tensors as off-heap arrays for the device, each kind of block tensor concatenated over
 * all blocks so that one compiled block graph serves every layer (the layer picks its slice). Missing
 * layer scales become ones and missing norms a placeholder, so that every kernel sees the same shapes.
 */
final class DeviceWeights {
    final FloatArray patchWeight, patchBias, posEmbed, clsToken, distToken;
    final FloatArray norm1, norm1Bias, qkvWeight, qkvBias, projWeight, projBias, ls1;
    final FloatArray norm2, norm2Bias, fc1Weight, fc1Bias, fc2Weight, fc2Bias, ls2;
    /** [weight | bias] of the final norm and of fc_norm; one zero when the model lacks them. */
    final FloatArray norm, fcNorm;
    final FloatArray headWeight, headBias, headDistWeight, headDistBias;

    DeviceWeights(VitModel model) {
        ModelConfig c = model.config();
        VitWeights w = model.weights();
        int d = c.embedDim(), depth = c.depth();
        patchWeight = FloatArray.fromArray(w.patchWeight);
        patchBias = FloatArray.fromArray(w.patchBias);
        posEmbed = FloatArray.fromArray(w.posEmbed);
        clsToken = orPlaceholder(w.clsToken);
        distToken = orPlaceholder(w.distToken);
        VitWeights.Block[] b = w.blocks;
        norm1 = concat(depth, i -> b[i].norm1Weight);
        norm1Bias = concat(depth, i -> b[i].norm1Bias);
        qkvWeight = concat(depth, i -> b[i].qkvWeight);
        qkvBias = concat(depth, i -> b[i].qkvBias);
        projWeight = concat(depth, i -> b[i].projWeight);
        projBias = concat(depth, i -> b[i].projBias);
        ls1 = concat(depth, i -> b[i].ls1 != null ? b[i].ls1 : ones(d));
        norm2 = concat(depth, i -> b[i].norm2Weight);
        norm2Bias = concat(depth, i -> b[i].norm2Bias);
        fc1Weight = concat(depth, i -> b[i].fc1Weight);
        fc1Bias = concat(depth, i -> b[i].fc1Bias);
        fc2Weight = concat(depth, i -> b[i].fc2Weight);
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
        for (FloatArray a : new FloatArray[] {patchWeight, patchBias, posEmbed, clsToken, distToken, norm1, norm1Bias, qkvWeight,
                qkvBias, projWeight, projBias, ls1, norm2, norm2Bias, fc1Weight, fc1Bias, fc2Weight, fc2Bias, ls2, norm, fcNorm,
                headWeight, headBias, headDistWeight, headDistBias}) {
            n += a.getNumBytesOfSegment();
        }
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
