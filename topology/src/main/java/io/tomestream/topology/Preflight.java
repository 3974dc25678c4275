package io.tomestream.topology;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.streams.StreamsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.tomestream.config.Settings;

/**
 * Asks the cluster, before Kafka Streams starts, whether it accepts the app's credentials and lets it
 * see its three topics. Kafka Streams would otherwise treat an input topic that its ACLs hide like a
 * topic with no partitions: RUNNING, and classifying nothing, without a word. A refusal ends the app
 * with one line ({@link KafkaRefusal}); a cluster that does not answer is left to Kafka Streams, which
 * waits for it, since an outage is not a reason to stop.
 */
final class Preflight {
    private static final Logger log = LoggerFactory.getLogger(Preflight.class);
    private static final int TIMEOUT_MS = 30_000;

    private Preflight() {
    }

    static void check(Settings settings) {
        Map<String, Object> config = new StreamsConfig(settings.kafkaProperties()).getAdminConfigs(settings.applicationId() + "-preflight");
        config.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, TIMEOUT_MS);
        List<String> topics = List.of(settings.topicInput(), settings.topicOutput(), settings.topicDlq());
        try (Admin admin = Admin.create(config)) {
            Map<String, KafkaFuture<TopicDescription>> described = admin.describeTopics(topics).topicNameValues();
            List<String> denied = new ArrayList<>();
            for (String topic : topics) {
                try {
                    described.get(topic).get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof AuthorizationException) {
                        denied.add(topic);
                        continue;
                    }
                    KafkaRefusal refusal = KafkaRefusal.of(e.getCause());
                    if (refusal != null) throw refusal;
                    // A missing topic, say: Kafka Streams reports it in its own words.
                    log.warn("could not describe topic {}: {}", topic, e.getCause().toString());
                }
            }
            if (!denied.isEmpty()) throw KafkaRefusal.deniedTopics(denied);
        } catch (TimeoutException e) {
            log.warn("Kafka did not answer within {} ms; starting anyway, Kafka Streams waits for it", TIMEOUT_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
