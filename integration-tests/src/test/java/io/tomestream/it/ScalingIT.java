package io.tomestream.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.tomestream.schema.Classification;
import io.tomestream.schema.SingleObjectSerde;

/**
 * Horizontal scaling with a hard kill: three instances of {@code bin/tomestream run}, each its own JVM
 * with its own state.dir, share a 6-partition input topic. One is SIGKILLed while events are flowing:
 * no clean shutdown, an open transaction, records in its batch buffer. The other two must take over its
 * partitions (and restore its buffer from the changelog), and every event must be classified exactly
 * once as a read_committed consumer sees the output. Values use the default single-object serde.
 */
@ExtendWith(SharedInfra.class)
class ScalingIT {
    private static final int PARTITIONS = 6;
    private static final int EVENTS = 700;
    private static final int RATE_PER_S = 80;
    /**
     * The kill comes once this many events are sent and some of them classified: mid-stream, with a
     * backlog. The producer holds the rest back until then, however slowly the instances start, and
     * sends for a second more before the kill, so that the victim's buffers are filling when it dies.
     */
    private static final int KILL_AFTER_SENT = 250, KILL_AFTER_CLASSIFIED = 50;
    /** A batch of 16 at about 13 events/s per partition fills in ~1.2 s, so a partial batch is nearly always buffered. */
    private static final int BATCH = 16, BATCH_WAIT_MS = 1000;
    private static final Pattern RESTORED = Pattern.compile("task 0_(\\d+): (\\d+) buffered records restored");
    /**
     * Longer than the default 100 ms, so that an instance nearly always has a transaction open (from a
     * batch's first output to the next commit) and the kill can land in one, as the test requires.
     */
    private static final int COMMIT_INTERVAL_MS = 2000;

    private final KafkaCluster kafka;

    ScalingIT(KafkaCluster kafka) {
        this.kafka = kafka;
    }

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void threeInstancesOneSigkilledMidStreamEveryEventClassifiedExactlyOnce() throws Exception {
        String run = Pipelines.unique();
        String app = "scale-" + run, input = "scale-in-" + run, output = "scale-out-" + run, dlq = "scale-dlq-" + run;
        kafka.createTopics(PARTITIONS, input);
        kafka.createTopics(3, output, dlq);
        List<Pipelines.Expected> expected = Pipelines.expected();
        String bootstrap = kafka.bootstrapServers();
        Path dir = Pipelines.WORK.resolve(app);

        List<AppProcess> instances = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                String name = "instance-" + i;
                Map<String, String> settings = AppProcess.settings(bootstrap, app, input, output, dlq,
                        dir.resolve(name + "-state"), name, BATCH, BATCH_WAIT_MS);
                settings.put("commit.interval.ms", Integer.toString(COMMIT_INTERVAL_MS));
                Path config = AppProcess.writeConfig(dir.resolve(name + ".properties"), settings);
                instances.add(AppProcess.start(name, config, dir.resolve(name + ".log")));
            }
            // All three in one stable group, every input partition owned, each instance with a share.
            Pipelines.await(Duration.ofSeconds(120), () -> {
                instances.forEach(AppProcess::assertAlive);
                Map<String, Set<Integer>> a = Pipelines.assignment(kafka.admin(), app, input);
                return a.size() == 3 && a.values().stream().allMatch(p -> !p.isEmpty())
                        && a.values().stream().mapToInt(Set::size).sum() == PARTITIONS;
            }, () -> "3 instances sharing " + PARTITIONS + " partitions; group: " + Pipelines.group(kafka.admin(), app));
            Map<String, Set<Integer>> before = Pipelines.assignment(kafka.admin(), app, input);
            AppProcess victim = instances.getFirst();
            Set<Integer> victimPartitions = partitionsOf(before, victim.name());
            System.out.printf("[tomestream-it] scaling: assignment before the kill %s%n", before);

            // A steady stream of events; the victim is killed once KILL_AFTER of them are classified.
            Map<String, Integer> partitionOf = new ConcurrentHashMap<>();
            Map<String, Long> sentAt = new ConcurrentHashMap<>();
            AtomicReference<Throwable> sendFailure = new AtomicReference<>();
            AtomicInteger sentCount = new AtomicInteger();
            CountDownLatch armed = new CountDownLatch(1);
            SingleObjectSerde<io.tomestream.schema.ImageEvent> serde = SingleObjectSerde.imageEvents();
            Thread producerThread = new Thread(() -> {
                try (KafkaProducer<String, byte[]> producer = Pipelines.producer(bootstrap)) {
                    long start = System.nanoTime();
                    for (int i = 0; i < EVENTS; i++) {
                        if (i == KILL_AFTER_SENT) {
                            if (!armed.await(120, TimeUnit.SECONDS)) throw new IllegalStateException("not armed within 120 s");
                            start = System.nanoTime() - TimeUnit.SECONDS.toNanos(i) / RATE_PER_S; // go on at the same rate
                        }
                        long due = start + TimeUnit.SECONDS.toNanos(i) / RATE_PER_S;
                        long wait = due - System.nanoTime();
                        if (wait > 0) Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                        String id = id(i);
                        sentAt.put(id, System.nanoTime());
                        producer.send(new ProducerRecord<>(input, id, serde.encode(Pipelines.event(id, Pipelines.image(i % Pipelines.IMAGES), "image/png"))),
                                (md, e) -> {
                                    if (e != null) sendFailure.compareAndSet(null, e);
                                    else partitionOf.put(id, md.partition());
                                });
                        sentCount.incrementAndGet();
                    }
                    producer.flush();
                } catch (Throwable t) {
                    sendFailure.compareAndSet(null, t);
                }
            }, "scaling-producer");

            long killedAt;
            Map<Integer, Integer> bufferedAtLastCommit;
            try (OutputWatcher watcher = new OutputWatcher(bootstrap, output)) {
                producerThread.start();
                Pipelines.await(Duration.ofSeconds(60), () -> {
                    instances.forEach(AppProcess::assertAlive);
                    return sentCount.get() >= KILL_AFTER_SENT && watcher.distinct() >= KILL_AFTER_CLASSIFIED;
                }, () -> KILL_AFTER_SENT + " sent and " + KILL_AFTER_CLASSIFIED + " classified before the kill, have "
                        + sentCount.get() + " and " + watcher.distinct());
                armed.countDown();
                Thread.sleep(1_000);
                // Killed inside a transaction: outputs sent, nothing committed yet.
                String victimTransactions = app + "-" + processId(dir.resolve(victim.name() + "-state"), app) + "-";
                String changelog = app + "-classify-buffer-changelog";
                Pipelines.await(Duration.ofSeconds(30), () -> bufferedAtLastCommit(bootstrap, changelog, victimPartitions).values().stream().anyMatch(n -> n > 0)
                                && transactionState(victimTransactions) == TransactionState.ONGOING,
                        () -> "the victim's buffer holding records and its transaction open; it is " + transactionState(victimTransactions));
                victim.kill(); // returns once the process is gone
                killedAt = System.nanoTime();
                bufferedAtLastCommit = bufferedAtLastCommit(bootstrap, changelog, victimPartitions);
                System.out.printf("[tomestream-it] scaling: the victim's buffers at its last commit, by partition: %s%n", bufferedAtLastCommit);
                int atKill = watcher.distinct(), sentAtKill = sentCount.get();
                System.out.printf("[tomestream-it] scaling: SIGKILLed %s (partitions %s) with %d sent and %d classified of %d%n",
                        victim, victimPartitions, sentAtKill, atKill, EVENTS);
                assertTrue(sentAtKill < EVENTS - 100, "the kill must come mid-stream, with events still to send");
                // The coordinator aborts it once producer.transaction.timeout.ms passes; had it been committed
                // between the check and the kill, it would stay COMPLETE_COMMIT.
                Pipelines.await(Duration.ofSeconds(60), () -> transactionState(victimTransactions) == TransactionState.COMPLETE_ABORT,
                        () -> "the victim's open transaction aborted; it is " + transactionState(victimTransactions));
                System.out.printf("[tomestream-it] scaling: the victim's transaction %s* was open at the kill, and the coordinator aborted it%n",
                        victimTransactions);

                producerThread.join(60_000);
                assertEquals(null, sendFailure.get());
                Pipelines.await(Duration.ofSeconds(120), () -> {
                    instances.subList(1, 3).forEach(AppProcess::assertAlive);
                    return watcher.distinct() >= EVENTS;
                }, () -> "all " + EVENTS + " classified after the kill, have " + watcher.distinct());
                System.out.printf("[tomestream-it] scaling: all %d classified %.1f s after the kill%n", EVENTS,
                        (System.nanoTime() - killedAt) / 1e9);
            }

            // Quiescent: the survivors have committed every input offset, and with it every output.
            Pipelines.await(Duration.ofSeconds(60), () -> Pipelines.committed(kafka.admin(), app, input) == EVENTS,
                    () -> "committed offsets " + Pipelines.committed(kafka.admin(), app, input) + " of " + EVENTS);
            List<ConsumerRecord<String, byte[]>> committed = Pipelines.readAll(bootstrap, output, true);
            Map<String, Integer> counts = Pipelines.countByKey(committed);
            Map<String, Integer> wrong = new HashMap<>();
            counts.forEach((k, n) -> {
                if (n != 1) wrong.put(k, n);
            });
            assertTrue(wrong.isEmpty(), "classified more than once: " + wrong);
            assertEquals(EVENTS, counts.size(), "every event classified");
            for (ConsumerRecord<String, byte[]> r : committed) {
                Classification c = SingleObjectSerde.classifications().decode(r.value());
                assertEquals(r.key(), c.getEventId());
                expected.get(index(r.key()) % Pipelines.IMAGES).assertMatches(c, r.key());
            }
            assertTrue(Pipelines.readAll(bootstrap, dlq, true).isEmpty(), "no dead letters");

            // The survivors own all six partitions, the victim's included.
            Map<String, Set<Integer>> after = Pipelines.assignment(kafka.admin(), app, input);
            System.out.printf("[tomestream-it] scaling: assignment after the kill %s%n", after);
            assertEquals(2, after.size(), "two members left: " + after);
            assertFalse(after.keySet().stream().anyMatch(c -> c.startsWith(victim.name() + "-")), "the victim is out of the group");
            Set<Integer> owned = new HashSet<>();
            after.values().forEach(owned::addAll);
            assertEquals(Set.of(0, 1, 2, 3, 4, 5), owned);
            // And they classified events of the victim's partitions that were sent after it died.
            long lateOnVictim = partitionOf.entrySet().stream()
                    .filter(e -> victimPartitions.contains(e.getValue()) && sentAt.get(e.getKey()) > killedAt).count();
            assertTrue(lateOnVictim > 0, "events sent to the victim's partitions after the kill");
            int uncommitted = Pipelines.readAll(bootstrap, output, false).size();
            System.out.printf("[tomestream-it] scaling: %d events on the victim's partitions sent after the kill, all classified; "
                    + "read_uncommitted sees %d output records (%d from aborted transactions), read_committed %d%n",
                    lateOnVictim, uncommitted, uncommitted - committed.size(), committed.size());
            Map<Integer, Integer> restored = new HashMap<>();
            for (int i = 1; i < 3; i++) restoredInLog(dir.resolve("instance-" + i + ".log"), restored);
            restored.keySet().retainAll(victimPartitions);
            System.out.printf("[tomestream-it] scaling: the survivors restored the victim's buffers from the changelog: %s records by partition%n", restored);
            bufferedAtLastCommit.values().removeIf(n -> n == 0);
            assertFalse(bufferedAtLastCommit.isEmpty(), "the victim had records in its batch buffer at its last commit");
            bufferedAtLastCommit.forEach((p, n) -> assertTrue(n < BATCH, "a partial batch in partition " + p + ": " + n + " of " + BATCH));
            assertEquals(bufferedAtLastCommit, restored, "the survivors restored what the victim had buffered");
            for (AppProcess p : instances.subList(1, 3)) assertEquals(AppProcess.EXIT_ON_SIGTERM, p.stop(), p + " stops on SIGTERM");
        } finally {
            instances.forEach(AppProcess::close);
        }
    }

    private static Set<Integer> partitionsOf(Map<String, Set<Integer>> assignment, String instance) {
        return assignment.entrySet().stream().filter(e -> e.getKey().startsWith(instance + "-"))
                .findFirst().map(Map.Entry::getValue).orElseThrow(() -> new AssertionError(instance + " not in " + assignment));
    }

    /** The live entries of the buffer's changelog in each of {@code partitions}, as read_committed restores them. */
    private static Map<Integer, Integer> bufferedAtLastCommit(String bootstrap, String changelog, Set<Integer> partitions) {
        java.util.Properties p = new java.util.Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("isolation.level", "read_committed");
        Map<Integer, Integer> live = new HashMap<>();
        try (org.apache.kafka.clients.consumer.KafkaConsumer<byte[], byte[]> consumer = new org.apache.kafka.clients.consumer.KafkaConsumer<>(p,
                new org.apache.kafka.common.serialization.ByteArrayDeserializer(), new org.apache.kafka.common.serialization.ByteArrayDeserializer())) {
            List<org.apache.kafka.common.TopicPartition> tps = partitions.stream().map(i -> new org.apache.kafka.common.TopicPartition(changelog, i)).toList();
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            Map<org.apache.kafka.common.TopicPartition, Long> end = consumer.endOffsets(tps, Duration.ofSeconds(30));
            Map<Integer, Map<String, Boolean>> keys = new HashMap<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (tps.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp)) && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(100))) {
                    keys.computeIfAbsent(r.partition(), k -> new HashMap<>()).put(java.util.HexFormat.of().formatHex(r.key()), r.value() != null);
                }
            }
            keys.forEach((partition, k) -> live.put(partition, (int) k.values().stream().filter(b -> b).count()));
        }
        return live;
    }

    /** Adds, by input partition, the buffered records an instance's log says it restored. */
    private static void restoredInLog(Path log, Map<Integer, Integer> byPartition) throws java.io.IOException {
        Matcher m = RESTORED.matcher(java.nio.file.Files.readString(log));
        while (m.find()) byPartition.merge(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer::sum);
    }

    /** Kafka Streams' process id, kept in the state directory; its transactional ids are {@code <app>-<processId>-<thread>}. */
    private static String processId(Path stateDir, String app) throws java.io.IOException {
        String metadata = java.nio.file.Files.readString(stateDir.resolve(app).resolve("kafka-streams-process-metadata"));
        Matcher m = Pattern.compile("\"processId\"\\s*:\\s*\"([^\"]+)\"").matcher(metadata);
        assertTrue(m.find(), "a process id in " + metadata);
        return m.group(1);
    }

    /** The state of the one transactional id that starts with {@code prefix}, or null while there is none. */
    private TransactionState transactionState(String prefix) {
        try {
            return kafka.admin().listTransactions().all().get(10, TimeUnit.SECONDS).stream()
                    .filter(t -> t.transactionalId().startsWith(prefix)).map(TransactionListing::state).findFirst().orElse(null);
        } catch (Exception e) {
            throw new AssertionError("listing transactions", e);
        }
    }

    private static String id(int i) {
        return String.format("evt-%04d", i);
    }

    private static int index(String id) {
        return Integer.parseInt(id.substring(4));
    }
}
