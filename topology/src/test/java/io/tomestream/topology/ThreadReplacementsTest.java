package io.tomestream.topology;

import org.apache.kafka.common.errors.InvalidTxnStateException;
import org.apache.kafka.common.errors.NotLeaderOrFollowerException;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.streams.errors.StreamsException;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ThreadReplacementsTest {
    private final AtomicLong now = new AtomicLong();
    private final ThreadReplacements replacements = new ThreadReplacements(now::get);

    @Test
    void aFailoversTransactionErrorGetsANewThreadAndOtherFailuresDoNot() {
        assertTrue(replacements.allow(new StreamsException("Error encountered trying to commit a transaction",
                new InvalidTxnStateException("The producer attempted a transactional operation in an invalid state."))));
        assertTrue(replacements.allow(new StreamsException(new NotLeaderOrFollowerException("moved"))));
        assertFalse(replacements.allow(new StreamsException(new SaslAuthenticationException("bad password"))));
        assertFalse(replacements.allow(new IllegalStateException("a bug")));
    }

    @Test
    void aFaultThatKeepsComingBackEndsTheApp() {
        StreamsException failover = new StreamsException(new InvalidTxnStateException("invalid state"));
        for (int i = 0; i < ThreadReplacements.MAX; i++) assertTrue(replacements.allow(failover), "replacement " + (i + 1));
        assertFalse(replacements.allow(failover), "one more within the window");
        now.addAndGet(ThreadReplacements.WINDOW_MS + 1);
        assertTrue(replacements.allow(failover), "the window has passed");
    }
}
