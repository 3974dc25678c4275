package io.tomestream.eval;

import io.tomestream.plot.PlotText;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Shape;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Path2D;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Accuracy against throughput as a PNG: one curve per reducer, each starting at the baseline (no
 * reduction) and running through its budgets in order of speed, every point labelled with its budget.
 * Drawn with Java2D, headless.
 */
public final class AccuracyPlot {
    private static final int WIDTH = 960, HEIGHT = 640;
    private static final int LEFT = 90, RIGHT = 30, TOP = 60, BOTTOM = 70;
    private static final Color[] COLORS = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c),
            new Color(0x9467bd), new Color(0xff7f0e), new Color(0x8c564b)};

    private AccuracyPlot() {
    }

    public static void write(Evaluation.Result result, String title, Path file) throws IOException {
        System.setProperty("java.awt.headless", "true");
        BufferedImage image = render(result, title);
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        if (!ImageIO.write(image, "png", file.toFile())) throw new IOException("no PNG writer");
    }

    static BufferedImage render(Evaluation.Result result, String title) {
        Evaluation.Row base = result.baseline();
        Map<String, List<Evaluation.Row>> curves = new LinkedHashMap<>();
        for (Evaluation.Row row : result.rows()) {
            if (row != base) curves.computeIfAbsent(row.label(), k -> new ArrayList<>()).add(row);
        }
        double xMin = Double.POSITIVE_INFINITY, xMax = Double.NEGATIVE_INFINITY, yMin = xMin, yMax = xMax;
        for (Evaluation.Row row : result.rows()) {
            xMin = Math.min(xMin, row.imagesPerSecond());
            xMax = Math.max(xMax, row.imagesPerSecond());
            yMin = Math.min(yMin, row.accuracy());
            yMax = Math.max(yMax, row.accuracy());
        }
        Axis x = Axis.of(xMin, xMax, 0.06), y = Axis.of(yMin, yMax, 0.10);

        BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = PlotText.canvas(image);
        int plotW = WIDTH - LEFT - RIGHT, plotH = HEIGHT - TOP - BOTTOM;
        Font small = new Font(Font.SANS_SERIF, Font.PLAIN, 13);

        // grid and ticks
        g.setFont(small);
        FontMetrics fm = g.getFontMetrics();
        for (double v : x.ticks()) {
            int px = LEFT + (int) Math.round(x.fraction(v) * plotW);
            g.setColor(new Color(0xe6e6e6));
            g.drawLine(px, TOP, px, TOP + plotH);
            g.setColor(Color.DARK_GRAY);
            g.drawLine(px, TOP + plotH, px, TOP + plotH + 5);
            String s = x.format(v);
            g.drawString(s, px - fm.stringWidth(s) / 2, TOP + plotH + 8 + fm.getAscent());
        }
        for (double v : y.ticks()) {
            int py = TOP + plotH - (int) Math.round(y.fraction(v) * plotH);
            g.setColor(new Color(0xe6e6e6));
            g.drawLine(LEFT, py, LEFT + plotW, py);
            g.setColor(Color.DARK_GRAY);
            g.drawLine(LEFT - 5, py, LEFT, py);
            String s = y.format(v);
            g.drawString(s, LEFT - 9 - fm.stringWidth(s), py + fm.getAscent() / 2 - 1);
        }
        g.setColor(Color.DARK_GRAY);
        g.setStroke(new BasicStroke(1.2f));
        g.drawRect(LEFT, TOP, plotW, plotH);

        PlotText.axesAndTitle(g, new java.awt.Rectangle(LEFT, TOP, plotW, plotH), WIDTH, HEIGHT,
                "throughput (images/s)", "top-1 accuracy (%)", title);

        // curves: the baseline, then each budget by throughput
        g.setFont(small);
        fm = g.getFontMetrics();
        int c = 0;
        List<String> names = new ArrayList<>(curves.keySet());
        for (String name : names) {
            Color color = COLORS[c++ % COLORS.length];
            List<Evaluation.Row> points = new ArrayList<>(curves.get(name));
            points.sort(Comparator.comparingDouble(Evaluation.Row::imagesPerSecond));
            points.addFirst(base);
            Path2D line = new Path2D.Double();
            for (int i = 0; i < points.size(); i++) {
                double px = LEFT + x.fraction(points.get(i).imagesPerSecond()) * plotW;
                double py = TOP + plotH - y.fraction(points.get(i).accuracy()) * plotH;
                if (i == 0) line.moveTo(px, py);
                else line.lineTo(px, py);
            }
            g.setColor(color);
            g.setStroke(new BasicStroke(2.2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
            g.draw(line);
            for (Evaluation.Row p : points.subList(1, points.size())) {
                double px = LEFT + x.fraction(p.imagesPerSecond()) * plotW;
                double py = TOP + plotH - y.fraction(p.accuracy()) * plotH;
                g.setColor(color);
                g.fill(marker(c - 1, px, py));
                g.setColor(color.darker());
                g.drawString(p.config().budget(), (float) px + 7, (float) py - 7);
            }
        }
        // the baseline on top
        double bx = LEFT + x.fraction(base.imagesPerSecond()) * plotW, by = TOP + plotH - y.fraction(base.accuracy()) * plotH;
        g.setColor(Color.BLACK);
        g.fill(new Rectangle2D.Double(bx - 5, by - 5, 10, 10));

        // legend, top right
        int rows = names.size() + 1, lineH = fm.getHeight() + 4;
        int legendW = 40 + names.stream().mapToInt(fm::stringWidth).max().orElse(0);
        legendW = Math.max(legendW, 40 + fm.stringWidth("no reduction"));
        int lx = LEFT + plotW - legendW - 12, ly = TOP + 12;
        g.setColor(new Color(255, 255, 255, 235));
        g.fillRect(lx, ly, legendW, rows * lineH + 8);
        g.setColor(Color.GRAY);
        g.setStroke(new BasicStroke(1f));
        g.drawRect(lx, ly, legendW, rows * lineH + 8);
        for (int i = 0; i < rows; i++) {
            int yy = ly + 4 + i * lineH + lineH / 2;
            if (i < names.size()) {
                Color color = COLORS[i % COLORS.length];
                g.setColor(color);
                g.setStroke(new BasicStroke(2.2f));
                g.drawLine(lx + 8, yy, lx + 28, yy);
                g.fill(marker(i, lx + 18, yy));
                g.setColor(Color.BLACK);
                g.drawString(names.get(i), lx + 34, yy + fm.getAscent() / 2 - 1);
            } else {
                g.setColor(Color.BLACK);
                g.fill(new Rectangle2D.Double(lx + 13, yy - 5, 10, 10));
                g.drawString("no reduction", lx + 34, yy + fm.getAscent() / 2 - 1);
            }
        }
        g.dispose();
        return image;
    }

    /** A circle, a diamond, a triangle, ... per curve. */
    private static Shape marker(int curve, double x, double y) {
        double r = 5;
        return switch (curve % 3) {
            case 0 -> new Ellipse2D.Double(x - r, y - r, 2 * r, 2 * r);
            case 1 -> {
                Path2D p = new Path2D.Double();
                p.moveTo(x, y - r - 1);
                p.lineTo(x + r + 1, y);
                p.lineTo(x, y + r + 1);
                p.lineTo(x - r - 1, y);
                p.closePath();
                yield p;
            }
            default -> {
                Path2D p = new Path2D.Double();
                p.moveTo(x, y - r - 1);
                p.lineTo(x + r + 1, y + r);
                p.lineTo(x - r - 1, y + r);
                p.closePath();
                yield p;
            }
        };
    }

    /** A linear axis with "nice" ticks (1, 2 or 5 × 10ⁿ apart) that covers the data with some margin. */
    record Axis(double min, double max, double step) {
        static Axis of(double lo, double hi, double margin) {
            if (!(hi > lo)) { // one point, or all equal
                double pad = Math.max(Math.abs(lo) * 0.05, 1e-3);
                lo -= pad;
                hi += pad;
            }
            double span = hi - lo;
            lo -= span * margin;
            hi += span * margin;
            double step = niceStep((hi - lo) / 6);
            return new Axis(Math.floor(lo / step) * step, Math.ceil(hi / step) * step, step);
        }

        static double niceStep(double raw) {
            double p = Math.pow(10, Math.floor(Math.log10(raw)));
            double f = raw / p;
            return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
        }

        double fraction(double v) {
            return (v - min) / (max - min);
        }

        List<Double> ticks() {
            List<Double> t = new ArrayList<>();
            long n = Math.round((max - min) / step);
            for (long i = 0; i <= n; i++) t.add(min + i * step);
            return t;
        }

        String format(double v) {
            int decimals = (int) Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
            return String.format(java.util.Locale.ROOT, "%." + decimals + "f", Math.abs(v) < step / 1e6 ? 0.0 : v);
        }
    }
}
