package io.tomestream.topology;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which buffered records the engine is classifying right now, in a small file beside Kafka Streams'
 * state (not in it: a store write only survives in a committed transaction, and a process that dies
 * in the engine commits nothing). A process that dies there (an out-of-memory exit, a native crash,
 * the kernel's OOM killer) leaves the file behind, and its restart knows which records to suspect:
 * they are classified one by one, and one that kills the process alone twice is dead-lettered rather
 * than retried forever.
 */
final class InFlight {
    /** What was in flight: a batch, or one suspect alone for the given time. */
    record Left(Set<String> keys, int aloneAttempt) {
        boolean contains(BufferedRecord r) {
            return keys.contains(key(r));
        }
    }

    private final Path file;

    private InFlight(Path file) {
        this.file = file;
    }

    /** The file for one task of one application under {@code stateDir}. */
    static InFlight of(Path stateDir, String applicationId, String taskId) {
        return new InFlight(stateDir.resolve("tomestream-inflight").resolve(applicationId).resolve(taskId));
    }

    /** What a previous process left in flight, or null. */
    Left leftOver() {
        if (!Files.isRegularFile(file)) return null;
        try {
            List<String> lines = Files.readAllLines(file, StandardCharsets.US_ASCII);
            if (lines.isEmpty()) return null;
            return new Left(Set.copyOf(lines.subList(1, lines.size())), Integer.parseInt(lines.getFirst().strip()));
        } catch (IOException | RuntimeException e) {
            return null; // a file cut short by the crash itself names nothing reliably
        }
    }

    /** Before the engine call: the records, and 0 for a batch or the attempt number of a suspect alone. */
    void begin(List<BufferedRecord> records, int aloneAttempt) {
        String body = aloneAttempt + "\n" + records.stream().map(InFlight::key).collect(Collectors.joining("\n")) + "\n";
        try {
            Files.createDirectories(file.getParent());
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.writeString(tmp, body, StandardCharsets.US_ASCII);
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("can't record the batch in flight in " + file, e);
        }
    }

    /** After the engine call returned, normally or with an exception the processor handled. */
    void end() {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String key(BufferedRecord r) {
        return HexFormat.of().formatHex(r.storeKey().get());
    }
}
