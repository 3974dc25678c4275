package io.tomestream.it;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * What the in-JVM broker was doing when a test's client gave up on it: a failure on a fresh clone
 * in CI can be read only from the test's output, which {@code .ci/run} shows.
 */
final class Diagnostics {
    private static final List<String> KAFKA_THREADS = List.of("request-handler", "data-plane", "kafka-", "broker", "controller",
            "quorum", "raft", "producer-network-thread", "ExpirationReaper");

    private Diagnostics() {
    }

    /** Prints the broker's and the clients' threads, a dozen frames each, to standard output. */
    static synchronized void printKafkaThreads(String why) {
        StringBuilder out = new StringBuilder("[tomestream-it] thread dump (" + why + "):\n");
        for (ThreadInfo t : ManagementFactory.getThreadMXBean().dumpAllThreads(true, false)) {
            String name = t.getThreadName().toLowerCase(Locale.ROOT);
            if (KAFKA_THREADS.stream().noneMatch(name::contains)) continue;
            out.append(String.format("  \"%s\" %s%s%n", t.getThreadName(), t.getThreadState(),
                    t.getLockName() == null ? "" : " on " + t.getLockName() + (t.getLockOwnerName() == null ? "" : " held by " + t.getLockOwnerName())));
            Arrays.stream(t.getStackTrace()).limit(12).forEach(f -> out.append("      at ").append(f).append('\n'));
        }
        System.out.print(out);
        System.out.flush();
    }
}
