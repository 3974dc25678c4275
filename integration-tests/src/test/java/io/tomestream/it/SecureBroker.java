package io.tomestream.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

/**
 * A secured single-node KRaft broker in its own process, on Maven's Kafka jars (deploy/local's class
 * path), with four listeners on 127.0.0.1:
 * <ul>
 * <li>{@code SASL_SSL}: SCRAM-SHA-512 over TLS 1.3; the user {@link #SCRAM_USER} is created when the
 *     storage is formatted ({@code --add-scram}), with a random password;</li>
 * <li>{@code MTLS}: TLS 1.3 with {@code ssl.client.auth=required}; the client certificate's CN is the
 *     principal ({@code ssl.principal.mapping.rules});</li>
 * <li>{@code ADMIN}: plaintext, for the test's own admin client and the inter-broker traffic;</li>
 * <li>{@code CONTROLLER}: plaintext, KRaft's.</li>
 * </ul>
 * The StandardAuthorizer denies what no ACL allows; only the unauthenticated principal of the two
 * plaintext listeners, which the test alone reaches, is a super user.
 */
final class SecureBroker implements AutoCloseable {
    static final String SCRAM_USER = "tomestream";

    final Certificates certs;
    final String scramPassword = "scram-" + UUID.randomUUID();
    final int saslSslPort = ApicurioRegistry.freePort(), mtlsPort = ApicurioRegistry.freePort();
    private final int adminPort = ApicurioRegistry.freePort(), controllerPort = ApicurioRegistry.freePort();
    private final Path dir;
    private final KafkaNode node;
    private final Admin admin;

    private SecureBroker(Path dir) throws IOException {
        this.dir = dir;
        this.certs = Certificates.generate(dir.resolve("certs"));
        node = new KafkaNode(1, dir, serverProperties(), KafkaNode.newClusterId(),
                "--add-scram", "SCRAM-SHA-512=[name=" + SCRAM_USER + ",password=" + scramPassword + "]");
        admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:" + adminPort,
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 5000, AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 2000));
        Pipelines.await(Duration.ofSeconds(120), () -> {
            if (!node.isAlive()) throw new AssertionError("the secure broker exited:\n" + node.tail());
            try {
                return !admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).isEmpty();
            } catch (Exception e) {
                return false;
            }
        }, () -> "the secure broker ready:\n" + node.tail());
    }

    static SecureBroker start(Path dir) {
        try {
            return new SecureBroker(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Map<String, String> serverProperties() {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("process.roles", "broker,controller");
        p.put("node.id", "1");
        p.put("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
        p.put("listeners", "ADMIN://127.0.0.1:" + adminPort + ",SASL_SSL://127.0.0.1:" + saslSslPort
                + ",MTLS://127.0.0.1:" + mtlsPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
        // localhost, the name in the server certificate, so that clients verify the host name.
        p.put("advertised.listeners", "ADMIN://127.0.0.1:" + adminPort + ",SASL_SSL://localhost:" + saslSslPort + ",MTLS://localhost:" + mtlsPort);
        p.put("listener.security.protocol.map", "ADMIN:PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL,CONTROLLER:PLAINTEXT");
        p.put("inter.broker.listener.name", "ADMIN");
        p.put("controller.listener.names", "CONTROLLER");
        p.put("sasl.enabled.mechanisms", "SCRAM-SHA-512");
        p.put("listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required;");
        p.put("ssl.keystore.type", "PKCS12");
        p.put("ssl.keystore.location", certs.server.toString());
        p.put("ssl.keystore.password", certs.password);
        p.put("ssl.truststore.type", "PKCS12");
        p.put("ssl.truststore.location", certs.truststore.toString());
        p.put("ssl.truststore.password", certs.password);
        p.put("ssl.protocol", "TLSv1.3");
        p.put("ssl.enabled.protocols", "TLSv1.3");
        p.put("listener.name.mtls.ssl.client.auth", "required");
        p.put("ssl.principal.mapping.rules", "RULE:^CN=([a-zA-Z0-9.-]+).*$/$1/,DEFAULT");
        p.put("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer");
        p.put("super.users", "User:ANONYMOUS");
        p.put("allow.everyone.if.no.acl.found", "false");
        p.put("log.dirs", dir.resolve("logs").toString());
        p.put("num.partitions", "1");
        p.put("auto.create.topics.enable", "false");
        p.put("offsets.topic.replication.factor", "1");
        p.put("offsets.topic.num.partitions", "1");
        p.put("transaction.state.log.replication.factor", "1");
        p.put("transaction.state.log.min.isr", "1");
        p.put("transaction.state.log.num.partitions", "1");
        p.put("share.coordinator.state.topic.replication.factor", "1");
        p.put("share.coordinator.state.topic.min.isr", "1");
        p.put("group.initial.rebalance.delay.ms", "0");
        p.put("transaction.abort.timed.out.transaction.cleanup.interval.ms", "1000");
        return p;
    }

    /**
     * What the app's principal needs, and nothing more: read its input, write its output and dead
     * letters, own the internal topics, the group and the transactional ids named after its
     * application.id (docs/operations.md lists the same as kafka-acls commands).
     */
    void allowApp(String principal, String applicationId, String input, String output, String dlq) {
        List<AclBinding> acls = new ArrayList<>();
        acls.add(acl(ResourceType.TOPIC, input, PatternType.LITERAL, principal, AclOperation.READ));
        acls.add(acl(ResourceType.TOPIC, output, PatternType.LITERAL, principal, AclOperation.WRITE));
        acls.add(acl(ResourceType.TOPIC, dlq, PatternType.LITERAL, principal, AclOperation.WRITE));
        acls.add(acl(ResourceType.TOPIC, applicationId + "-", PatternType.PREFIXED, principal, AclOperation.ALL));
        acls.add(acl(ResourceType.GROUP, applicationId, PatternType.LITERAL, principal, AclOperation.READ));
        acls.add(acl(ResourceType.TRANSACTIONAL_ID, applicationId + "-", PatternType.PREFIXED, principal, AclOperation.WRITE));
        try {
            admin.createAcls(acls).all().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static AclBinding acl(ResourceType type, String name, PatternType pattern, String principal, AclOperation op) {
        return new AclBinding(new ResourcePattern(type, name, pattern), new AccessControlEntry(principal, "*", op, AclPermissionType.ALLOW));
    }

    /** The plaintext admin listener, for the test only. */
    String adminBootstrap() {
        return "127.0.0.1:" + adminPort;
    }

    Admin admin() {
        return admin;
    }

    void createTopics(int partitions, String... names) {
        KafkaCluster.createTopics(admin, partitions, names);
    }

    /** Client settings for the SCRAM listener, with {@code password}. */
    Map<String, String> scramClient(String password, Path truststore) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("bootstrap.servers", "localhost:" + saslSslPort);
        m.put("security.protocol", "SASL_SSL");
        m.put("sasl.mechanism", "SCRAM-SHA-512");
        m.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"" + SCRAM_USER
                + "\" password=\"" + password + "\";");
        m.putAll(trust(truststore));
        return m;
    }

    /** Client settings for the mTLS listener: the client certificate is the identity. */
    Map<String, String> mtlsClient() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("bootstrap.servers", "localhost:" + mtlsPort);
        m.put("security.protocol", "SSL");
        m.put("ssl.keystore.type", "PKCS12");
        m.put("ssl.keystore.location", certs.client.toString());
        m.put("ssl.keystore.password", certs.password);
        m.putAll(trust(certs.truststore));
        return m;
    }

    private Map<String, String> trust(Path truststore) {
        return Map.of("ssl.truststore.type", "PKCS12", "ssl.truststore.location", truststore.toString(),
                "ssl.truststore.password", certs.password, "ssl.enabled.protocols", "TLSv1.3", "ssl.protocol", "TLSv1.3");
    }

    @Override
    public void close() {
        admin.close(Duration.ofSeconds(2));
        node.close();
    }
}
