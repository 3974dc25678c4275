package io.tomestream.demo;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.apache.kafka.server.common.MetadataVersion;

import java.io.OutputStream;
import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

/**
 * A real single-node KRaft cluster (combined broker and controller) in this JVM, from Kafka's own
 * {@link KafkaClusterTestKit}: what lets the demo run with nothing installed. The integration tests
 * start theirs the same way. It lives in the demo module so that the app and its image carry no broker.
 */
public final class EmbeddedBroker {
    /** The single node's settings: replication factor 1 everywhere, so transactions (exactly_once_v2) work. */
    public static final Map<String, String> BROKER_CONFIG = Map.ofEntries(
            Map.entry("listeners", "EXTERNAL://127.0.0.1:0,CONTROLLER://127.0.0.1:0"),
            Map.entry("offsets.topic.replication.factor", "1"),
            Map.entry("offsets.topic.num.partitions", "1"),
            Map.entry("transaction.state.log.replication.factor", "1"),
            Map.entry("transaction.state.log.min.isr", "1"),
            Map.entry("transaction.state.log.num.partitions", "1"),
            Map.entry("share.coordinator.state.topic.replication.factor", "1"),
            Map.entry("share.coordinator.state.topic.min.isr", "1"),
            Map.entry("default.replication.factor", "1"),
            Map.entry("min.insync.replicas", "1"),
            Map.entry("auto.create.topics.enable", "false"),
            Map.entry("group.initial.rebalance.delay.ms", "0"),
            Map.entry("unstable.api.versions.enable", "false"),
            Map.entry("unstable.feature.versions.enable", "false"));

    private EmbeddedBroker() {
    }

    /** Starts the node with {@link #BROKER_CONFIG} plus {@code extraConfig}, and waits until it is ready. */
    public static KafkaClusterTestKit start(Map<String, String> extraConfig) {
        KafkaClusterTestKit kit = null;
        try {
            TestKitNodes nodes = new TestKitNodes.Builder()
                    .setCombined(true)
                    .setNumBrokerNodes(1)
                    .setNumControllerNodes(1)
                    .setBootstrapMetadataVersion(MetadataVersion.latestProduction())
                    .build();
            KafkaClusterTestKit.Builder builder = new KafkaClusterTestKit.Builder(nodes);
            BROKER_CONFIG.forEach(builder::setConfigProp);
            extraConfig.forEach(builder::setConfigProp);
            kit = builder.build();
            formatQuietly(kit);
            kit.startup();
            kit.waitForReadyBrokers();
            return kit;
        } catch (Exception e) {
            if (kit != null) {
                try {
                    kit.close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            throw new IllegalStateException("could not start the KRaft broker: " + e, e);
        }
    }

    /** The storage formatter prints two lines to System.out, which is the demo summary's stream. */
    private static synchronized void formatQuietly(KafkaClusterTestKit kit) throws Exception {
        PrintStream stdout = System.out;
        System.setOut(new PrintStream(OutputStream.nullOutputStream()));
        try {
            kit.format();
        } finally {
            System.setOut(stdout);
        }
    }

    /** {@code host:port}: the kit names its node "localhost"; the broker listens on and advertises 127.0.0.1. */
    static String bootstrapServers(KafkaClusterTestKit kit) {
        return kit.bootstrapServers().replace("localhost:", "127.0.0.1:");
    }

    static void createTopics(String bootstrap, int partitions, String... topics) throws InterruptedException {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            admin.createTopics(Stream.of(topics).map(t -> new NewTopic(t, partitions, (short) 1)).toList())
                    .all().get(60, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("could not create the topics " + List.of(topics) + ": " + e.getMessage(), e);
        }
    }

    /**
     * The broker and clients log a lot at INFO and some harmless WARNs while starting up; the demo
     * shows their errors only. Applies to slf4j-simple (bin/tomestream) before its first logger, and
     * never overrides a level the user set with -D.
     */
    static void quietLogs() {
        for (String logger : List.of("kafka", "org.apache.kafka", "state.change.logger")) {
            String key = "org.slf4j.simpleLogger.log." + logger;
            if (System.getProperty(key) == null) System.setProperty(key, "error");
        }
    }
}
