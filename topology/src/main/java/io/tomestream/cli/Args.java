package io.tomestream.cli;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Command-line flags: {@code --name value}, {@code --name=value}, boolean switches, and the rest as positionals. */
final class Args {
    private final Map<String, String> values = new HashMap<>();
    private final List<String> positionals = new ArrayList<>();

    Args(String[] argv, int from, Set<String> withValue, Set<String> switches) {
        for (int i = from; i < argv.length; i++) {
            String a = argv[i];
            if (a.equals("--")) {
                for (i++; i < argv.length; i++) positionals.add(argv[i]);
                break;
            }
            if (!a.startsWith("--") || a.length() == 2) {
                positionals.add(a);
                continue;
            }
            String name = a.substring(2), value = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            if (switches.contains(name)) {
                if (value != null) throw new UsageException("--" + name + " takes no value");
                values.put(name, "true");
            } else if (withValue.contains(name)) {
                if (value == null) {
                    if (i + 1 >= argv.length) throw new UsageException("--" + name + " needs a value");
                    value = argv[++i];
                }
                values.put(name, value);
            } else {
                throw new UsageException("unknown option --" + name);
            }
        }
    }

    String get(String name, String dflt) {
        return values.getOrDefault(name, dflt);
    }

    String require(String name) {
        String v = values.get(name);
        if (v == null) throw new UsageException("--" + name + " is required");
        return v;
    }

    boolean has(String name) {
        return values.containsKey(name);
    }

    int integer(String name, int dflt, int min) {
        String v = values.get(name);
        if (v == null) return dflt;
        try {
            int n = Integer.parseInt(v.strip());
            if (n < min) throw new UsageException("--" + name + " must be at least " + min + ", got " + n);
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " must be a whole number, got '" + v + "'");
        }
    }

    double number(String name, double dflt) {
        String v = values.get(name);
        if (v == null) return dflt;
        try {
            return Double.parseDouble(v.strip());
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " must be a number, got '" + v + "'");
        }
    }

    /**
     * The token budget: {@code --budget SPEC}, or its older name {@code --tome SPEC} (a spec list for
     * commands that take several); both at once must agree.
     */
    String budget(String dflt) {
        String budget = values.get("budget"), tome = values.get("tome");
        if (budget != null && tome != null && !budget.strip().equals(tome.strip())) {
            throw new UsageException("--budget and --tome name the same setting; give one (got '" + budget + "' and '" + tome + "')");
        }
        return budget != null ? budget : tome != null ? tome : dflt;
    }

    /** {@code --reducer NAME}, checked against {@link io.tomestream.merge.TokenReducer#NAMES}. */
    String reducer() {
        String r = get("reducer", "tome").strip();
        if (!io.tomestream.merge.TokenReducer.NAMES.contains(r)) {
            throw new UsageException("--reducer must be one of " + String.join(", ", io.tomestream.merge.TokenReducer.NAMES) + ", got '" + r + "'");
        }
        return r;
    }

    List<String> positionals() {
        return positionals;
    }

    /** A mistake on the command line: the launcher prints the message and the usage hint. */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }
}
