package io.tomestream.backend.tornado;

import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;
import uk.ac.manchester.tornado.api.types.collections.VectorFloat8;
import uk.ac.manchester.tornado.api.types.vectors.Float8;

import static io.tomestream.backend.tornado.KernelMath.*;

/**
 * The patch embedding (a register-tiled matmul over the im2col'd pixels, plus positions) and the class and distillation tokens.
 * See {@link KernelMath} for what the kernels share and {@link TornadoBackend} for the graphs that run them.
 */
final class EmbedKernels {
    private EmbedKernels() {
    }

    /**
     * x[b, prefix + n, j] = conv(pixels)[b, n, j] + bias[j] + pos[prefix + n, j], as a matmul of the
     * patches (read straight from the pixels) with the transposed weight: like {@link BlockKernels#matmul}, a work
     * item computes {@link KernelMath#ROWS} patches × {@link KernelMath#LANES} output features.
     */
    static void patchEmbed(KernelContext ctx, FloatArray pixels, VectorFloat8 weight, FloatArray bias, FloatArray pos,
                           FloatArray x, IntArray step, int img, int chans, int patch, int dim, int prefix, int inputTokens) {
        int grid = img / patch;
        int patches = grid * grid;
        int rows = step.get(Step.BATCH) * patches;
        int row = ctx.globalIdy * ROWS;
        if (row >= rows) return;
        int n8 = dim / LANES;
        int c8 = ctx.globalIdx;
        if (c8 >= n8) return;
        int p0 = pixelBase(Math.min(row, rows - 1), patches, grid, chans, img, patch);
        int p1 = pixelBase(Math.min(row + 1, rows - 1), patches, grid, chans, img, patch);
        int p2 = pixelBase(Math.min(row + 2, rows - 1), patches, grid, chans, img, patch);
        int p3 = pixelBase(Math.min(row + 3, rows - 1), patches, grid, chans, img, patch);
        Float8 acc0 = zero(), acc1 = zero(), acc2 = zero(), acc3 = zero();
        int kk = 0;
        for (int c = 0; c < chans; c++) {
            for (int ky = 0; ky < patch; ky++) {
                int off = (c * img + ky) * img;
                for (int kx = 0; kx < patch; kx++) {
                    Float8 wv = weight.get(kk * n8 + c8);
                    acc0 = Float8.add(acc0, Float8.mult(wv, splat(pixels.get(p0 + off + kx))));
                    acc1 = Float8.add(acc1, Float8.mult(wv, splat(pixels.get(p1 + off + kx))));
                    acc2 = Float8.add(acc2, Float8.mult(wv, splat(pixels.get(p2 + off + kx))));
                    acc3 = Float8.add(acc3, Float8.mult(wv, splat(pixels.get(p3 + off + kx))));
                    kk++;
                }
            }
        }
        int j = c8 * LANES;
        storePatch(x, acc0, bias, pos, row, j, patches, rows, dim, prefix, inputTokens);
        storePatch(x, acc1, bias, pos, row + 1, j, patches, rows, dim, prefix, inputTokens);
        storePatch(x, acc2, bias, pos, row + 2, j, patches, rows, dim, prefix, inputTokens);
        storePatch(x, acc3, bias, pos, row + 3, j, patches, rows, dim, prefix, inputTokens);
    }

    /** Where patch {@code row} (image b, patch n) starts in the pixels. */
    private static int pixelBase(int row, int patches, int grid, int chans, int img, int patch) {
        int b = row / patches, n = row % patches;
        int py = n / grid, px = n % grid;
        return (b * chans * img + py * patch) * img + px * patch;
    }

    private static void storePatch(FloatArray x, Float8 acc, FloatArray bias, FloatArray pos, int row, int j, int patches,
                                   int rows, int dim, int prefix, int inputTokens) {
        if (row >= rows) return;
        int b = row / patches, t = prefix + row % patches;
        int at = (b * inputTokens + t) * dim + j;
        int p = t * dim + j;
        x.set(at, (acc.getS0() + bias.get(j)) + pos.get(p));
        x.set(at + 1, (acc.getS1() + bias.get(j + 1)) + pos.get(p + 1));
        x.set(at + 2, (acc.getS2() + bias.get(j + 2)) + pos.get(p + 2));
        x.set(at + 3, (acc.getS3() + bias.get(j + 3)) + pos.get(p + 3));
        x.set(at + 4, (acc.getS4() + bias.get(j + 4)) + pos.get(p + 4));
        x.set(at + 5, (acc.getS5() + bias.get(j + 5)) + pos.get(p + 5));
        x.set(at + 6, (acc.getS6() + bias.get(j + 6)) + pos.get(p + 6));
        x.set(at + 7, (acc.getS7() + bias.get(j + 7)) + pos.get(p + 7));
    }

    /** The class and distillation tokens, every token's size 1, and each input token in its own slot. */
    static void prefixTokens(KernelContext ctx, FloatArray cls, FloatArray dist, FloatArray pos, FloatArray x,
                             FloatArray size, IntArray tokenOf, IntArray step, int dim, int classToken, int distToken, int inputTokens) {
        int i = ctx.globalIdx;
        if (i >= step.get(Step.BATCH) * inputTokens) return;
        int t = i % inputTokens;
        size.set(i, 1f);
        tokenOf.set(i, t);
        int at = i * dim;
        if (t == 0 && classToken == 1) {
            for (int d = 0; d < dim; d++) x.set(at + d, cls.get(d) + pos.get(d));
        }
        if (t == 1 && distToken == 1) {
            for (int d = 0; d < dim; d++) x.set(at + d, dist.get(d) + pos.get(dim + d));
        }
    }
}
