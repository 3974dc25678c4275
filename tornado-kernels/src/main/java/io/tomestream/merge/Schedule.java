package io.tomestream.merge;

import java.util.Arrays;

/**
 * How many tokens each block removes, in the three forms ToMe accepts: a constant {@code R}, a
 * {@code R:INFLECT} schedule computed as ToMe's {@code parse_r} does (so {@code 16:-1} is the
 * paper's decreasing schedule), or an explicit list {@code R1,R2,...} padded with zeros. Every
 * {@link TokenReducer} takes the same schedule as its budget.
 */
public final class Schedule {
    private final String spec;
    private final int constant;
    private final double inflect;
    private final int[] explicit; // null unless the spec was a list

    private Schedule(String spec, int constant, double inflect, int[] explicit) {
        this.spec = spec;
        this.constant = constant;
        this.inflect = inflect;
        this.explicit = explicit;
    }

    public static final Schedule NONE = new Schedule("0", 0, 0, null);

    /** Parses a spec; the exception's message names the spec and what is wrong with it. */
    public static Schedule parse(String spec) {
        String s = spec == null ? "" : spec.strip();
        try {
            if (s.isEmpty()) throw new IllegalArgumentException("it is empty");
            if (s.contains(",")) {
                String[] parts = s.split(",", -1);
                int[] r = new int[parts.length];
                for (int i = 0; i < parts.length; i++) r[i] = count(parts[i].strip());
                return new Schedule(s, 0, 0, r);
            }
            if (s.contains(":")) {
                String[] parts = s.split(":", -1);
                if (parts.length != 2) throw new IllegalArgumentException("use R:INFLECT, e.g. 16:-1");
                double inflect = Double.parseDouble(parts[1].strip());
                if (!Double.isFinite(inflect)) throw new IllegalArgumentException("INFLECT must be finite");
                return new Schedule(s, count(parts[0].strip()), inflect, null);
            }
            return new Schedule(s, count(s), 0, null);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("ToMe spec '" + spec + "' doesn't parse: expected R, R:INFLECT or R1,R2,...");
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("ToMe spec '" + spec + "' doesn't parse: " + e.getMessage());
        }
    }

    private static int count(String s) {
        int r = Integer.parseInt(s);
        if (r < 0) throw new IllegalArgumentException("r must not be negative, got " + r);
        return r;
    }

    /** The r of each of {@code depth} blocks, before capping at half the unprotected tokens. */
    public int[] perLayer(int depth) {
        if (explicit != null) {
            if (explicit.length > depth) {
                throw new IllegalArgumentException("ToMe spec '" + spec + "' lists " + explicit.length
                        + " layers but the model has " + depth);
            }
            return Arrays.copyOf(explicit, depth);
        }
        int[] r = new int[depth];
        if (inflect == 0) {
            Arrays.fill(r, constant);
            return r;
        }
        // ToMe's parse_r, in the same float64 arithmetic and int() truncation
        int min = (int) (constant * (1.0 - inflect));
        int max = 2 * constant - min;
        double step = depth == 1 ? 0 : (double) (max - min) / (depth - 1);
        for (int i = 0; i < depth; i++) r[i] = Math.max(0, (int) (min + step * i));
        return r;
    }

    public boolean isNone() {
        return explicit == null ? constant == 0 : Arrays.stream(explicit).allMatch(x -> x == 0);
    }

    @Override
    public String toString() {
        return spec;
    }
}
