package io.tomestream.plot;

import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Rectangle;
import java.awt.geom.AffineTransform;

/** The text around a chart's plot area, the same in every chart the tools draw. */
public final class PlotText {
    private PlotText() {
    }

    /** A white, antialiased drawing surface on {@code image}. */
    public static Graphics2D canvas(java.awt.image.BufferedImage image) {
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(java.awt.RenderingHints.KEY_ANTIALIASING, java.awt.RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(java.awt.RenderingHints.KEY_TEXT_ANTIALIASING, java.awt.RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setRenderingHint(java.awt.RenderingHints.KEY_STROKE_CONTROL, java.awt.RenderingHints.VALUE_STROKE_PURE);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, image.getWidth(), image.getHeight());
        return g;
    }

    /**
     * The x label centred under {@code plot}, the y label rotated beside it and the title centred above,
     * in an image {@code width} by {@code height}.
     */
    public static void axesAndTitle(Graphics2D g, Rectangle plot, int width, int height, String xLabel, String yLabel, String title) {
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 15));
        FontMetrics fm = g.getFontMetrics();
        g.setColor(Color.BLACK);
        g.drawString(xLabel, plot.x + (plot.width - fm.stringWidth(xLabel)) / 2, height - 18);
        AffineTransform saved = g.getTransform();
        g.rotate(-Math.PI / 2);
        g.drawString(yLabel, -(plot.y + (plot.height + fm.stringWidth(yLabel)) / 2), 24);
        g.setTransform(saved);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        fm = g.getFontMetrics();
        g.drawString(title, (width - fm.stringWidth(title)) / 2, 34);
    }
}
