#!/usr/bin/env bash
KAFKA_LOG_LEVEL=${KAFKA_LOG_LEVEL:-warn} KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx128m} exec /opt/kafka/bin/java-main org.apache.kafka.tools.consumer.ConsoleConsumer "$@"
