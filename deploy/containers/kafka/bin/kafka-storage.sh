#!/usr/bin/env bash
exec /opt/kafka/bin/java-main kafka.tools.StorageTool "$@"
