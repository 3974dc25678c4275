package io.tomestream.it;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.test.KafkaClusterTestKit;

/**
 * A real single-node Kafka 4.3.1 cluster inside this JVM: one KRaft node that is both broker and
 * controller, built with Kafka's own {@link KafkaClusterTestKit}.
 *
 * <p>Configured for tests that use transactions (exactly_once_v2): the internal topics have
 * replication factor 1 and min ISR 1, and a single partition each, which keeps startup and the
 * first consumer-group / transactional-id lookups fast. Topics are NOT auto-created: create them
 * with {@link #createTopic} (Kafka Streams creates its own internal topics through the admin API).
 *
 * <p>Ports are free ports chosen by the test kit, which pre-binds them (on the wildcard address,
 * the kit does not offer a host choice) and keeps them across a broker restart; the broker
 * advertises {@code 127.0.0.1}. Prefer the shared instance from {@link SharedInfra}; start a private
 * one with {@link #start()} only for tests that break the cluster.
 */
public final class KafkaCluster implements AutoCloseable {

    /** Broker settings every instance gets; tests may add more through {@link #start(Map)}. */
    /**
     * Broker settings every instance gets: the demo's single-node settings (replication factor 1
     * everywhere, so exactly_once_v2 works), plus a faster abort of a killed producer's open
     * transaction, which otherwise holds back read_committed readers and the task's new owner for up
     * to 10 s. Tests may add more through {@link #start(Map)}.
     */
    public static final Map<String, String> BROKER_CONFIG = withEntry(io.tomestream.demo.EmbeddedBroker.BROKER_CONFIG,
            "transaction.abort.timed.out.transaction.cleanup.interval.ms", "1000");

    private static Map<String, String> withEntry(Map<String, String> base, String key, String value) {
        Map<String, String> m = new java.util.HashMap<>(base);
        m.put(key, value);
        return Map.copyOf(m);
    }

    private final KafkaClusterTestKit kit;
    private final Admin admin;
    private final String bootstrapServers;
    private final long startupMillis;

    private KafkaCluster(KafkaClusterTestKit kit, long startupMillis) {
        this.kit = kit;
        // The kit names its nodes "localhost"; the broker listens and advertises on 127.0.0.1.
        this.bootstrapServers = kit.bootstrapServers().replace("localhost:", "127.0.0.1:");
        this.admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers));
        this.startupMillis = startupMillis;
    }

    /** Starts a fresh single-node cluster and waits until its broker is ready. */
    public static KafkaCluster start() {
        return start(Map.of());
    }

    /** Like {@link #start()}, with extra or overriding broker settings. */
    public static KafkaCluster start(Map<String, String> extraBrokerConfig) {
        long t0 = System.nanoTime();
        Map<String, String> extra = new HashMap<>(BROKER_CONFIG);
        extra.putAll(extraBrokerConfig);
        KafkaClusterTestKit kit = io.tomestream.demo.EmbeddedBroker.start(extra);
        return new KafkaCluster(kit, (System.nanoTime() - t0) / 1_000_000);
    }

    /** {@code host:port} of the broker, for {@code bootstrap.servers}. */
    public String bootstrapServers() {
        return bootstrapServers;
    }

    /** A shared admin client; do not close it. */
    public Admin admin() {
        return admin;
    }

    /** The underlying test kit, for tests that need the broker/controller objects themselves. */
    public KafkaClusterTestKit testKit() {
        return kit;
    }

    /** How long {@link #start} took, in milliseconds. */
    public long startupMillis() {
        return startupMillis;
    }

    /** Creates a topic with the given partitions (replication factor 1) and waits until it exists. */
    public void createTopic(String name, int partitions) {
        createTopics(partitions, name);
    }

    /**
     * Creates topics with the given partitions each and waits until every one has a leader, so a
     * producer can send right away. An existing topic is an error.
     */
    public void createTopics(int partitions, String... names) {
        createTopics(admin, partitions, names);
    }

    /** {@link #createTopics(int, String...)} on any single-node cluster (replication factor 1), e.g. a {@link BrokerProcess}. */
    static void createTopics(Admin admin, int partitions, String... names) {
        List<NewTopic> topics = new ArrayList<>();
        for (String name : names) {
            topics.add(new NewTopic(name, partitions, (short) 1));
        }
        try {
            admin.createTopics(topics).all().get(30, TimeUnit.SECONDS);
            awaitLeaders(admin, Set.of(names), Duration.ofSeconds(30));
        } catch (ExecutionException e) {
            if (e.getCause() instanceof TopicExistsException tee) {
                throw tee;
            }
            throw new IllegalStateException("could not create topics " + List.of(names), e.getCause());
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            throw new IllegalStateException("could not create topics " + List.of(names), e);
        }
    }

    private static void awaitLeaders(Admin admin, Set<String> names, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            boolean ready;
            try {
                ready = admin.describeTopics(names).allTopicNames().get(10, TimeUnit.SECONDS).values()
                        .stream()
                        .allMatch(d -> d.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty()));
            } catch (ExecutionException e) {
                // The broker's metadata cache may lag the controller by a moment.
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) {
                    throw e;
                }
                ready = false;
            }
            if (ready) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("topics " + names + " have no leader after " + timeout);
            }
            Thread.sleep(50);
        }
    }

    /** Stops the broker and the controller and deletes their data. */
    @Override
    public void close() throws Exception {
        try {
            admin.close(Duration.ofSeconds(5));
        } finally {
            kit.close();
        }
    }

    @Override
    public String toString() {
        return "KafkaCluster[" + bootstrapServers + "]";
    }
}
