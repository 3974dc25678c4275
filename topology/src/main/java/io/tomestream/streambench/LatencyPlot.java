package io.tomestream.streambench;

import io.tomestream.plot.PlotText;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Latency against offered load, one pair of curves (p50 dashed, p99 solid) per budget, on a log scale:
 * an overloaded fixed budget's latency grows by orders of magnitude, which a linear axis would flatten.
 */
final class LatencyPlot {
    private static final int WIDTH = 960, HEIGHT = 600, LEFT = 90, RIGHT = 30, TOP = 60, BOTTOM = 70;
    private static final Color[] COLORS = {new Color(0xd62728), new Color(0x1f77b4), new Color(0x2ca02c), new Color(0x9467bd)};

    /** One budget's curve: offered events/s and latencies, one point per rate. */
    record Series(String name, List<double[]> points) {
        /** @param point {offered, p50, p99} */
        Series {
            points = List.copyOf(points);
        }
    }

    private LatencyPlot() {
    }

    /** @param targetMs drawn as a horizontal line when positive */
    static void write(List<Series> series, String title, long targetMs, Path file) throws IOException {
        System.setProperty("java.awt.headless", "true");
        double xMax = 0, yMin = Double.POSITIVE_INFINITY, yMax = 0;
        for (Series s : series) {
            for (double[] p : s.points()) {
                xMax = Math.max(xMax, p[0]);
                yMin = Math.min(yMin, Math.max(1, p[1]));
                yMax = Math.max(yMax, p[2]);
            }
        }
        if (targetMs > 0) {
            yMin = Math.min(yMin, targetMs);
            yMax = Math.max(yMax, targetMs);
        }
        double decadeLo = Math.floor(Math.log10(Math.max(1, yMin))), decadeHi = Math.ceil(Math.log10(Math.max(10, yMax)));
        if (decadeHi <= decadeLo) decadeHi = decadeLo + 1;
        double xTop = niceCeil(xMax * 1.05);

        BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = PlotText.canvas(image);
        int plotW = WIDTH - LEFT - RIGHT, plotH = HEIGHT - TOP - BOTTOM;
        Font small = new Font(Font.SANS_SERIF, Font.PLAIN, 13);
        g.setFont(small);
        FontMetrics fm = g.getFontMetrics();
        double lo = decadeLo, hi = decadeHi;
        java.util.function.DoubleUnaryOperator px = v -> LEFT + v / xTop * plotW;
        java.util.function.DoubleUnaryOperator py = v -> TOP + plotH - (Math.log10(Math.max(1, v)) - lo) / (hi - lo) * plotH;

        for (int i = 0; i <= 5; i++) {
            double v = xTop * i / 5;
            int x = (int) px.applyAsDouble(v);
            g.setColor(new Color(0xe6e6e6));
            g.drawLine(x, TOP, x, TOP + plotH);
            g.setColor(Color.DARK_GRAY);
            String s = String.format(Locale.ROOT, v >= 100 ? "%.0f" : "%.1f", v);
            g.drawString(s, x - fm.stringWidth(s) / 2, TOP + plotH + 8 + fm.getAscent());
        }
        for (double d = lo; d <= hi; d++) {
            for (int m = 1; m < 10; m++) {
                double v = Math.pow(10, d) * m;
                if (Math.log10(v) > hi + 1e-9) break;
                int y = (int) py.applyAsDouble(v);
                g.setColor(m == 1 ? new Color(0xd0d0d0) : new Color(0xf0f0f0));
                g.drawLine(LEFT, y, LEFT + plotW, y);
                if (m == 1) {
                    g.setColor(Color.DARK_GRAY);
                    String s = v >= 1000 ? String.format(Locale.ROOT, "%.0f s", v / 1000) : String.format(Locale.ROOT, "%.0f ms", v);
                    g.drawString(s, LEFT - 9 - fm.stringWidth(s), y + fm.getAscent() / 2 - 1);
                }
            }
        }
        g.setColor(Color.DARK_GRAY);
        g.drawRect(LEFT, TOP, plotW, plotH);
        if (targetMs > 0) {
            int y = (int) py.applyAsDouble(targetMs);
            g.setColor(Color.GRAY);
            g.setStroke(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {3, 4}, 0));
            g.drawLine(LEFT, y, LEFT + plotW, y);
            g.drawString("latency target " + targetMs + " ms", LEFT + 8, y - 5);
        }
        PlotText.axesAndTitle(g, new java.awt.Rectangle(LEFT, TOP, plotW, plotH), WIDTH, HEIGHT,
                "offered load (events/s)", "latency, event time to result (log scale)", title);

        g.setFont(small);
        int legendY = TOP + 18;
        for (int c = 0; c < series.size(); c++) {
            Series s = series.get(c);
            Color color = COLORS[c % COLORS.length];
            List<double[]> pts = new ArrayList<>(s.points());
            pts.sort((a, b) -> Double.compare(a[0], b[0]));
            for (int q = 1; q <= 2; q++) {
                g.setColor(color);
                g.setStroke(q == 2 ? new BasicStroke(2.2f) : new BasicStroke(1.6f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10, new float[] {7, 5}, 0));
                for (int i = 0; i < pts.size(); i++) {
                    int x = (int) px.applyAsDouble(pts.get(i)[0]), y = (int) py.applyAsDouble(pts.get(i)[q]);
                    g.fillOval(x - 4, y - 4, 8, 8);
                    if (i > 0) g.drawLine((int) px.applyAsDouble(pts.get(i - 1)[0]), (int) py.applyAsDouble(pts.get(i - 1)[q]), x, y);
                }
            }
            g.setStroke(new BasicStroke(2.2f));
            g.drawLine(LEFT + 12, legendY - 4, LEFT + 40, legendY - 4);
            g.setColor(Color.BLACK);
            g.drawString("budget " + s.name() + ": p99 (solid), p50 (dashed)", LEFT + 48, legendY);
            legendY += 18;
        }
        g.dispose();
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        if (!ImageIO.write(image, "png", file.toFile())) throw new IOException("no PNG writer");
    }

    private static double niceCeil(double v) {
        if (v <= 0) return 1;
        double step = Math.pow(10, Math.floor(Math.log10(v)));
        for (double m : new double[] {1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10}) {
            if (m * step >= v) return m * step;
        }
        return 10 * step;
    }
}
