package io.tomestream.eval;

import io.tomestream.image.InputSpec;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Which patches ended in the same token, drawn as the ToMe paper draws it: the model's input,
 * upscaled, next to the same image where the patches of each final token share one colour and a
 * line separates different tokens. Patches still alone at the end keep the plain image. For an
 * MSViT model, the input picture also shows the scale its gate chose for each region: a coarse
 * region as one cell, a split region as its fine cells.
 */
public final class TokenMap {
    private static final int TARGET = 448, GAP = 16, MARGIN = 16, CAPTION_LINE = 22;

    private TokenMap() {
    }

    /**
     * @param tensor  the preprocessed image as the model saw it (CHW, normalized), from {@code offset}
     * @param sources for each input token, the final token holding it; patch tokens follow {@code prefix} others
     * @param grid    patches per side
     * @param caption lines under the pictures
     */
    public static BufferedImage render(float[] tensor, int offset, InputSpec spec, int[] sources, int prefix, int grid,
                                       List<String> caption) {
        return render(tensor, offset, spec, sources, prefix, grid, null, 0, caption);
    }

    /**
     * @param split  MSViT: whether each region (raster order) entered as its fine tokens; null for other models
     * @param factor MSViT: fine patches per side of a region
     */
    public static BufferedImage render(float[] tensor, int offset, InputSpec spec, int[] sources, int prefix, int grid,
                                       boolean[] split, int factor, List<String> caption) {
        int h = spec.height(), w = spec.width(), channels = spec.channels();
        int scale = Math.max(1, (int) Math.round((double) TARGET / Math.max(h, w)));
        int pw = w * scale, ph = h * scale;
        int[] rgb = new int[h * w];
        float[] mean = spec.mean(), std = spec.std();
        for (int i = 0; i < h * w; i++) {
            int[] c = new int[3];
            for (int k = 0; k < 3; k++) {
                int ch = channels == 1 ? 0 : k;
                float v = (tensor[offset + ch * h * w + i] * std[ch] + mean[ch]) * 255f;
                c[k] = Math.max(0, Math.min(255, Math.round(v)));
            }
            rgb[i] = (c[0] << 16) | (c[1] << 8) | c[2];
        }
        int[] patchesPerToken = new int[sources.length];
        for (int n = 0; n < grid * grid; n++) patchesPerToken[sources[prefix + n]]++;
        // a colour per token with more than one patch, in the order their first patch appears
        int[] colorOf = new int[sources.length];
        java.util.Arrays.fill(colorOf, -1);
        int groups = 0;
        for (int n = 0; n < grid * grid; n++) {
            int t = sources[prefix + n];
            if (patchesPerToken[t] > 1 && colorOf[t] < 0) colorOf[t] = groups++;
        }
        int patch = h / grid;

        int width = 2 * pw + GAP + 2 * MARGIN;
        int height = ph + 2 * MARGIN + caption.size() * CAPTION_LINE + 6;
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        int left = MARGIN, right = MARGIN + pw + GAP;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int c = rgb[y * w + x];
                g.setColor(new Color(c));
                g.fillRect(left + x * scale, MARGIN + y * scale, scale, scale);
                int py = Math.min(grid - 1, y / patch), px = Math.min(grid - 1, x / patch);
                int token = sources[prefix + py * grid + px];
                if (colorOf[token] >= 0) c = blend(c, groupColor(colorOf[token]), 0.6f);
                g.setColor(new Color(c));
                g.fillRect(right + x * scale, MARGIN + y * scale, scale, scale);
            }
        }
        // a line wherever two neighbouring patches ended in different tokens
        int cell = patch * scale;
        g.setColor(new Color(20, 20, 20));
        g.setStroke(new BasicStroke(Math.max(1.5f, scale / 6f)));
        for (int py = 0; py < grid; py++) {
            for (int px = 0; px < grid; px++) {
                int t = sources[prefix + py * grid + px];
                int x0 = right + px * cell, y0 = MARGIN + py * cell;
                if (px + 1 < grid && sources[prefix + py * grid + px + 1] != t) g.drawLine(x0 + cell, y0, x0 + cell, y0 + cell);
                if (py + 1 < grid && sources[prefix + (py + 1) * grid + px] != t) g.drawLine(x0, y0 + cell, x0 + cell, y0 + cell);
            }
        }
        if (split != null) {
            // the chosen scale on the input: each region's outline, and a split region's fine cells
            int side = grid / factor, region = factor * cell;
            g.setColor(new Color(255, 255, 255));
            for (int r = 0; r < split.length; r++) {
                int x0 = left + (r % side) * region, y0 = MARGIN + (r / side) * region;
                g.drawRect(x0, y0, region, region);
                if (!split[r]) continue;
                for (int k = 1; k < factor; k++) {
                    g.drawLine(x0 + k * cell, y0, x0 + k * cell, y0 + region);
                    g.drawLine(x0, y0 + k * cell, x0 + region, y0 + k * cell);
                }
            }
        }
        g.setStroke(new BasicStroke(1f));
        g.setColor(Color.GRAY);
        g.drawRect(left - 1, MARGIN - 1, pw + 1, ph + 1);
        g.drawRect(right - 1, MARGIN - 1, pw + 1, ph + 1);

        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 15));
        FontMetrics fm = g.getFontMetrics();
        g.setColor(Color.BLACK);
        for (int i = 0; i < caption.size(); i++) {
            g.drawString(caption.get(i), MARGIN, MARGIN + ph + 8 + fm.getAscent() + i * CAPTION_LINE);
        }
        g.dispose();
        return out;
    }

    public static void write(BufferedImage image, Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        if (!ImageIO.write(image, "png", file.toFile())) throw new IOException("no PNG writer");
    }

    /** Well-spread hues: the golden angle around the colour wheel, alternating two brightnesses. */
    static int groupColor(int i) {
        float hue = (float) ((i * 0.6180339887498949) % 1.0);
        return Color.HSBtoRGB(hue, i % 2 == 0 ? 0.85f : 0.65f, i % 4 < 2 ? 1f : 0.8f) & 0xFFFFFF;
    }

    private static int blend(int a, int b, float t) {
        int r = Math.round(((a >> 16) & 255) * (1 - t) + ((b >> 16) & 255) * t);
        int gg = Math.round(((a >> 8) & 255) * (1 - t) + ((b >> 8) & 255) * t);
        int bl = Math.round((a & 255) * (1 - t) + (b & 255) * t);
        return (r << 16) | (gg << 8) | bl;
    }
}
