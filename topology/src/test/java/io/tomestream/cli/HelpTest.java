package io.tomestream.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;

import static io.tomestream.cli.CommandRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a user finds without the README: help on every command, the version, suggestions and completion. */
class HelpTest {
    private static final List<String> COMMANDS = List.of("classify", "bench", "bench-stream", "bench-decode", "eval", "visualize", "run", "settings",
            "demo", "devices", "generate-completion", "help");

    @Test
    void theTopLevelHelpNamesEveryCommand() {
        CommandRun r = run("--help");
        assertEquals(0, r.code(), r.err());
        for (String c : COMMANDS) assertTrue(r.out().contains(c), c + " in:\n" + r.out());
        assertTrue(r.out().contains("generate-completion"), r.out());
    }

    @Test
    void everyOptionOfEveryCommandIsInItsHelpWithItsDefault() {
        Map<String, CommandLine> subcommands = Main.commandLine(new PrintStream(PrintStream.nullOutputStream()),
                new PrintStream(PrintStream.nullOutputStream())).getSubcommands();
        assertEquals(COMMANDS.stream().sorted().toList(), subcommands.keySet().stream().sorted().toList());
        for (Map.Entry<String, CommandLine> e : subcommands.entrySet()) {
            CommandRun r = run(e.getKey(), "--help");
            assertEquals(0, r.code(), e.getKey() + ": " + r.err());
            for (OptionSpec option : e.getValue().getCommandSpec().options()) {
                for (String name : option.names()) assertTrue(r.out().contains(name), e.getKey() + " --help lacks " + name + ":\n" + r.out());
                String dflt = option.defaultValue();
                if (dflt != null && !dflt.isEmpty()) {
                    assertTrue(r.out().contains("Default: " + dflt), e.getKey() + " --help lacks the default of " + option.longestName() + ":\n" + r.out());
                }
            }
        }
    }

    @Test
    void theVersionComesFromTheBuild() {
        CommandRun r = run("--version");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().matches("(?s)tomestream \\d+\\.\\d+\\S*\\R.*"), r.out());
        assertFalse(r.out().contains("${"), "filtered by Maven: " + r.out());
        assertEquals(r.out(), run("classify", "--version").out(), "every command has it");
    }

    @Test
    void aMistypedOptionGetsASuggestionAndExitCode2() {
        CommandRun r = run("classify", "--model", "m", "--jsn", "x.png");
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("tomestream: Unknown option: '--jsn'"), r.err());
        assertTrue(r.err().contains("--json"), "suggests --json: " + r.err());
        assertTrue(r.err().contains("tomestream classify --help"), r.err());
        CommandRun c = run("clasify");
        assertEquals(2, c.code());
        assertTrue(c.err().contains("classify"), "suggests classify: " + c.err());
    }

    @Test
    void noCommandPrintsTheUsageAsAUsageError() {
        CommandRun r = run();
        assertEquals(2, r.code());
        assertTrue(r.err().contains("classify"), r.err());
        assertEquals("", r.out());
    }

    @Test
    void bashCompletionIsGenerated() {
        CommandRun r = run("generate-completion");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("complete -F"), r.out());
        assertTrue(r.out().contains("--fast-decode"), "knows classify's options");
    }
}
