package io.tomestream.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the project's deploy scripts as child processes, the way an operator runs them. */
final class Scripts {
    private Scripts() {
    }

    /**
     * The scripts resolve jars with ./mvnw; when this test run is offline ({@code mvn -o}), so are they
     * (Maven 3.9 reads extra arguments from MAVEN_ARGS).
     */
    static void inheritMavenMode(ProcessBuilder pb) {
        if (Boolean.getBoolean("tomestream.it.maven.offline")) pb.environment().put("MAVEN_ARGS", "-o");
    }

    /** Runs {@code command} from the project root to completion; fails with its output unless it exits 0. */
    static void run(List<String> command, Path log, long timeoutSeconds) {
        ProcessBuilder pb = new ProcessBuilder(command).directory(Pipelines.ROOT.toFile()).redirectErrorStream(true);
        inheritMavenMode(pb);
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        try {
            Files.createDirectories(log.getParent());
            pb.redirectOutput(log.toFile());
            Process p = pb.start();
            try {
                if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                    throw new AssertionError(command + " did not finish within " + timeoutSeconds + " s:\n" + Files.readString(log));
                }
            } finally {
                p.destroyForcibly();
            }
            if (p.exitValue() != 0) {
                throw new AssertionError(command + " exited with " + p.exitValue() + ":\n" + Files.readString(log));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted running " + command);
        }
    }
}
