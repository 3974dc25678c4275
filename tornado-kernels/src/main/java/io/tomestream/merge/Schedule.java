package io.tomestream.merge;

import io.tomestream.model.ModelConfig;
import io.tomestream.model.MsVit;

import java.util.Arrays;

/**
 * How many tokens each block removes, in the three forms ToMe accepts: a constant {@code R}, a
 * {@code R:INFLECT} schedule computed as ToMe's {@code parse_r} does (so {@code 16:-1} is the
 * paper's decreasing schedule), or an explicit list {@code R1,R2,...} padded with zeros. Every
 * {@link TokenReducer} takes the same schedule as its budget.
 *
 * <p>For an MSViT model, {@code split=K} is its budgeted mode: every image splits exactly its K most
 * likely regions, so that every image has the same token count. A ToMe schedule may follow after a
 * plus: {@code split=12+8:-1}. Without {@code split=}, an MSViT model splits by its gate's threshold.
 */
public final class Schedule {
    private final String spec;
    private final int constant;
    private final double inflect;
    private final int[] explicit; // null unless the spec was a list
    private final int splits;     // MSViT's split budget; -1 for none (its threshold)

    private Schedule(String spec, int constant, double inflect, int[] explicit, int splits) {
        this.spec = spec;
        this.constant = constant;
        this.inflect = inflect;
        this.explicit = explicit;
        this.splits = splits;
    }

    public static final Schedule NONE = new Schedule("0", 0, 0, null, -1);

    private static final String SPLIT = "split=";

    /** Parses a spec; the exception's message names the spec and what is wrong with it. */
    public static Schedule parse(String spec) {
        String s = spec == null ? "" : spec.strip();
        if (s.startsWith(SPLIT)) {
            int plus = s.indexOf('+');
            String k = s.substring(SPLIT.length(), plus < 0 ? s.length() : plus).strip();
            int splits;
            try {
                splits = count(k);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("budget '" + spec + "' doesn't parse: split=K needs a whole number K of 0 or more,"
                        + " got '" + k + "' (e.g. split=12 or split=12+8:-1)");
            }
            Schedule tome = plus < 0 ? NONE : parse(s.substring(plus + 1));
            if (tome.splits >= 0) throw new IllegalArgumentException("budget '" + spec + "' gives split= twice");
            return new Schedule(s, tome.constant, tome.inflect, tome.explicit, splits);
        }
        try {
            if (s.isEmpty()) throw new IllegalArgumentException("it is empty");
            if (s.contains(",")) {
                String[] parts = s.split(",", -1);
                int[] r = new int[parts.length];
                for (int i = 0; i < parts.length; i++) r[i] = count(parts[i].strip());
                return new Schedule(s, 0, 0, r, -1);
            }
            if (s.contains(":")) {
                String[] parts = s.split(":", -1);
                if (parts.length != 2) throw new IllegalArgumentException("use R:INFLECT, e.g. 16:-1");
                double inflect = Double.parseDouble(parts[1].strip());
                if (!Double.isFinite(inflect)) throw new IllegalArgumentException("INFLECT must be finite");
                return new Schedule(s, count(parts[0].strip()), inflect, null, -1);
            }
            return new Schedule(s, count(s), 0, null, -1);
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

    /** MSViT's split budget K of {@code split=K}, or -1 when the spec has none. */
    public int splits() {
        return splits;
    }

    /** Refuses a split budget for a model without MSViT, or one larger than its regions. */
    public void checkFor(ModelConfig c) {
        if (splits < 0) return;
        MsVit m = c.msvit();
        if (m == null) throw new IllegalArgumentException("budget '" + spec + "': split=K is for MSViT models, and this model has no msvit section");
        if (splits > m.regions()) {
            throw new IllegalArgumentException("budget '" + spec + "': the model has " + m.regions() + " regions, so split=K takes K of 0-"
                    + m.regions());
        }
    }

    /** Removes no token and sets no split budget. */
    public boolean isNone() {
        return splits < 0 && (explicit == null ? constant == 0 : Arrays.stream(explicit).allMatch(x -> x == 0));
    }

    @Override
    public String toString() {
        return spec;
    }
}
