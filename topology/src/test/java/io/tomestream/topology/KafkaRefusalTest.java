package io.tomestream.topology;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;

import javax.net.ssl.SSLHandshakeException;

import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.SslAuthenticationException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.streams.errors.StreamsException;
import org.junit.jupiter.api.Test;

class KafkaRefusalTest {
    @Test
    void aRefusalDeepInAStreamsFailureBecomesOneLineNamingWhatToCheck() {
        KafkaRefusal sasl = KafkaRefusal.of(new StreamsException(new SaslAuthenticationException("Authentication failed\nwith SCRAM")));
        assertEquals("Kafka refused the credentials: Authentication failed with SCRAM (check sasl.mechanism and the user and password in sasl.jaas.config)",
                sasl.getMessage());
        KafkaRefusal tls = KafkaRefusal.of(new SslAuthenticationException("SSL handshake failed", new SSLHandshakeException("PKIX path building failed")));
        assertTrue(tls.getMessage().startsWith("the TLS handshake with Kafka failed: PKIX path building failed (check ssl.truststore."), tls.getMessage());
        KafkaRefusal topics = KafkaRefusal.of(new StreamsException(new TopicAuthorizationException(Set.of("b", "a"))));
        assertEquals("Kafka denied access to topics a, b: grant the ACLs in docs/operations.md (Security)", topics.getMessage());
        assertEquals(0, sasl.getStackTrace().length, "a refusal carries no stack trace to print");
    }

    @Test
    void anOutageOrABugIsNotARefusal() {
        assertNull(KafkaRefusal.of(new StreamsException(new TimeoutException("broker down"))));
        assertNull(KafkaRefusal.of(new IllegalStateException("bug")));
    }
}
