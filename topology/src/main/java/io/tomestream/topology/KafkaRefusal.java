package io.tomestream.topology;

import java.util.Set;

import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.ClusterAuthorizationException;
import org.apache.kafka.common.errors.GroupAuthorizationException;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.SslAuthenticationException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.errors.TransactionalIdAuthorizationException;

/**
 * The one line an operator needs when the cluster refuses the app: bad credentials, a broker
 * certificate the truststore does not trust, or ACLs that don't cover a topic, the group or the
 * transactional ids. These are not transient: retrying cannot help, so the app stops and says which
 * setting or ACL to look at, instead of a stream thread's stack trace.
 */
public final class KafkaRefusal extends RuntimeException {
    private KafkaRefusal(String message) {
        super(message, null, false, false);
    }

    /** The ACLs don't let the app see these topics. */
    static KafkaRefusal deniedTopics(java.util.Collection<String> topics) {
        return new KafkaRefusal(topicsDenied(java.util.Set.copyOf(topics)));
    }

    /** The refusal behind {@code failure}, or null if it is something else. */
    public static KafkaRefusal of(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            String why = describe(t);
            if (why != null) return new KafkaRefusal(why.replaceAll("\\s+", " ").strip());
        }
        return null;
    }

    private static String describe(Throwable t) {
        return switch (t) {
            case SslAuthenticationException e -> "the TLS handshake with Kafka failed: " + rootMessage(e)
                    + " (check ssl.truststore.* against the broker's certificate, and ssl.keystore.* for mutual TLS)";
            case SaslAuthenticationException e -> "Kafka refused the credentials: " + e.getMessage()
                    + " (check sasl.mechanism and the user and password in sasl.jaas.config)";
            case AuthenticationException e -> "Kafka refused to authenticate the app: " + rootMessage(e);
            case TopicAuthorizationException e -> topicsDenied(e.unauthorizedTopics());
            case GroupAuthorizationException e -> "Kafka denied access to the consumer group " + e.groupId()
                    + ": grant READ on the group named like application.id (docs/operations.md, Security)";
            case TransactionalIdAuthorizationException e -> "Kafka denied the transactional id: " + e.getMessage()
                    + "; exactly-once needs WRITE on transactional ids prefixed with application.id (docs/operations.md, Security)";
            case ClusterAuthorizationException e -> "Kafka denied a cluster operation: " + e.getMessage();
            case AuthorizationException e -> "Kafka denied an operation: " + e.getMessage();
            default -> null;
        };
    }

    private static String topicsDenied(Set<String> topics) {
        return "Kafka denied access to topic" + (topics.size() == 1 ? " " : "s ")
                + (topics.isEmpty() ? "(unnamed)" : String.join(", ", topics.stream().sorted().toList()))
                + ": grant the ACLs in docs/operations.md (Security)";
    }

    private static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) root = root.getCause();
        return root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    }
}
