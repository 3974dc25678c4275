package io.tomestream.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Map;

/** The same ViT exported to ONNX (tools/reference/export_onnx.py), run by ONNX Runtime's CPU provider. */
final class OnnxModel implements AutoCloseable {
    private final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private final OrtSession session;
    private final long[] imageShape;

    OnnxModel(Path file, int threads, int channels, int size) throws OrtException {
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        options.setIntraOpNumThreads(threads);
        options.setInterOpNumThreads(1);
        options.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
        options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
        if (Boolean.getBoolean("ort.nospin")) options.addConfigEntry("session.intra_op.allow_spinning", "0");
        session = env.createSession(file.toString(), options);
        imageShape = new long[] {channels, size, size};
    }

    /** Logits [batch][classes] for {@code batch} CHW images packed in {@code pixels}. */
    float[][] run(float[] pixels, int batch) throws OrtException {
        long[] shape = {batch, imageShape[0], imageShape[1], imageShape[2]};
        int len = (int) (batch * imageShape[0] * imageShape[1] * imageShape[2]);
        try (OnnxTensor input = OnnxTensor.createTensor(env, FloatBuffer.wrap(pixels, 0, len), shape);
             OrtSession.Result result = session.run(Map.of("pixels", input))) {
            return (float[][]) result.get(0).getValue();
        }
    }

    @Override
    public void close() throws OrtException {
        session.close();
    }
}
