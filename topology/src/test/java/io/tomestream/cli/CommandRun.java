package io.tomestream.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One command run as a user runs it: its exit code, stdout and stderr. */
record CommandRun(int code, String out, String err) {

    static CommandRun run(String... argv) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Main.run(argv, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new CommandRun(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    List<String> outLines() {
        return out.isBlank() ? List.of() : List.of(out.strip().split("\n"));
    }

    /** A usage error: exit code 2, the message on stderr without a stack trace, nothing on stdout. */
    static void assertUsageError(CommandRun r, String fragment) {
        assertEquals(2, r.code, r.err);
        assertTrue(r.err.contains(fragment), r.err);
        assertTrue(!r.err.contains("\tat "), "no stack trace: " + r.err);
        assertEquals("", r.out);
    }
}
