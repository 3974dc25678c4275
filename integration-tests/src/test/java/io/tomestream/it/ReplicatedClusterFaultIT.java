package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;


/**
 * A replicated cluster losing brokers mid-stream: three KRaft nodes (each broker and controller, each
 * its own process), replication factor 3 and min.insync.replicas 2 everywhere, transactions included.
 * With events flowing, one node is stopped and stays down; then the leader of an input partition is
 * stopped too (the cluster stalls: no quorum, no in-sync majority) and started again. The app must ride
 * it out and classify every event exactly once.
 */
class ReplicatedClusterFaultIT {
    private static final int NODES = 3, EVENTS = 160, RATE_PER_S = 10;

    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void oneBrokerDownThenTheLeaderRestartedAndEveryEventIsClassifiedOnce() throws Exception {
        String run = Pipelines.unique();
        Path dir = Pipelines.WORK.resolve("replicated-" + run);
        int[] ports = new int[NODES], controllerPorts = new int[NODES];
        for (int i = 0; i < NODES; i++) {
            ports[i] = ApicurioRegistry.freePort();
            controllerPorts[i] = ApicurioRegistry.freePort();
        }
        String voters = java.util.stream.IntStream.range(0, NODES).mapToObj(i -> (i + 1) + "@127.0.0.1:" + controllerPorts[i])
                .collect(Collectors.joining(","));
        String clusterId = KafkaNode.newClusterId();
        List<KafkaNode> nodes = new ArrayList<>();
        String bootstrap = java.util.stream.IntStream.range(0, NODES).mapToObj(i -> "127.0.0.1:" + ports[i]).collect(Collectors.joining(","));
        String app = "repl-" + run, input = "repl-in-" + run, output = "repl-out-" + run, dlq = "repl-dlq-" + run;
        try {
            for (int i = 0; i < NODES; i++) {
                Path nodeDir = dir.resolve("node-" + (i + 1));
                Map<String, String> properties = node(i + 1, ports[i], controllerPorts[i], voters);
                properties.put("log.dirs", nodeDir.resolve("logs").toString());
                nodes.add(new KafkaNode(i + 1, nodeDir, properties, clusterId));
            }
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
                Pipelines.await(Duration.ofSeconds(120), () -> {
                    try {
                        return admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).size() == NODES;
                    } catch (Exception e) {
                        return false;
                    }
                }, () -> NODES + " brokers up");
                admin.createTopics(List.of(new NewTopic(input, 2, (short) 3), new NewTopic(output, 2, (short) 3), new NewTopic(dlq, 1, (short) 3)))
                        .all().get(60, TimeUnit.SECONDS);

                Map<String, String> settings = AppProcess.settings(bootstrap, app, input, output, dlq, dir.resolve("state"), "repl", 8, 300);
                settings.put("replication.factor", "3");
                int metricsPort = ApicurioRegistry.freePort();
                settings.put("metrics.port", String.valueOf(metricsPort));
                try (AppProcess instance = AppProcess.start("repl", AppProcess.writeConfig(dir.resolve("app.properties"), settings), dir.resolve("app.log"))) {
                    Pipelines.await(Duration.ofSeconds(120), () -> {
                        instance.assertAlive();
                        return Pipelines.assignment(admin, app, input).size() == 1;
                    }, () -> "the app in its group");
                    PacedProducer producerThread = new PacedProducer(bootstrap, input, EVENTS, RATE_PER_S);
                    producerThread.start();
                    try (OutputWatcher watcher = new OutputWatcher(bootstrap, output, dlq)) {
                        Pipelines.await(Duration.ofSeconds(90), () -> watcher.distinct() >= 20, () -> "20 classified, have " + watcher.distinct());
                        int leader = admin.describeTopics(List.of(input)).allTopicNames().get(30, TimeUnit.SECONDS).get(input)
                                .partitions().getFirst().leader().id();
                        KafkaNode down = nodes.stream().filter(n -> n.id != leader).findFirst().orElseThrow();
                        down.stop();
                        System.out.printf("[tomestream-it] replicated: stopped node %d with %d sent and %d classified%n", down.id, producerThread.sent.get(), watcher.distinct());
                        Thread.sleep(8_000);
                        KafkaNode leaderNode = nodes.get(leader - 1);
                        leaderNode.stop();
                        System.out.printf("[tomestream-it] replicated: stopped node %d, the leader of %s-0, with %d sent and %d classified%n",
                                leader, input, producerThread.sent.get(), watcher.distinct());
                        Thread.sleep(10_000);
                        instance.assertAlive();
                        leaderNode.start();
                        double seconds = Pipelines.awaitAllResults(producerThread, watcher, instance, EVENTS);
                        System.out.printf("[tomestream-it] replicated: all %d results %.1f s after node %d came back, node %d still down%n",
                                EVENTS, seconds, leader, down.id);
                    }
                    Pipelines.await(Duration.ofSeconds(60), () -> Pipelines.committed(admin, app, input) == EVENTS,
                            () -> "committed offsets " + Pipelines.committed(admin, app, input) + " of " + EVENTS);
                    Pipelines.assertEachClassifiedOnce(bootstrap, output, dlq, EVENTS);
                    Pipelines.assertCommittedCounts(metricsPort, EVENTS, 0);
                    assertEquals(AppProcess.EXIT_ON_SIGTERM, instance.stop(), "still running, and stops on SIGTERM");
                }
            }
        } finally {
            nodes.forEach(KafkaNode::close);
        }
    }

    private static Map<String, String> node(int id, int port, int controllerPort, String voters) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("process.roles", "broker,controller");
        p.put("node.id", String.valueOf(id));
        p.put("controller.quorum.voters", voters);
        p.put("listeners", "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort);
        p.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + port);
        p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.put("inter.broker.listener.name", "PLAINTEXT");
        p.put("controller.listener.names", "CONTROLLER");
        p.put("default.replication.factor", "3");
        p.put("min.insync.replicas", "2");
        p.put("offsets.topic.replication.factor", "3");
        p.put("offsets.topic.num.partitions", "1");
        p.put("transaction.state.log.replication.factor", "3");
        p.put("transaction.state.log.min.isr", "2");
        p.put("transaction.state.log.num.partitions", "1");
        p.put("share.coordinator.state.topic.replication.factor", "3");
        p.put("share.coordinator.state.topic.min.isr", "2");
        p.put("auto.create.topics.enable", "false");
        p.put("group.initial.rebalance.delay.ms", "0");
        p.put("transaction.abort.timed.out.transaction.cleanup.interval.ms", "1000");
        return p;
    }
}
